package wire

import "encoding/binary"

// TCP (RFC 9293).
const TCPMinHeaderLen = 20

// Field offsets in a TCP header.
const (
	tcpSrcPort  = 0
	tcpDstPort  = 2
	tcpSeq      = 4
	tcpAck      = 8
	tcpDataOff  = 12
	tcpFlags    = 13
	tcpWindow   = 14
	tcpChecksum = 16
	tcpUrgent   = 18
)

// TCPFlags are the eight control bits of header byte 13.
type TCPFlags uint8

// The control bits (RFC 9293 §3.1; ECE and CWR from RFC 3168).
const (
	TCPFlagFIN TCPFlags = 0x01
	TCPFlagSYN TCPFlags = 0x02
	TCPFlagRST TCPFlags = 0x04
	TCPFlagPSH TCPFlags = 0x08
	TCPFlagACK TCPFlags = 0x10
	TCPFlagURG TCPFlags = 0x20
	TCPFlagECE TCPFlags = 0x40
	TCPFlagCWR TCPFlags = 0x80
)

var tcpFlagNames = [8]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

// Has reports whether every bit of g is set in f.
func (f TCPFlags) Has(g TCPFlags) bool { return f&g == g }

// String lists the set flags from the lowest bit up, e.g. "SYN|ACK", or
// "none". It allocates: for logs and tests, not the data path.
func (f TCPFlags) String() string {
	if f == 0 {
		return "none"
	}
	var b []byte
	for i, name := range tcpFlagNames {
		if f&(1<<i) != 0 {
			if len(b) > 0 {
				b = append(b, '|')
			}
			b = append(b, name...)
		}
	}
	return string(b)
}

// TCP is a view of a TCP segment, header and payload (the IPv4 payload,
// TotalLen-bounded). It aliases the caller's bytes. The checksum covers
// the whole slice.
type TCP []byte

// TCPFields are the fixed-header fields Encode writes.
type TCPFields struct {
	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            TCPFlags
	Window           uint16
	Urgent           uint16
	OptionsLen       int // bytes of options that follow; a multiple of 4, at most 40
}

// Check validates the segment's shape: at least 20 bytes
// (ErrTCPTruncated), a data offset of at least 5 whose header fits in the
// slice (ErrTCPDataOffset), and a well-formed option list (ErrTCPOptions;
// see ParseTCPOptions for the rules). The checksum is ChecksumValid's job.
// After it returns nil no accessor of t panics.
func (t TCP) Check() error {
	if len(t) < TCPMinHeaderLen {
		return ErrTCPTruncated
	}
	hl := int(t[tcpDataOff]>>4) * 4
	if hl < TCPMinHeaderLen || hl > len(t) {
		return ErrTCPDataOffset
	}
	if hl == TCPMinHeaderLen {
		return nil
	}
	return parseTCPOptions(t[TCPMinHeaderLen:hl], nil)
}

// SrcPort is the source port.
func (t TCP) SrcPort() uint16 { return binary.BigEndian.Uint16(t[tcpSrcPort:]) }

// DstPort is the destination port.
func (t TCP) DstPort() uint16 { return binary.BigEndian.Uint16(t[tcpDstPort:]) }

// Seq is the sequence number.
func (t TCP) Seq() Seq { return Seq(binary.BigEndian.Uint32(t[tcpSeq:])) }

// Ack is the acknowledgment number (meaningful when ACK is set).
func (t TCP) Ack() Seq { return Seq(binary.BigEndian.Uint32(t[tcpAck:])) }

// HeaderLen is the header length in bytes (data offset * 4), options
// included.
func (t TCP) HeaderLen() int { return int(t[tcpDataOff]>>4) * 4 }

// Flags are the control bits.
func (t TCP) Flags() TCPFlags { return TCPFlags(t[tcpFlags]) }

// Window is the unscaled receive window field.
func (t TCP) Window() uint16 { return binary.BigEndian.Uint16(t[tcpWindow:]) }

// Checksum is the checksum field as stored.
func (t TCP) Checksum() uint16 { return binary.BigEndian.Uint16(t[tcpChecksum:]) }

// Urgent is the urgent pointer.
func (t TCP) Urgent() uint16 { return binary.BigEndian.Uint16(t[tcpUrgent:]) }

// Options are the raw option bytes (empty when the data offset is 5); see
// ParseTCPOptions.
func (t TCP) Options() []byte { return t[TCPMinHeaderLen:t.HeaderLen()] }

// Payload is the data after the header.
func (t TCP) Payload() []byte { return t[t.HeaderLen():] }

// SetSrcPort sets the source port.
func (t TCP) SetSrcPort(p uint16) { binary.BigEndian.PutUint16(t[tcpSrcPort:], p) }

// SetDstPort sets the destination port.
func (t TCP) SetDstPort(p uint16) { binary.BigEndian.PutUint16(t[tcpDstPort:], p) }

// SetSeq sets the sequence number.
func (t TCP) SetSeq(s Seq) { binary.BigEndian.PutUint32(t[tcpSeq:], uint32(s)) }

// SetAck sets the acknowledgment number.
func (t TCP) SetAck(s Seq) { binary.BigEndian.PutUint32(t[tcpAck:], uint32(s)) }

// SetFlags sets the control bits.
func (t TCP) SetFlags(f TCPFlags) { t[tcpFlags] = uint8(f) }

// SetWindow sets the window field.
func (t TCP) SetWindow(w uint16) { binary.BigEndian.PutUint16(t[tcpWindow:], w) }

// SetChecksum sets the checksum field.
func (t TCP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(t[tcpChecksum:], c) }

// SetUrgent sets the urgent pointer.
func (t TCP) SetUrgent(u uint16) { binary.BigEndian.PutUint16(t[tcpUrgent:], u) }

// Encode writes the 20-byte fixed header: data offset (20+OptionsLen)/4,
// reserved bits zero, checksum zero. The caller writes the options at
// t[TCPMinHeaderLen:] (EncodeTCPOptions) and the payload, then calls
// SetChecksum(ComputeChecksum(src, dst)). t must be at least
// TCPMinHeaderLen bytes long.
func (t TCP) Encode(f *TCPFields) {
	_ = t[TCPMinHeaderLen-1]
	binary.BigEndian.PutUint16(t[tcpSrcPort:], f.SrcPort)
	binary.BigEndian.PutUint16(t[tcpDstPort:], f.DstPort)
	binary.BigEndian.PutUint32(t[tcpSeq:], uint32(f.Seq))
	binary.BigEndian.PutUint32(t[tcpAck:], uint32(f.Ack))
	t[tcpDataOff] = uint8((TCPMinHeaderLen+f.OptionsLen)/4) << 4
	t[tcpFlags] = uint8(f.Flags)
	binary.BigEndian.PutUint16(t[tcpWindow:], f.Window)
	t[tcpChecksum] = 0
	t[tcpChecksum+1] = 0
	binary.BigEndian.PutUint16(t[tcpUrgent:], f.Urgent)
}

// ComputeChecksum is the checksum over the IPv4 pseudo-header (src, dst,
// ProtoTCP, len(t)) and the whole slice, with the checksum field taken as
// zero: the value SetChecksum should store. len(t) must fit in 16 bits, as
// it always does inside an IPv4 datagram.
func (t TCP) ComputeChecksum(src, dst [4]byte) uint16 {
	s := PseudoHeaderSum(src, dst, ProtoTCP, uint16(len(t)))
	return Checksum(t[tcpUrgent:], Sum(t[:tcpChecksum], s))
}

// ChecksumValid reports whether the stored checksum is right for a segment
// from src to dst.
func (t TCP) ChecksumValid(src, dst [4]byte) bool {
	return Fold(Sum(t, PseudoHeaderSum(src, dst, ProtoTCP, uint16(len(t))))) == 0xffff
}
