package wire

import "encoding/binary"

// TCP option kinds (IANA "TCP Option Kind Numbers").
const (
	tcpOptEOL       = 0 // RFC 9293
	tcpOptNOP       = 1 // RFC 9293
	tcpOptMSS       = 2 // RFC 9293, length 4
	tcpOptWScale    = 3 // RFC 7323, length 3
	tcpOptSACKPerm  = 4 // RFC 2018, length 2
	tcpOptSACK      = 5 // RFC 2018, length 2+8n
	tcpOptTimestamp = 8 // RFC 7323, length 10

	tcpOptLenMSS       = 4
	tcpOptLenWScale    = 3
	tcpOptLenSACKPerm  = 2
	tcpOptLenTimestamp = 10

	// MaxTCPOptionsLen is the most option bytes a header can carry
	// (data offset 15).
	MaxTCPOptionsLen = 40
	// MaxSACKBlocks is the most SACK blocks one option can carry.
	MaxSACKBlocks = 4
)

// SACKBlock is one block of a SACK option: the bytes [Start, End) were
// received.
type SACKBlock struct{ Start, End Seq }

// TCPOptions is the parsed form of the options this stack acts on. Has*
// say which were present; values of absent options are zero. Unknown
// options are validated for shape and otherwise ignored.
type TCPOptions struct {
	MSS           uint16
	HasMSS        bool
	WScale        uint8 // the shift as sent; RFC 7323 caps its use at 14, this package does not
	HasWScale     bool
	SACKPermitted bool
	HasTimestamps bool
	TSVal, TSEcr  uint32
	SACK          [MaxSACKBlocks]SACKBlock
	NumSACK       int // blocks used in SACK, 0..4
}

// ParseTCPOptions zeroes o and fills it from the option bytes opts (a TCP
// header's Options), without allocating. The rules, which TCP.Check
// applies too: EOL ends the list (what follows is padding and is not
// looked at); NOP is one byte; every other option has a length byte of at
// least 2 and must end inside opts; MSS must have length 4, window scale 3,
// SACK-permitted 2, timestamps 10, and SACK 2+8n with n from 1 to 4.
// Unknown kinds only need a valid length. Anything else returns
// ErrTCPOptions and leaves o zero. If an option appears twice, the last one
// wins. Options that belong only on SYN segments are accepted anywhere; it
// is the TCP layer's job to ignore them.
func ParseTCPOptions(opts []byte, o *TCPOptions) error {
	*o = TCPOptions{}
	if err := parseTCPOptions(opts, o); err != nil {
		*o = TCPOptions{}
		return err
	}
	return nil
}

// parseTCPOptions walks and validates opts, filling o unless it is nil.
func parseTCPOptions(b []byte, o *TCPOptions) error {
	for i := 0; i < len(b); {
		kind := b[i]
		if kind == tcpOptEOL {
			return nil
		}
		if kind == tcpOptNOP {
			i++
			continue
		}
		if i+1 >= len(b) {
			return ErrTCPOptions // no room for the length byte
		}
		n := int(b[i+1])
		if n < 2 || n > len(b)-i {
			return ErrTCPOptions
		}
		v := b[i+2 : i+n]
		switch kind {
		case tcpOptMSS:
			if n != tcpOptLenMSS {
				return ErrTCPOptions
			}
			if o != nil {
				o.MSS = binary.BigEndian.Uint16(v)
				o.HasMSS = true
			}
		case tcpOptWScale:
			if n != tcpOptLenWScale {
				return ErrTCPOptions
			}
			if o != nil {
				o.WScale = v[0]
				o.HasWScale = true
			}
		case tcpOptSACKPerm:
			if n != tcpOptLenSACKPerm {
				return ErrTCPOptions
			}
			if o != nil {
				o.SACKPermitted = true
			}
		case tcpOptSACK:
			if n < 2+8 || n > 2+8*MaxSACKBlocks || (n-2)%8 != 0 {
				return ErrTCPOptions
			}
			if o != nil {
				o.NumSACK = (n - 2) / 8
				o.SACK = [MaxSACKBlocks]SACKBlock{}
				for k := range o.NumSACK {
					o.SACK[k] = SACKBlock{
						Start: Seq(binary.BigEndian.Uint32(v[8*k:])),
						End:   Seq(binary.BigEndian.Uint32(v[8*k+4:])),
					}
				}
			}
		case tcpOptTimestamp:
			if n != tcpOptLenTimestamp {
				return ErrTCPOptions
			}
			if o != nil {
				o.TSVal = binary.BigEndian.Uint32(v)
				o.TSEcr = binary.BigEndian.Uint32(v[4:])
				o.HasTimestamps = true
			}
		}
		i += n
	}
	return nil
}

// layout is how EncodeTCPOptions lays o out: the bytes before the SACK
// option, and how many SACK blocks fit after them.
func (o *TCPOptions) layout() (fixed, nsack int) {
	if o.HasMSS {
		fixed += 4
	}
	if o.HasTimestamps {
		fixed += 12
	} else if o.SACKPermitted {
		fixed += 4
	}
	if o.HasWScale {
		fixed += 4
	}
	nsack = min(max(o.NumSACK, 0), MaxSACKBlocks, (MaxTCPOptionsLen-fixed-4)/8)
	return fixed, nsack
}

// EncodedLen is the number of bytes EncodeTCPOptions writes for o: a
// multiple of 4, at most MaxTCPOptionsLen.
func (o *TCPOptions) EncodedLen() int {
	fixed, nsack := o.layout()
	if nsack > 0 {
		return fixed + 4 + 8*nsack
	}
	return fixed
}

// EncodeTCPOptions writes the options o has into b the way Linux lays them
// out, each group padded with NOPs to 4 bytes so the whole is a multiple of
// 4 and needs no trailing EOL:
//
//	MSS                  02 04 mss
//	SACK-permitted + TS  04 02 08 0a tsval tsecr   (TS alone: 01 01 08 0a ...)
//	SACK-permitted alone 01 01 04 02
//	window scale         01 03 03 shift
//	SACK blocks          01 01 05 len blocks...
//
// It returns the bytes written, EncodedLen(). Only SACK blocks can fail to
// fit in MaxTCPOptionsLen: blocks are kept from SACK[0] (the most recent,
// RFC 2018 §4) up to as many as fit, and the rest are not sent: 4 blocks
// fit alone or beside one of MSS, window scale and SACK-permitted; 3 beside
// two or three of those, or beside timestamps (with or without
// SACK-permitted); 2 beside timestamps and MSS or window scale. b must have
// room for EncodedLen() bytes.
func EncodeTCPOptions(b []byte, o *TCPOptions) int {
	fixed, nsack := o.layout()
	total := fixed
	if nsack > 0 {
		total += 4 + 8*nsack
	}
	if total == 0 {
		return 0
	}
	b = b[:total]
	i := 0
	if o.HasMSS {
		b[i], b[i+1] = tcpOptMSS, tcpOptLenMSS
		binary.BigEndian.PutUint16(b[i+2:], o.MSS)
		i += 4
	}
	if o.HasTimestamps {
		if o.SACKPermitted {
			b[i], b[i+1] = tcpOptSACKPerm, tcpOptLenSACKPerm
		} else {
			b[i], b[i+1] = tcpOptNOP, tcpOptNOP
		}
		b[i+2], b[i+3] = tcpOptTimestamp, tcpOptLenTimestamp
		binary.BigEndian.PutUint32(b[i+4:], o.TSVal)
		binary.BigEndian.PutUint32(b[i+8:], o.TSEcr)
		i += 12
	} else if o.SACKPermitted {
		b[i], b[i+1], b[i+2], b[i+3] = tcpOptNOP, tcpOptNOP, tcpOptSACKPerm, tcpOptLenSACKPerm
		i += 4
	}
	if o.HasWScale {
		b[i], b[i+1], b[i+2], b[i+3] = tcpOptNOP, tcpOptWScale, tcpOptLenWScale, o.WScale
		i += 4
	}
	if nsack > 0 {
		b[i], b[i+1], b[i+2], b[i+3] = tcpOptNOP, tcpOptNOP, tcpOptSACK, byte(2+8*nsack)
		i += 4
		for k := range nsack {
			binary.BigEndian.PutUint32(b[i:], uint32(o.SACK[k].Start))
			binary.BigEndian.PutUint32(b[i+4:], uint32(o.SACK[k].End))
			i += 8
		}
	}
	return i
}
