package tcp

import (
	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/wire"
)

// segment is a received segment after validation: header fields, parsed
// options and the payload (a slice of the packet, trimmed to the window as
// processing goes). One lives in the Stack and is reused for every
// segment, so parsing allocates nothing.
type segment struct {
	p            *buf.Packet
	src          [4]byte
	sport, dport uint16
	seq, ack     wire.Seq
	flags        wire.TCPFlags
	wnd          uint16
	off          int    // offset of payload within p.Data()
	payload      []byte // the segment text, trimmed to the window
	opts         wire.TCPOptions
	held         bool // p is now owned by a reassembly queue
}

func (g *segment) has(f wire.TCPFlags) bool { return g.flags&f != 0 }

// len is SEG.LEN: payload octets plus one for SYN and one for FIN.
func (g *segment) len() uint32 {
	n := uint32(len(g.payload))
	if g.has(wire.TCPFlagSYN) {
		n++
	}
	if g.has(wire.TCPFlagFIN) {
		n++
	}
	return n
}

// Deliver is the IP layer's hand-off (ip.Protocol): p.Data() is a TCP
// segment from src to dst. Deliver owns p. If p.Meta.CsumVerified is set
// the checksum is not checked again.
func (s *Stack) Deliver(p *buf.Packet, src, dst [4]byte, now int64) {
	s.enter(now)
	s.stats.SegsIn++
	if s.parse(p, src, dst) {
		g := &s.seg
		c := s.lookup(src, g.sport, g.dport)
		if c != nil && c.state == StateTimeWait && g.flags&(wire.TCPFlagSYN|wire.TCPFlagACK|wire.TCPFlagRST) == wire.TCPFlagSYN &&
			c.timeWaitReusable(g) {
			// RFC 6191 / RFC 9293 §3.6.1: a new SYN may reopen a
			// connection in TIME-WAIT when its sequence number (or
			// timestamp) is beyond the old incarnation's.
			c.destroy(CloseNormal, now)
			c = nil
		}
		switch {
		case c != nil:
			c.input(g, now)
		default:
			if l := s.listeners[g.dport]; l != nil {
				s.listenInput(l, g, now)
			} else {
				s.closedInput(g, now)
			}
		}
		if !g.held {
			p.Release()
		}
		g.p = nil
		g.payload = nil
	} else {
		p.Release()
	}
	s.leave()
}

// parse validates the segment and fills s.seg.
func (s *Stack) parse(p *buf.Packet, src, dst [4]byte) bool {
	b := p.Data()
	t := wire.TCP(b)
	if t.Check() != nil {
		s.drop(DropBadHeader)
		return false
	}
	if dst != s.cfg.Addr {
		s.drop(DropNotForUs)
		return false
	}
	if !p.Meta.CsumVerified && !t.ChecksumValid(src, dst) {
		s.drop(DropBadChecksum)
		return false
	}
	g := &s.seg
	g.opts = wire.TCPOptions{}
	if wire.ParseTCPOptions(t.Options(), &g.opts) != nil {
		s.drop(DropBadHeader)
		return false
	}
	g.p = p
	g.src = src
	g.sport, g.dport = t.SrcPort(), t.DstPort()
	g.seq, g.ack = t.Seq(), t.Ack()
	g.flags = t.Flags()
	g.wnd = t.Window()
	g.off = t.HeaderLen()
	g.payload = b[g.off:]
	g.held = false
	if g.sport == 0 || g.dport == 0 {
		s.drop(DropBadHeader)
		return false
	}
	return true
}

// closedInput is RFC 9293 §3.10.7.1, "If the state is CLOSED (i.e., TCB
// does not exist)": all data is discarded; an incoming segment containing
// a RST is discarded; otherwise a RST is sent in response: if the ACK bit
// is off, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, else
// <SEQ=SEG.ACK><CTL=RST>.
func (s *Stack) closedInput(g *segment, now int64) {
	s.refuse(g, DropNoListener, now)
}

// refuse drops a segment that matches no connection, counted under
// reason, and answers it with a RST (resetFor) if the RST rate limit
// allows; a suppressed RST makes the drop count as DropRstRateLimit.
func (s *Stack) refuse(g *segment, reason DropReason, now int64) {
	if !g.has(wire.TCPFlagRST) && !s.rstAllowed(now) {
		s.drop(DropRstRateLimit)
		return
	}
	s.drop(reason)
	s.resetFor(g, now)
}

// resetFor answers g with a RST per §3.10.7.1 (never a RST for a RST).
func (s *Stack) resetFor(g *segment, now int64) {
	if g.has(wire.TCPFlagRST) {
		return
	}
	if g.has(wire.TCPFlagACK) {
		s.sendRaw(g.src, g.dport, g.sport, g.ack, 0, wire.TCPFlagRST, 0, nil, now)
	} else {
		s.sendRaw(g.src, g.dport, g.sport, 0, g.seq.Add(g.len()), wire.TCPFlagRST|wire.TCPFlagACK, 0, nil, now)
	}
}

// listenInput is RFC 9293 §3.10.7.2, "If the state is LISTEN".
func (s *Stack) listenInput(l *listener, g *segment, now int64) {
	// First, check for a RST: an incoming RST should be ignored.
	if g.has(wire.TCPFlagRST) {
		s.drop(DropRstIgnored)
		return
	}
	// Second, check for an ACK: any acknowledgment is bad if it arrives on
	// a connection still in the LISTEN state; form <SEQ=SEG.ACK><CTL=RST>.
	// Before that, an ACK may complete a SYN-cookie handshake (RFC 4987).
	if g.has(wire.TCPFlagACK) {
		if !g.has(wire.TCPFlagSYN) && !s.cfg.NoSynCookies && s.cookieAck(l, g, now) {
			return
		}
		if !g.has(wire.TCPFlagSYN) && !s.cfg.NoSynCookies {
			s.stats.SynCookiesBad++
			s.refuse(g, DropCookieFailed, now)
		} else {
			s.refuse(g, DropListenNoSyn, now)
		}
		return
	}
	// Third, check for a SYN.
	if !g.has(wire.TCPFlagSYN) {
		s.drop(DropListenNoSyn)
		return
	}
	// No slot (and no TIME-WAIT to recycle): drop without an answer
	// before the backlog check, so no cookie promises a connection there
	// is no room for (doc.go "Connection cap").
	if !s.connRoom() {
		s.drop(DropConnLimit)
		return
	}
	if l.synRcvd >= s.cfg.SynBacklog {
		if s.cfg.NoSynCookies {
			s.drop(DropBacklogFull)
			return
		}
		s.sendCookieSynAck(g, now)
		return
	}
	c := s.allocConn(g.src, g.sport, g.dport, l.h, now)
	if c == nil {
		s.drop(DropConnLimit)
		return
	}
	s.stats.PassiveOpens++
	c.iss = s.isn(g.src, g.dport, g.sport, now)
	c.tsOffset = s.tsOffset(g.src, g.dport, g.sport)
	c.synFrom(g)
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss, c.iss
	c.snd.head = c.iss.Add(1)
	c.setState(StateSynReceived)
	c.lst = l
	l.synRcvd++
	c.sendSyn(now)
}

// synFrom records what a SYN (or SYN-ACK) tells us: IRS, RCV.NXT, the
// send window (never scaled in a SYN, RFC 7323 §2.2) and the options.
func (c *Conn) synFrom(g *segment) {
	c.irs = g.seq
	c.rcvNxt = g.seq.Add(1)
	c.rcvAdv = c.rcvNxt
	c.lastAckSent = c.rcvNxt
	c.negotiate(&g.opts)
	c.sndWnd = uint32(g.wnd)
	c.maxSndWnd = c.sndWnd
	c.sndWl1 = g.seq
}

// negotiate applies the peer's SYN options (we offered all we support in
// an active open, so the peer's choice decides).
func (c *Conn) negotiate(o *wire.TCPOptions) {
	cfg := &c.s.cfg
	if o.HasMSS && o.MSS >= 64 {
		c.peerMSS = o.MSS
	} else if o.HasMSS {
		c.peerMSS = 64
	}
	if o.HasWScale && !cfg.NoWindowScale {
		c.wsOK = true
		c.sndWscale = o.WScale
		if c.sndWscale > 14 {
			c.sndWscale = 14 // RFC 7323 §2.3
		}
		c.rcvWscale = c.s.rcvWscale
	}
	c.sackOK = o.SACKPermitted && !cfg.NoSACK
	if o.HasTimestamps && !cfg.NoTimestamps {
		c.tsOK = true
		c.tsRecent = o.TSVal
	}
}

// synSentInput is RFC 9293 §3.10.7.3, "If the state is SYN-SENT".
func (c *Conn) synSentInput(g *segment, now int64) {
	s := c.s
	// First, check the ACK bit: if SEG.ACK =< ISS or SEG.ACK > SND.NXT,
	// send a reset (unless the RST bit is set) and discard.
	ackOK := false
	if g.has(wire.TCPFlagACK) {
		if g.ack.LessEq(c.iss) || g.ack.GreaterThan(c.sndMax) {
			s.drop(DropBadSynAck)
			if !g.has(wire.TCPFlagRST) {
				s.sendRaw(c.raddr, c.lport, c.rport, g.ack, 0, wire.TCPFlagRST, 0, nil, now)
			}
			return
		}
		ackOK = true
	}
	// Second, check the RST bit: if the ACK was acceptable, the
	// connection is refused; otherwise drop the segment (RFC 5961 §3).
	if g.has(wire.TCPFlagRST) {
		if ackOK {
			s.stats.ResetsRecv++
			c.destroy(CloseRefused, now)
			return
		}
		s.drop(DropRstIgnored)
		return
	}
	// Third, security (not implemented). Fourth, check the SYN bit.
	if !g.has(wire.TCPFlagSYN) {
		s.drop(DropBadSynAck)
		return
	}
	c.synFrom(g)
	if ackOK {
		// Our SYN is acknowledged: ESTABLISHED, acknowledge theirs. Data
		// on the SYN-ACK is not accepted (the peer will retransmit it).
		c.sndUna = g.ack
		c.sndWl2 = g.ack
		if c.retries == 0 && !c.tsOK {
			c.rttSample(now - c.rttStart)
		} else if c.tsOK && g.opts.TSEcr != 0 {
			c.rttSample(c.tsElapsed(g.opts.TSEcr, now))
		}
		c.s.wheel.Cancel(&c.rtxTimer)
		c.retries = 0
		c.ackNow = true
		c.establish(now)
		if c.state != StateClosed {
			c.flush(now)
		}
		return
	}
	// Simultaneous open (§3.5 figure 7): SYN-RECEIVED, send SYN,ACK with
	// our ISS.
	c.setState(StateSynReceived)
	c.sendSyn(now)
}

// acceptable is the §3.10.7.4 "first check sequence number" table, with
// RCV.WND the window we advertised.
func (c *Conn) acceptable(g *segment) bool {
	wnd := uint32(0)
	if d := c.rcvAdv.Sub(c.rcvNxt); d > 0 {
		wnd = uint32(d)
	}
	n := g.len()
	if n == 0 {
		if wnd == 0 {
			return g.seq == c.rcvNxt
		}
		return g.seq.InWindow(c.rcvNxt, wnd)
	}
	if wnd == 0 {
		return false
	}
	return g.seq.InWindow(c.rcvNxt, wnd) || g.seq.Add(n-1).InWindow(c.rcvNxt, wnd)
}

// trim cuts the parts of an acceptable segment outside the window
// (§3.10.7.4: "segments with higher beginning sequence numbers ... trimmed
// to the window"; text below RCV.NXT is a duplicate). It runs after the
// RST and SYN checks, so g never carries a SYN here: a SYN is never
// trimmed away (RFC 5961 §4.2 wants a challenge ACK for it instead).
func (c *Conn) trim(g *segment) {
	if d := c.rcvNxt.Sub(g.seq); d > 0 {
		k := int(d)
		if k > len(g.payload) {
			k = len(g.payload)
			g.flags &^= wire.TCPFlagFIN
		}
		c.dupData(g.seq, g.seq.Add(uint32(k)))
		g.payload = g.payload[k:]
		g.off += k
		g.seq = g.seq.Add(uint32(k))
		c.ackNow = true // a duplicate: ACK at once (RFC 5681 §4.2)
	}
	right := c.rcvAdv
	if d := g.seq.Add(uint32(len(g.payload))).Sub(right); d > 0 {
		g.payload = g.payload[:len(g.payload)-int(d)]
		g.flags &^= wire.TCPFlagFIN
		c.ackNow = true
	}
}

// input processes a segment for an existing connection: RFC 9293
// §3.10.7.3 (SYN-SENT) and §3.10.7.4 (all other states).
func (c *Conn) input(g *segment, now int64) {
	if c.state == StateSynSent {
		c.synSentInput(g, now)
		return
	}
	c.lastRecv = now
	c.kaProbes = 0
	c.busy = true
	c.segmentArrives(g, now)
	c.busy = false
	if c.state != StateClosed {
		c.flush(now)
	}
}

func (c *Conn) segmentArrives(g *segment, now int64) {
	s := c.s
	// A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost, send it
	// again (the RFC would answer with a bare ACK; Linux resends).
	if c.state == StateSynReceived && g.flags&(wire.TCPFlagSYN|wire.TCPFlagACK|wire.TCPFlagRST) == wire.TCPFlagSYN && g.seq == c.irs {
		c.sendSyn(now)
		return
	}

	// RFC 1337 §3 fix F1 (allowed by RFC 9293 §3.10.7.4, Linux with
	// tcp_rfc1337=1): a RST in TIME-WAIT is ignored, whatever its sequence
	// number, so that TIME-WAIT cannot be assassinated (hazard H1) and old
	// duplicates of this incarnation cannot reach the next.
	if c.state == StateTimeWait && g.has(wire.TCPFlagRST) {
		s.drop(DropRstTimeWait)
		return
	}

	// fourth, check the SYN bit, taken out of order (RFC 5961 §4.2, as
	// Linux does): a SYN in a synchronized state, "irrespective of the
	// sequence number", gets a challenge ACK (rate limited) and is
	// dropped with any data it carries, before PAWS, the sequence check
	// and trimming, so that no SYN can be trimmed into an acceptable
	// data segment. A SYN with RST goes through the RST check below; a
	// SYN in SYN-RECEIVED after a passive open is the step's own case.
	if g.flags&(wire.TCPFlagSYN|wire.TCPFlagRST) == wire.TCPFlagSYN && (c.state != StateSynReceived || c.active) {
		c.challengeAck(now)
		return
	}

	// RFC 7323 §5.3 R1 (PAWS), before the sequence number check: a
	// segment whose TSval is older than TS.Recent is a duplicate; ACK it
	// (unless it is a RST) and drop it.
	if c.tsOK && g.opts.HasTimestamps && !g.has(wire.TCPFlagRST) && int32(g.opts.TSVal-c.tsRecent) < 0 {
		s.drop(DropPAWS)
		c.ackNow = true
		if n := uint32(len(g.payload)); n > 0 && !g.seq.Add(n).GreaterThan(c.rcvNxt) {
			c.dupData(g.seq, g.seq.Add(n))
		}
		return
	}

	// first, check sequence number (trimming to the window is left until
	// after the RST and SYN checks, which see the segment as it came)
	if !c.acceptable(g) {
		if c.rcvAdv == c.rcvNxt && g.seq == c.rcvNxt && !g.has(wire.TCPFlagSYN|wire.TCPFlagRST) {
			// Zero receive window: "special allowance should be made to
			// accept valid ACKs, URGs, and RSTs". Process the ACK, drop
			// the text, and answer with our (zero) window.
			g.payload = g.payload[:0]
			g.flags &^= wire.TCPFlagFIN
			c.ackNow = true
		} else {
			if g.has(wire.TCPFlagRST) {
				s.drop(DropRstIgnored)
				return
			}
			s.drop(DropOutOfWindow)
			c.ackNow = true
			if n := uint32(len(g.payload)); n > 0 && !g.seq.Add(n).GreaterThan(c.rcvNxt) {
				c.dupData(g.seq, g.seq.Add(n)) // wholly old: a duplicate
			}
			if c.tsOK && g.opts.HasTimestamps && g.seq.LessThan(c.rcvNxt) && g.seq.LessEq(c.lastAckSent) {
				// An old duplicate (a retransmission whose ACK was
				// lost): echo its timestamp, not an older one, so the
				// peer's RTT sample is not inflated (RFC 7323 §4.3 R3).
				c.tsRecent = g.opts.TSVal
			}
			if c.state == StateTimeWait && g.has(wire.TCPFlagFIN) {
				c.s.wheel.Schedule(&c.kaTimer, now+s.cfg.TimeWait) // FIN retransmitted: restart 2 MSL
			}
			return
		}
	}

	// second, check the RST bit (RFC 5961 §3.2): a RST whose own SEG.SEQ
	// (not trimmed) is exactly RCV.NXT resets the connection; any other
	// in-window RST gets a challenge ACK.
	if g.has(wire.TCPFlagRST) {
		if g.seq != c.rcvNxt {
			c.challengeAck(now)
			return
		}
		s.stats.ResetsRecv++
		switch {
		case c.state == StateSynReceived && !c.active:
			// Passive open: "return this connection to the LISTEN
			// state" — the listener is still there; forget this one.
			c.destroy(CloseReset, now)
		case c.state == StateSynReceived:
			c.destroy(CloseRefused, now)
		default:
			c.destroy(CloseReset, now)
		}
		return
	}

	// third, check security: not implemented (RFC 9293 §3.10.7.4 allows).

	// fourth, check the SYN bit: synchronized states answered it above;
	// in SYN-RECEIVED after a passive open, go back to LISTEN.
	if g.has(wire.TCPFlagSYN) {
		c.destroy(CloseReset, now)
		return
	}

	segSeq := g.seq
	c.trim(g)
	// RFC 7323 §4.3: if SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent,
	// TS.Recent = SEG.TSval (PAWS already rejected older TSvals). SEG.SEQ
	// is the segment's own, before trimming: a retransmission of data we
	// already hold must refresh TS.Recent, or our ACK would echo a stale
	// TSval and inflate the peer's RTT.
	if c.tsOK && g.opts.HasTimestamps && segSeq.LessEq(c.lastAckSent) {
		c.tsRecent = g.opts.TSVal
	}

	// fifth, check the ACK field
	if !g.has(wire.TCPFlagACK) {
		s.drop(DropNoAck)
		return
	}
	if c.state == StateSynReceived {
		// If SND.UNA < SEG.ACK =< SND.NXT, enter ESTABLISHED and
		// continue processing; else <SEQ=SEG.ACK><CTL=RST>.
		if !(c.sndUna.LessThan(g.ack) && g.ack.LessEq(c.sndMax)) {
			s.drop(DropBadSynAck)
			s.sendRaw(c.raddr, c.lport, c.rport, g.ack, 0, wire.TCPFlagRST, 0, nil, now)
			return
		}
		c.sndWnd = uint32(g.wnd) << c.sndWscale
		c.maxSndWnd = c.sndWnd
		c.sndWl1, c.sndWl2 = g.seq, g.ack
		c.sndUna = g.ack
		if c.sndNxt.LessThan(g.ack) {
			c.sndNxt = g.ack
		}
		if c.retries == 0 && !c.tsOK {
			c.rttSample(now - c.rttStart)
		} else if c.tsOK && g.opts.HasTimestamps && g.opts.TSEcr != 0 {
			c.rttSample(c.tsElapsed(g.opts.TSEcr, now))
		}
		c.retries = 0
		s.wheel.Cancel(&c.rtxTimer)
		c.establish(now)
		if c.state == StateClosed {
			return
		}
	}
	if !c.processAck(g, now) {
		return
	}

	// sixth, check the URG bit: urgent data is not supported (RFC 6093
	// advises against its use); the pointer is ignored and the octets are
	// delivered in line.

	// seventh, process the segment text
	if len(g.payload) > 0 {
		switch c.state {
		case StateEstablished, StateFinWait1, StateFinWait2:
			c.receiveData(g, now)
			if c.state == StateClosed {
				return
			}
		default:
			// CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: a FIN has been
			// received; text should not arrive. Ignore it.
			s.drop(DropStateClosed)
			return
		}
	}

	// eighth, check the FIN bit
	if g.has(wire.TCPFlagFIN) {
		end := g.seq.Add(uint32(len(g.payload)))
		switch {
		case end == c.rcvNxt:
			c.receiveFin(now)
		case end.GreaterThan(c.rcvNxt) && g.held:
			// Out of order: takes effect when the gap fills.
			c.ooo.fin = true
			c.ooo.finSeq = end
		}
		return
	}
	if c.ooo.fin && c.ooo.finSeq == c.rcvNxt {
		c.receiveFin(now)
	}
}

// processAck is the fifth step for ESTABLISHED and later states. It
// reports false when processing of the segment stops.
func (c *Conn) processAck(g *segment, now int64) bool {
	s := c.s
	ack := g.ack
	// RFC 5961 §5.2: acceptable if SND.UNA - MAX.SND.WND =< SEG.ACK =<
	// SND.NXT; otherwise send an ACK and drop.
	if ack.GreaterThan(c.sndMax) {
		s.drop(DropAckTooNew)
		c.ackNow = true
		return false
	}
	if ack.LessThan(c.sndUna - wire.Seq(c.maxSndWnd)) {
		s.drop(DropAckTooOld)
		c.ackNow = true
		return false
	}
	wnd := uint32(g.wnd) << c.sndWscale
	flight := c.flight()
	advanced := ack.GreaterThan(c.sndUna)
	pure, isDup := false, false
	if advanced {
		c.ackAdvance(g, flight, now)
	} else if ack == c.sndUna && len(g.payload) == 0 && !g.has(wire.TCPFlagFIN) && c.sndMax != c.sndUna {
		// RFC 5681 §2 "duplicate acknowledgment": also the window is
		// unchanged. With SACK, RFC 6675 §2 counts instead an ACK that
		// SACKs new data, whatever its window (below).
		pure = true
		isDup = wnd == c.sndWnd
	}
	// If SND.UNA =< SEG.ACK =< SND.NXT, update the send window when the
	// segment is newer (SND.WL1 < SEG.SEQ, or = and SND.WL2 =< SEG.ACK).
	if !ack.LessThan(c.sndUna) && (c.sndWl1.LessThan(g.seq) || (c.sndWl1 == g.seq && c.sndWl2.LessEq(ack))) {
		c.sndWnd = wnd
		c.sndWl1, c.sndWl2 = g.seq, ack
		if wnd > c.maxSndWnd {
			c.maxSndWnd = wnd
		}
		if wnd > 0 {
			c.probeBack = 0
		}
	}
	// RFC 6675 §5: update the scoreboard on every ACK with SACK blocks,
	// and on every ACK that advances SND.UNA even without blocks, so that
	// ranges now cumulatively acknowledged are dropped (left behind, they
	// would be misread once the sequence space moves on by 2^31).
	// The scoreboard exists only while something is SACKed (board).
	dsack := false
	if c.sackOK && (g.opts.NumSACK > 0 || c.sb != nil) && (advanced || (g.opts.NumSACK > 0 && c.sndMax != c.sndUna)) {
		sb := c.takeBoard()
		if sb.Update(c.sndUna, c.sndMax, g.opts.SACK[:g.opts.NumSACK]) > 0 && pure {
			isDup = true
		}
		if d, ok := sb.DSACK(); ok && !d.End.LessThan(c.tlpHigh) {
			dsack = true
		}
		if sb.SackedBytes() == 0 {
			c.putBoard()
		}
	}
	if c.tlpOut && c.tlpRetrans && dsack {
		c.tlpOut = false // both the original and the probe arrived: no loss
	}
	if isDup {
		c.dupAcks++
	}
	if isDup || (c.sackOK && g.opts.NumSACK > 0) {
		c.maybeRecover(now)
	}

	ourFinAcked := c.finQueued && c.sndUna == c.snd.end().Add(1)
	switch c.state {
	case StateFinWait1:
		// In addition to the processing for ESTABLISHED, if our FIN is now
		// acknowledged, enter FIN-WAIT-2.
		if ourFinAcked {
			c.setState(StateFinWait2)
			if s.cfg.FinWait2Timeout > 0 {
				s.wheel.Schedule(&c.kaTimer, now+s.cfg.FinWait2Timeout)
			} else {
				s.wheel.Cancel(&c.kaTimer) // no keepalive in FIN-WAIT-2
			}
		}
	case StateClosing:
		if ourFinAcked {
			c.enterTimeWait(now)
		} else {
			return false
		}
	case StateLastAck:
		// The only thing that can arrive is an acknowledgment of our FIN.
		if ourFinAcked {
			c.destroy(CloseNormal, now)
		}
		return false
	case StateTimeWait:
		// Only a retransmission of the remote FIN can arrive; it is below
		// RCV.NXT and was answered by the sequence check. Never ACK an
		// ACK here: two ends in TIME-WAIT would ping-pong forever.
		return false
	}
	return true
}

// receiveData is the seventh step for states that accept text: in-order
// data goes to the application at once (zero copy from the frame), then
// any held segments the gap fill made contiguous; out-of-order data is
// held in the reassembly queue.
func (c *Conn) receiveData(g *segment, now int64) {
	s := c.s
	if g.seq == c.rcvNxt {
		n := len(g.payload)
		c.rcvNxt = c.rcvNxt.Add(uint32(n))
		c.unackedBytes += n
		short := c.deliver(g.payload, now)
		if c.state == StateClosed {
			return
		}
		if short > 0 {
			// Not buffered (the shard's buffer budget is spent): as if
			// never received; the peer retransmits. Nothing was sent
			// meanwhile (busy), so no ACK covered these bytes.
			c.rcvNxt = c.rcvNxt.Add(uint32(-short))
			c.unackedBytes -= short
			c.ackNow = true
		} else if !c.ooo.empty() {
			for {
				p := c.ooo.next(c.rcvNxt)
				if p == nil {
					break
				}
				n := p.Len()
				c.rcvNxt = c.rcvNxt.Add(uint32(n))
				short := c.deliver(p.Data(), now)
				if c.state == StateClosed {
					p.Release()
					return
				}
				if short > 0 {
					// Hold the rest again: it is still SACKed, so it
					// must not be dropped (no reneging).
					c.rcvNxt = c.rcvNxt.Add(uint32(-short))
					p.TrimFront(n - short)
					if c.ooo.insert(c.rcvNxt, p, 1<<30) != oooInserted {
						p.Release()
					}
					break
				}
				p.Release()
			}
			c.rb.Ack(c.rcvNxt)
			// RFC 5681 §4.2: ACK at once when a segment fills (part of) a gap.
			c.ackNow = true
		}
		if c.ooo.empty() {
			c.rb.Ack(c.rcvNxt)
			s.putOOO(&c.ooo)
		}
		if c.unackedBytes >= 2*int(c.mss()) || s.cfg.DelayedAck < 0 {
			c.ackNow = true
		} else if !c.ackNow && !c.delackTimer.Armed() {
			s.wheel.Schedule(&c.delackTimer, now+s.cfg.DelayedAck)
		}
		return
	}
	// Out of order (g.seq > RCV.NXT after trimming): hold the packet.
	c.ackNow = true
	p := g.p
	p.TrimFront(g.off)
	p.Truncate(len(g.payload))
	if cap(c.ooo.e) == 0 {
		c.ooo.e = s.getOOO()
	}
	switch c.ooo.insert(g.seq, p, s.cfg.ReassemblyBytes) {
	case oooInserted:
		g.held = true
		s.stats.OOOSegs++
		c.rb.Add(g.seq, g.seq.Add(uint32(len(g.payload))))
	case oooDuplicate:
		// Held already: report it (RFC 2883 §4, the held block second).
		end := g.seq.Add(uint32(len(g.payload)))
		c.dupData(g.seq, end)
		c.rb.Add(g.seq, end)
	case oooFull:
		s.drop(DropReassemblyFull)
	}
}

// dupData records that [start, end) arrived again, for a D-SACK block
// (RFC 2883) in the next ACK, which goes out at once.
func (c *Conn) dupData(start, end wire.Seq) {
	if !c.sackOK || !end.GreaterThan(start) {
		return
	}
	c.rb.DSACK(start, end)
	c.dsack = true
	c.ackNow = true
}

// deliver hands in-order bytes to the application; whatever it does not
// consume is kept in the receive buffer (the window shrinks by as much).
// It returns how many bytes at the end of data it could neither deliver
// nor keep (the logical buffer or the shard's budget was full; counted as
// a drop): the caller takes them back from RCV.NXT.
func (c *Conn) deliver(data []byte, now int64) int {
	s := c.s
	if c.rcv.len() == 0 && !c.peerClosed {
		n := c.h.OnData(c, data, now)
		if c.state == StateClosed {
			return 0
		}
		n = max(0, min(n, len(data)))
		if n == len(data) {
			return 0
		}
		data = data[n:]
	} else if c.state == StateClosed {
		return 0
	} else {
		defer c.offer(now)
	}
	k := c.rcv.append(data, &s.bufs, s.cfg.RecvBuf)
	if k < len(data) {
		if c.rcv.len() < s.cfg.RecvBuf {
			s.drop(DropBufferLimit)
		} else {
			s.drop(DropRecvBufFull)
		}
	}
	return len(data) - k
}

// offer gives the application the buffered bytes again.
func (c *Conn) offer(now int64) {
	d := c.rcv.data()
	if len(d) == 0 || c.h == nil {
		return
	}
	n := c.h.OnData(c, d, now)
	if c.state == StateClosed {
		return
	}
	if n > 0 {
		c.rcv.consume(n, &c.s.bufs)
		c.winOpened = true
	}
}

// receiveFin is the eighth step: the peer's FIN is in order.
func (c *Conn) receiveFin(now int64) {
	c.ooo.fin = false
	c.rcvNxt = c.rcvNxt.Add(1)
	c.ackNow = true
	switch c.state {
	case StateSynReceived, StateEstablished:
		c.setState(StateCloseWait)
	case StateFinWait1:
		if c.finQueued && c.sndUna == c.snd.end().Add(1) {
			c.enterTimeWait(now)
		} else {
			c.setState(StateClosing)
		}
	case StateFinWait2:
		c.enterTimeWait(now)
	case StateTimeWait:
		c.s.wheel.Schedule(&c.kaTimer, now+c.s.cfg.TimeWait)
		return
	default:
		return
	}
	if !c.peerClosed && c.h != nil {
		c.peerClosed = true
		c.h.OnPeerClosed(c, now)
	}
}

// timeWaitReusable: a SYN for a connection in TIME-WAIT may start a new
// incarnation if its timestamp is newer (RFC 6191) or, without
// timestamps, its sequence number is above the old RCV.NXT (RFC 1122
// §4.2.2.13).
func (c *Conn) timeWaitReusable(g *segment) bool {
	if c.tsOK && g.opts.HasTimestamps {
		return int32(g.opts.TSVal-c.tsRecent) > 0
	}
	return g.seq.GreaterThan(c.rcvNxt)
}

func (c *Conn) challengeAck(now int64) {
	s := c.s
	if !s.challengeAllowed(now) {
		return
	}
	s.stats.ChallengeAcks++
	s.drop(DropChallengeAck)
	c.ackNow = true
}
