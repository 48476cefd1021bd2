package wire

import "encoding/binary"

// IPv4 (RFC 791).
const (
	IPv4MinHeaderLen = 20

	ProtoICMP = 1
	ProtoTCP  = 6
	ProtoUDP  = 17

	// Flags as returned by IPv4.Flags (the top three bits of the
	// flags/fragment-offset word, shifted down).
	IPv4FlagDF = 0x2 // don't fragment
	IPv4FlagMF = 0x1 // more fragments
)

// Field offsets in an IPv4 header.
const (
	ipVerIHL   = 0
	ipTOS      = 1
	ipTotalLen = 2
	ipID       = 4
	ipFragment = 6
	ipTTL      = 8
	ipProto    = 9
	ipChecksum = 10
	ipSrc      = 12
	ipDst      = 16

	ipMFBit      = 0x2000 // MF in the flags/fragment word
	ipOffsetMask = 0x1fff // fragment offset (8-byte units) in the word
)

// IPv4 is a view of an IPv4 datagram, starting at the header. It aliases
// the caller's bytes. The slice may run past TotalLen (link padding);
// Payload stops at TotalLen.
type IPv4 []byte

// IPv4Fields are the fields Encode writes into a 20-byte header (version 4,
// IHL 5, no options).
type IPv4Fields struct {
	TOS        uint8
	TotalLen   uint16
	ID         uint16
	Flags      uint8  // IPv4FlagDF, IPv4FlagMF (3 bits)
	FragOffset uint16 // in bytes; a multiple of 8
	TTL        uint8
	Protocol   uint8
	Src, Dst   [4]byte
}

// Check validates the header's shape (RFC 1122 §3.2.1.1-2 minus the
// checksum, which is HeaderChecksumValid's job): at least 20 bytes
// (ErrIPv4Truncated), version 4 (ErrIPv4Version), IHL at least 5 and the
// header inside the slice (ErrIPv4HeaderLen), and TotalLen covering the
// header and inside the slice (ErrIPv4TotalLen). Options are skipped, not
// parsed. After it returns nil no accessor of ip panics.
func (ip IPv4) Check() error {
	if len(ip) < IPv4MinHeaderLen {
		return ErrIPv4Truncated
	}
	if ip[ipVerIHL]>>4 != 4 {
		return ErrIPv4Version
	}
	hl := int(ip[ipVerIHL]&0xf) * 4
	if hl < IPv4MinHeaderLen || hl > len(ip) {
		return ErrIPv4HeaderLen
	}
	if tl := int(binary.BigEndian.Uint16(ip[ipTotalLen:])); tl < hl || tl > len(ip) {
		return ErrIPv4TotalLen
	}
	return nil
}

// Version is the version field (4 after a successful Check).
func (ip IPv4) Version() uint8 { return ip[ipVerIHL] >> 4 }

// HeaderLen is the header length in bytes (IHL*4), options included.
func (ip IPv4) HeaderLen() int { return int(ip[ipVerIHL]&0xf) * 4 }

// TOS is the type-of-service byte (DSCP and ECN).
func (ip IPv4) TOS() uint8 { return ip[ipTOS] }

// TotalLen is the datagram length, header included.
func (ip IPv4) TotalLen() uint16 { return binary.BigEndian.Uint16(ip[ipTotalLen:]) }

// ID is the identification field.
func (ip IPv4) ID() uint16 { return binary.BigEndian.Uint16(ip[ipID:]) }

// Flags are the three flag bits (IPv4FlagDF, IPv4FlagMF; 0x4 is reserved).
func (ip IPv4) Flags() uint8 { return ip[ipFragment] >> 5 }

// FragOffset is the fragment offset in bytes.
func (ip IPv4) FragOffset() uint16 {
	return (binary.BigEndian.Uint16(ip[ipFragment:]) & ipOffsetMask) * 8
}

// IsFragment reports whether the datagram is a fragment: MF set or a
// nonzero offset.
func (ip IPv4) IsFragment() bool {
	return binary.BigEndian.Uint16(ip[ipFragment:])&(ipMFBit|ipOffsetMask) != 0
}

// TTL is the time-to-live.
func (ip IPv4) TTL() uint8 { return ip[ipTTL] }

// Protocol is the payload's protocol number (ProtoTCP, ...).
func (ip IPv4) Protocol() uint8 { return ip[ipProto] }

// Checksum is the header checksum field as stored.
func (ip IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(ip[ipChecksum:]) }

// Src is the source address.
func (ip IPv4) Src() [4]byte { return [4]byte(ip[ipSrc:ipDst]) }

// Dst is the destination address.
func (ip IPv4) Dst() [4]byte { return [4]byte(ip[ipDst:IPv4MinHeaderLen]) }

// Options are the header bytes after the fixed 20, unparsed (empty when
// IHL is 5).
func (ip IPv4) Options() []byte { return ip[IPv4MinHeaderLen:ip.HeaderLen()] }

// Payload is the bytes from the end of the header to TotalLen; link
// padding after TotalLen is excluded.
func (ip IPv4) Payload() []byte { return ip[ip.HeaderLen():ip.TotalLen()] }

// SetTTL sets the time-to-live (the checksum is not updated).
func (ip IPv4) SetTTL(ttl uint8) { ip[ipTTL] = ttl }

// SetChecksum sets the header checksum field.
func (ip IPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(ip[ipChecksum:], c) }

// SetSrc sets the source address (the checksum is not updated).
func (ip IPv4) SetSrc(a [4]byte) { copy(ip[ipSrc:ipDst], a[:]) }

// SetDst sets the destination address (the checksum is not updated).
func (ip IPv4) SetDst(a [4]byte) { copy(ip[ipDst:IPv4MinHeaderLen], a[:]) }

// SetTotalLen sets the total length (the checksum is not updated). A value
// beyond len(ip) voids the Check promise for Payload.
func (ip IPv4) SetTotalLen(n uint16) { binary.BigEndian.PutUint16(ip[ipTotalLen:], n) }

// ComputeHeaderChecksum is the checksum of the HeaderLen header bytes with
// the checksum field taken as zero: the value SetChecksum should store.
// Needs a successful Check (or at least a header inside the slice).
func (ip IPv4) ComputeHeaderChecksum() uint16 {
	hl := ip.HeaderLen()
	return Checksum(ip[ipSrc:hl], Sum(ip[:ipChecksum], 0))
}

// HeaderChecksumValid reports whether the stored header checksum is right.
// Needs a successful Check (or at least a header inside the slice).
func (ip IPv4) HeaderChecksumValid() bool {
	return Fold(Sum(ip[:ip.HeaderLen()], 0)) == 0xffff
}

// Encode writes a 20-byte header (version 4, IHL 5) with its checksum. ip
// must be at least IPv4MinHeaderLen bytes long.
func (ip IPv4) Encode(f *IPv4Fields) {
	_ = ip[IPv4MinHeaderLen-1]
	ip[ipVerIHL] = 4<<4 | IPv4MinHeaderLen/4
	ip[ipTOS] = f.TOS
	binary.BigEndian.PutUint16(ip[ipTotalLen:], f.TotalLen)
	binary.BigEndian.PutUint16(ip[ipID:], f.ID)
	binary.BigEndian.PutUint16(ip[ipFragment:], uint16(f.Flags&7)<<13|(f.FragOffset/8)&ipOffsetMask)
	ip[ipTTL] = f.TTL
	ip[ipProto] = f.Protocol
	ip[ipChecksum] = 0
	ip[ipChecksum+1] = 0
	copy(ip[ipSrc:ipDst], f.Src[:])
	copy(ip[ipDst:IPv4MinHeaderLen], f.Dst[:])
	ip.SetChecksum(Checksum(ip[:IPv4MinHeaderLen], 0))
}
