package wire

import "encoding/binary"

// ICMP for IPv4 (RFC 792).
const (
	ICMPv4HeaderLen = 8

	ICMPEchoReply       = 0
	ICMPDestUnreachable = 3
	ICMPEchoRequest     = 8
	ICMPTimeExceeded    = 11
)

// Field offsets in an ICMPv4 header.
const (
	icmpType     = 0
	icmpCode     = 1
	icmpChecksum = 2
	icmpID       = 4 // echo identifier; "rest of header" for other types
	icmpSeq      = 6 // echo sequence number
)

// ICMPv4 is a view of an ICMPv4 message (the IPv4 payload, TotalLen-bounded)
// starting at the type byte. It aliases the caller's bytes. The checksum
// covers the whole slice.
type ICMPv4 []byte

// ICMPv4Fields are the fields Encode writes. ID and Seq fill the second
// header word ("rest of header"), as echo messages use it.
type ICMPv4Fields struct {
	Type, Code uint8
	ID, Seq    uint16
}

// Check reports whether i holds a whole 8-byte header; after it returns nil
// no accessor of i panics. It does not judge the type, code or checksum.
func (i ICMPv4) Check() error {
	if len(i) < ICMPv4HeaderLen {
		return ErrICMPv4Truncated
	}
	return nil
}

// Type is the message type (ICMPEchoRequest, ...).
func (i ICMPv4) Type() uint8 { return i[icmpType] }

// Code is the message code.
func (i ICMPv4) Code() uint8 { return i[icmpCode] }

// Checksum is the checksum field as stored.
func (i ICMPv4) Checksum() uint16 { return binary.BigEndian.Uint16(i[icmpChecksum:]) }

// ID is the echo identifier (bytes 4-5).
func (i ICMPv4) ID() uint16 { return binary.BigEndian.Uint16(i[icmpID:]) }

// Seq is the echo sequence number (bytes 6-7).
func (i ICMPv4) Seq() uint16 { return binary.BigEndian.Uint16(i[icmpSeq:]) }

// Payload is everything after the 8-byte header.
func (i ICMPv4) Payload() []byte { return i[ICMPv4HeaderLen:] }

// SetType sets the message type (the checksum is not updated).
func (i ICMPv4) SetType(t uint8) { i[icmpType] = t }

// SetCode sets the message code (the checksum is not updated).
func (i ICMPv4) SetCode(c uint8) { i[icmpCode] = c }

// SetChecksum sets the checksum field.
func (i ICMPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(i[icmpChecksum:], c) }

// ChecksumValid reports whether the checksum over the whole slice is right.
func (i ICMPv4) ChecksumValid() bool { return Fold(Sum(i, 0)) == 0xffff }

// ComputeChecksum is the checksum over the whole slice with the checksum
// field taken as zero: the value SetChecksum should store.
func (i ICMPv4) ComputeChecksum() uint16 {
	return Checksum(i[icmpID:], Sum(i[:icmpChecksum], 0))
}

// Encode writes the 8-byte header with a zero checksum; the caller fills
// the payload and then calls SetChecksum(ComputeChecksum()). i must be at
// least ICMPv4HeaderLen bytes long.
func (i ICMPv4) Encode(f *ICMPv4Fields) {
	_ = i[ICMPv4HeaderLen-1]
	i[icmpType] = f.Type
	i[icmpCode] = f.Code
	i[icmpChecksum] = 0
	i[icmpChecksum+1] = 0
	binary.BigEndian.PutUint16(i[icmpID:], f.ID)
	binary.BigEndian.PutUint16(i[icmpSeq:], f.Seq)
}
