package tcp

import "github.com/shardnet/shardnet/wire"

// SYN cookies (RFC 4987 §3.6), used when a listener's SYN backlog is full:
// the SYN-ACK's sequence number encodes what the connection needs, so no
// state is kept until the peer's ACK returns it.
//
// Layout of the cookie (our ISN):
//
//	bits 31..27  t mod 32, t = now / 64 s (a cookie is valid for t and t-1)
//	bits 26..24  index into cookieMSS of the MSS we accept
//	bits 23..0   SipHash(4-tuple, client ISN, t) (low 24 bits)
//
// When the SYN carried timestamps, our TSval's low 6 bits carry what the
// cookie cannot, as Linux does: bits 0..3 the peer's window scale (0xf: none),
// bit 4 SACK permitted. Without timestamps, a cookie connection has no
// window scaling and no SACK (documented loss, as in Linux).

const cookiePeriod = 64e9 // nanoseconds per cookie counter tick

var cookieMSS = [8]uint16{536, 1200, 1300, 1360, 1400, 1440, 1460, 8960}

func (s *Stack) cookieHash(raddr [4]byte, lport, rport uint16, clientISN wire.Seq, t uint32) uint32 {
	var m [3]uint64
	tupleWords(&m, s.cfg.Addr, raddr, lport, rport)
	m[2] = uint64(clientISN) | uint64(t)<<32
	return uint32(sipHash24(s.key1, s.key0, m[:], 24))
}

// makeCookie returns the ISN for a cookie SYN-ACK and the MSS it encodes.
func (s *Stack) makeCookie(raddr [4]byte, lport, rport uint16, clientISN wire.Seq, peerMSS uint16, now int64) (wire.Seq, uint16) {
	idx := 0
	for i := len(cookieMSS) - 1; i >= 0; i-- {
		if cookieMSS[i] <= peerMSS {
			idx = i
			break
		}
	}
	t := uint32(now / cookiePeriod)
	h := s.cookieHash(raddr, lport, rport, clientISN, t)
	c := (t&0x1f)<<27 | uint32(idx)<<24 | h&0xffffff
	return wire.Seq(c), cookieMSS[idx]
}

// checkCookie validates the cookie an ACK returns (ack-1) and returns the
// MSS it encodes.
func (s *Stack) checkCookie(raddr [4]byte, lport, rport uint16, clientISN, cookie wire.Seq, now int64) (uint16, bool) {
	c := uint32(cookie)
	tl := c >> 27
	cur := uint32(now / cookiePeriod)
	var t uint32
	switch {
	case cur&0x1f == tl:
		t = cur
	case (cur-1)&0x1f == tl && cur > 0:
		t = cur - 1
	default:
		return 0, false
	}
	if s.cookieHash(raddr, lport, rport, clientISN, t)&0xffffff != c&0xffffff {
		return 0, false
	}
	return cookieMSS[(c>>24)&7], true
}

// Timestamp option bits carried in a cookie SYN-ACK's TSval.
const (
	cookieTSWScaleMask = 0x0f
	cookieTSSack       = 0x10
	cookieTSBits       = 0x3f
)
