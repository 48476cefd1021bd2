package wire

import "encoding/binary"

// ARP for IPv4 over Ethernet (RFC 826). Other hardware or protocol types
// are rejected by Check.
const (
	ARPLen = 28

	ARPRequest = 1
	ARPReply   = 2
)

// Field offsets in an Ethernet/IPv4 ARP packet.
const (
	arpHType = 0
	arpPType = 2
	arpHLen  = 4
	arpPLen  = 5
	arpOp    = 6
	arpSHA   = 8
	arpSPA   = 14
	arpTHA   = 18
	arpTPA   = 24

	arpHTypeEthernet = 1
)

// ARP is a view of an Ethernet/IPv4 ARP packet (the Ethernet payload). It
// aliases the caller's bytes.
type ARP []byte

// ARPFields are the fields Encode writes; the hardware and protocol types
// and lengths are implied (Ethernet, IPv4).
type ARPFields struct {
	Op       uint16
	SenderHW [6]byte
	SenderIP [4]byte
	TargetHW [6]byte
	TargetIP [4]byte
}

// Check reports whether a is a well-formed Ethernet/IPv4 request or reply;
// after it returns nil no accessor of a panics. Bytes beyond ARPLen (link
// padding) are ignored.
func (a ARP) Check() error {
	switch {
	case len(a) < ARPLen:
		return ErrARPTruncated
	case binary.BigEndian.Uint16(a[arpHType:]) != arpHTypeEthernet:
		return ErrARPHardwareType
	case binary.BigEndian.Uint16(a[arpPType:]) != EtherTypeIPv4:
		return ErrARPProtocolType
	case a[arpHLen] != 6 || a[arpPLen] != 4:
		return ErrARPAddrLen
	}
	if op := binary.BigEndian.Uint16(a[arpOp:]); op != ARPRequest && op != ARPReply {
		return ErrARPOp
	}
	return nil
}

// Op is the operation, ARPRequest or ARPReply.
func (a ARP) Op() uint16 { return binary.BigEndian.Uint16(a[arpOp:]) }

// SenderHW is the sender's hardware (MAC) address.
func (a ARP) SenderHW() [6]byte { return [6]byte(a[arpSHA:arpSPA]) }

// SenderIP is the sender's protocol (IPv4) address.
func (a ARP) SenderIP() [4]byte { return [4]byte(a[arpSPA:arpTHA]) }

// TargetHW is the target's hardware address (zero in a request).
func (a ARP) TargetHW() [6]byte { return [6]byte(a[arpTHA:arpTPA]) }

// TargetIP is the target's protocol address.
func (a ARP) TargetIP() [4]byte { return [4]byte(a[arpTPA:ARPLen]) }

// Encode writes all ARPLen bytes: Ethernet/IPv4 types and lengths and the
// given fields. a must be at least ARPLen bytes long.
func (a ARP) Encode(f *ARPFields) {
	_ = a[ARPLen-1]
	binary.BigEndian.PutUint16(a[arpHType:], arpHTypeEthernet)
	binary.BigEndian.PutUint16(a[arpPType:], EtherTypeIPv4)
	a[arpHLen] = 6
	a[arpPLen] = 4
	binary.BigEndian.PutUint16(a[arpOp:], f.Op)
	copy(a[arpSHA:arpSPA], f.SenderHW[:])
	copy(a[arpSPA:arpTHA], f.SenderIP[:])
	copy(a[arpTHA:arpTPA], f.TargetHW[:])
	copy(a[arpTPA:ARPLen], f.TargetIP[:])
}
