package tcp

import "github.com/shardnet/shardnet/wire"

// synWindow is the window a SYN-ACK advertises (never scaled).
func (s *Stack) synWindow() uint16 {
	if s.cfg.RecvBuf > 65535 {
		return 65535
	}
	return uint16(s.cfg.RecvBuf)
}

// sendCookieSynAck answers a SYN statelessly when the listener's backlog is
// full (RFC 4987 §3.6). See cookies.go for the encoding.
func (s *Stack) sendCookieSynAck(g *segment, now int64) {
	cfg := &s.cfg
	peerMSS := uint16(536)
	if g.opts.HasMSS {
		peerMSS = g.opts.MSS
	}
	if peerMSS > cfg.MSS {
		peerMSS = cfg.MSS
	}
	isn, _ := s.makeCookie(g.src, g.dport, g.sport, g.seq, peerMSS, now)
	var o wire.TCPOptions
	o.HasMSS, o.MSS = true, cfg.MSS
	if g.opts.HasTimestamps && !cfg.NoTimestamps {
		bits := uint32(cookieTSWScaleMask)
		if g.opts.HasWScale && !cfg.NoWindowScale {
			ws := g.opts.WScale
			if ws > 14 {
				ws = 14
			}
			bits = uint32(ws)
			o.HasWScale, o.WScale = true, s.rcvWscale
		}
		if g.opts.SACKPermitted && !cfg.NoSACK {
			bits |= cookieTSSack
			o.SACKPermitted = true
		}
		// Like Linux: never put the TSval ahead of the clock the
		// connection will use, or the peer's PAWS would reject us.
		ts := uint32(now/ms) + s.tsOffset(g.src, g.dport, g.sport)
		v := ts&^cookieTSBits | bits
		if int32(v-ts) > 0 {
			v -= cookieTSBits + 1
		}
		o.HasTimestamps, o.TSVal, o.TSEcr = true, v, g.opts.TSVal
	}
	s.stats.SynCookiesSent++
	s.sendRaw(g.src, g.dport, g.sport, isn, g.seq.Add(1), wire.TCPFlagSYN|wire.TCPFlagACK, s.synWindow(), &o, now)
}

// cookieAck completes a handshake whose SYN was answered with a cookie: if
// the ACK returns a valid cookie, the connection is created ESTABLISHED
// and the segment processed as in that state (it may carry data). It
// reports whether the segment was consumed.
func (s *Stack) cookieAck(l *listener, g *segment, now int64) bool {
	if g.has(wire.TCPFlagRST | wire.TCPFlagFIN) {
		return false
	}
	mss, ok := s.checkCookie(g.src, g.dport, g.sport, g.seq-1, g.ack-1, now)
	if !ok {
		return false
	}
	c := s.allocConn(g.src, g.sport, g.dport, l.h, now)
	if c == nil {
		s.drop(DropConnLimit)
		return true
	}
	cfg := &s.cfg
	s.stats.SynCookiesOK++
	s.stats.PassiveOpens++
	c.iss = g.ack - 1
	c.irs = g.seq - 1
	c.rcvNxt = g.seq
	c.rcvAdv = c.rcvNxt.Add(uint32(s.synWindow()))
	c.lastAckSent = c.rcvNxt
	c.peerMSS = mss
	c.tsOffset = s.tsOffset(g.src, g.dport, g.sport)
	if g.opts.HasTimestamps && !cfg.NoTimestamps {
		bits := g.opts.TSEcr & cookieTSBits
		c.tsOK = true
		c.tsRecent = g.opts.TSVal
		if ws := uint8(bits & cookieTSWScaleMask); ws != cookieTSWScaleMask {
			c.wsOK = true
			c.sndWscale = ws
			c.rcvWscale = s.rcvWscale
		}
		c.sackOK = bits&cookieTSSack != 0 && !cfg.NoSACK
	}
	c.sndUna, c.sndNxt, c.sndMax = g.ack, g.ack, g.ack
	c.snd.head = g.ack
	c.sndWnd = uint32(g.wnd) << c.sndWscale
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = g.seq, g.ack
	c.establish(now)
	if c.state != StateClosed {
		c.input(g, now)
	}
	return true
}
