package wire

import "encoding/binary"

// Ethernet II framing (IEEE 802.3 with an EtherType, RFC 894).
const (
	EthernetHeaderLen = 14

	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86DD
	EtherTypeVLAN = 0x8100
)

// Field offsets in an Ethernet header.
const (
	ethDst  = 0
	ethSrc  = 6
	ethType = 12
)

// BroadcastMAC is the all-ones link-layer broadcast address.
var BroadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Ethernet is a view of an Ethernet II frame, starting at the destination
// address (no preamble, no FCS). It aliases the caller's bytes.
type Ethernet []byte

// EthernetFields are the header fields Encode writes.
type EthernetFields struct {
	Dst, Src  [6]byte
	EtherType uint16
}

// Check reports whether e holds a whole Ethernet header; after it returns
// nil no accessor of e panics. It does not look at the EtherType.
func (e Ethernet) Check() error {
	if len(e) < EthernetHeaderLen {
		return ErrEthernetTruncated
	}
	return nil
}

// Dst is the destination MAC address.
func (e Ethernet) Dst() [6]byte { return [6]byte(e[ethDst:ethSrc]) }

// Src is the source MAC address.
func (e Ethernet) Src() [6]byte { return [6]byte(e[ethSrc:ethType]) }

// EtherType is the type of the payload (EtherTypeIPv4, ...).
func (e Ethernet) EtherType() uint16 { return binary.BigEndian.Uint16(e[ethType:]) }

// Payload is everything after the header, link padding included.
func (e Ethernet) Payload() []byte { return e[EthernetHeaderLen:] }

// SetDst sets the destination MAC address.
func (e Ethernet) SetDst(m [6]byte) { copy(e[ethDst:ethSrc], m[:]) }

// SetSrc sets the source MAC address.
func (e Ethernet) SetSrc(m [6]byte) { copy(e[ethSrc:ethType], m[:]) }

// SetEtherType sets the payload type.
func (e Ethernet) SetEtherType(t uint16) { binary.BigEndian.PutUint16(e[ethType:], t) }

// Encode writes the 14-byte header. e must be at least EthernetHeaderLen
// bytes long.
func (e Ethernet) Encode(f *EthernetFields) {
	_ = e[EthernetHeaderLen-1]
	copy(e[ethDst:ethSrc], f.Dst[:])
	copy(e[ethSrc:ethType], f.Src[:])
	binary.BigEndian.PutUint16(e[ethType:], f.EtherType)
}

// IsMulticastMAC reports whether m is a group address (the I/G bit, the
// least significant bit of the first byte). Broadcast is multicast too.
func IsMulticastMAC(m [6]byte) bool { return m[0]&1 != 0 }

// IsBroadcastMAC reports whether m is ff:ff:ff:ff:ff:ff.
func IsBroadcastMAC(m [6]byte) bool { return m == BroadcastMAC }
