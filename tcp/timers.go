package tcp

import "github.com/shardnet/shardnet/wire"

// rttSample feeds one RTT measurement r (ns, negative = none) to the RFC
// 6298 §2 estimator and recomputes the RTO.
func (c *Conn) rttSample(r int64) {
	if r < 0 {
		return
	}
	if !c.hasRTT {
		c.srtt = r
		c.rttvar = r / 2
		c.hasRTT = true
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	c.backoff = 0
	c.rto = c.calcRTO()
}

// calcRTO is RTO = SRTT + max(G, 4·RTTVAR) (G = 1 ms, our clock
// granularity), clamped to [MinRTO, MaxRTO] and backed off.
func (c *Conn) calcRTO() int64 {
	cfg := &c.s.cfg
	if !c.hasRTT {
		return cfg.InitialRTO
	}
	v := 4 * c.rttvar
	if v < ms {
		v = ms
	}
	r := c.srtt + v
	if r < cfg.MinRTO {
		r = cfg.MinRTO
	}
	for i := 0; i < c.backoff && r < cfg.MaxRTO; i++ {
		r *= 2
	}
	if r > cfg.MaxRTO {
		r = cfg.MaxRTO
	}
	return r
}

// ackAdvance handles an ACK of new data (SND.UNA < SEG.ACK =< SND.MAX):
// RTT sample, send buffer, recovery state, congestion window, timer.
func (c *Conn) ackAdvance(g *segment, flight uint32, now int64) {
	s := c.s
	ack := g.ack
	acked := uint32(ack.Sub(c.sndUna))
	rtt := int64(-1)
	if c.tsOK && g.opts.HasTimestamps && g.opts.TSEcr != 0 {
		// RFC 7323 §4.1: RTTM from the echoed timestamp; but an echo
		// older than our last timeout may be of the original
		// transmission and would span the back-off (Karn's rule applied
		// to timestamps): no sample then.
		if !c.rtoTSSet || int32(g.opts.TSEcr-c.rtoTS) >= 0 {
			rtt = c.tsElapsed(g.opts.TSEcr, now)
		}
	} else if c.rttTiming && ack.GreaterThan(c.rttSeq) {
		rtt = now - c.rttStart
		c.rttTiming = false
	}
	if rtt >= 0 {
		c.rttSample(rtt)
	} else if c.backoff != 0 {
		c.backoff = 0
		c.rto = c.calcRTO()
	}
	// Acknowledged data leaves the send buffer (a SYN or FIN occupies
	// sequence space but no buffer byte).
	if d := c.snd.end().Sub(c.snd.head); d > 0 {
		k := ack.Sub(c.snd.head)
		if k > d {
			k = d
		}
		if k > 0 {
			c.snd.consume(int(k), &c.s.bufs)
		}
	}
	c.sndUna = ack
	if c.sndNxt.LessThan(ack) {
		c.sndNxt = ack
	}
	c.retries = 0
	if c.inRecovery {
		if !ack.LessThan(c.recover) {
			// Full acknowledgment (RFC 6582 §3.2 step 3; RFC 6675 §5).
			c.inRecovery = false
			c.rxtPending = false
			c.dupAcks = 0
			c.cc.OnRecoveryExit(now)
		} else if !c.sackOK {
			// Partial acknowledgment (RFC 6582 §3.2 step 4):
			// retransmit the first unacknowledged segment; the
			// duplicate-ACK count (our window inflation) restarts.
			c.dupAcks = 0
			c.transmit(c.sndUna, c.mss(), now)
		}
	} else {
		c.dupAcks = 0
		c.cc.OnAck(acked, rtt, flight, now)
	}
	if c.tlpOut {
		// RFC 8985 §7.4: a probe of new data needs nothing more once
		// acknowledged. A retransmitted probe that was not reported as a
		// duplicate (D-SACK, see processAck) by the time data beyond it
		// is acknowledged repaired a loss: respond to it as to one.
		switch {
		case !c.tlpRetrans && !ack.LessThan(c.tlpHigh):
			c.tlpOut = false
		case c.tlpRetrans && ack.GreaterThan(c.tlpHigh):
			c.tlpOut = false
			if !c.inRecovery {
				c.cc.OnCongestionEvent(flight, now)
				c.cc.OnRecoveryExit(now)
			}
		}
	}
	if c.sndUna == c.sndMax {
		c.tlpArmed = false
		s.wheel.Cancel(&c.rtxTimer)
	} else {
		c.armRtx(now) // RFC 6298 5.3; RFC 8985 §7.2
	}
}

// maybeRecover enters fast recovery on the third duplicate ACK (RFC 5681
// §3.2) or when SACK shows the first unacknowledged segment lost (RFC
// 6675 §5, IsLost(HighACK+1)).
func (c *Conn) maybeRecover(now int64) {
	if c.inRecovery || c.sndMax == c.sndUna {
		return
	}
	mss := c.mss()
	lost := c.dupAcks >= 3 || (c.sackOK && c.board().IsLost(c.sndUna, mss))
	// RFC 6582 §3.2 step 1: no new recovery until everything sent before
	// the last one (or the last RTO) is acknowledged.
	if !lost || c.sndUna.LessThan(c.recover) {
		return
	}
	c.inRecovery = true
	c.recover = c.sndMax
	c.s.stats.FastRetransmits++
	c.cc.OnCongestionEvent(c.flight(), now)
	// RFC 6675 §5 (C) / RFC 5681 step 2: retransmit the first
	// unacknowledged segment now.
	c.highRxt = c.sndUna
	c.rescueSet = false
	c.tlpOut, c.tlpArmed = false, false
	if used := c.transmit(c.sndUna, mss, now); used > 0 {
		c.highRxt = c.sndUna.Add(uint32(used))
		c.rxtMax, c.rxtPending = c.sndMax, true
	}
}

// onRetransmitTimer is the RTO (RFC 6298 §5.4-5.7), which also repeats
// SYNs and SYN-ACKs.
func (c *Conn) onRetransmitTimer(now int64) {
	s := c.s
	s.enter(now)
	defer s.leave()
	cfg := &s.cfg
	switch c.state {
	case StateSynSent, StateSynReceived:
		c.retries++
		if c.retries > cfg.SynRetries {
			c.destroy(CloseTimeout, now)
			return
		}
		c.backoff++
		c.rto = c.calcRTO()
		c.sendSyn(now)
		return
	case StateClosed, StateTimeWait, StateFinWait2:
		return
	}
	if c.sndMax == c.sndUna {
		return
	}
	if c.tlpArmed {
		c.sendProbe(now)
		return
	}
	c.retries++
	if c.retries > cfg.MaxRetries {
		c.send(c.sndNxt, wire.TCPFlagRST|wire.TCPFlagACK, 0, 0, now)
		c.destroy(CloseTimeout, now)
		return
	}
	s.stats.RTOs++
	c.cc.OnRTO(c.flight(), now)
	c.backoff++
	c.rto = c.calcRTO()
	// RFC 6675 §5.1 and RFC 2018 §8: after an RTO the SACK scoreboard is
	// not trusted (the receiver may renege); start over from SND.UNA.
	c.inRecovery = false
	c.rxtPending = false
	c.tlpOut = false
	c.dupAcks = 0
	c.putBoard()
	c.recover = c.sndMax // RFC 6582 §3.2 step 4 after a timeout
	c.rttTiming = false
	c.rtoTS, c.rtoTSSet = c.tsNow(now), true
	c.sndNxt = c.sndUna
	c.sendOne(now)
	s.wheel.Schedule(&c.rtxTimer, now+c.rto)
}

// sendProbe is the tail loss probe (RFC 8985 §7.3): one segment of new
// data if the peer's window allows, else a retransmission of the last
// segment sent; either way its ACK, with SACK, shows whether the tail of
// the flight was lost, so recovery can start without waiting for the RTO.
// The RTO is then armed as usual.
func (c *Conn) sendProbe(now int64) {
	s := c.s
	c.tlpArmed = false
	mss := c.mss()
	sent, retrans := 0, false
	if avail := c.snd.end().Sub(c.sndNxt); avail > 0 && c.sndNxt == c.sndMax {
		room := int64(c.sndWnd) - int64(c.sndNxt.Sub(c.sndUna))
		n := min(int64(avail), int64(mss), room)
		if n > 0 {
			if sent = c.transmit(c.sndNxt, uint32(n), now); sent > 0 {
				c.sndNxt = c.sndNxt.Add(uint32(sent))
			}
		}
	}
	if sent <= 0 {
		start := c.sndUna
		if d := c.sndMax.Sub(c.sndUna); d > int32(mss) {
			start = c.sndMax - wire.Seq(mss)
		}
		sent = c.transmit(start, uint32(c.sndMax.Sub(start)), now)
		retrans = true
	}
	if sent > 0 {
		s.stats.TLPs++
		c.tlpOut, c.tlpHigh, c.tlpRetrans = true, c.sndMax, retrans
	}
	s.wheel.Schedule(&c.rtxTimer, now+c.rto)
}

func (c *Conn) onDelackTimer(now int64) {
	s := c.s
	s.enter(now)
	defer s.leave()
	if c.state == StateClosed || c.state == StateSynSent {
		return
	}
	s.stats.DelayedAcks++
	c.sendAck(now)
}

// onPersistTimer probes a zero window (RFC 9293 §3.8.6.1) with a segment
// the receiver must answer with its window: SND.UNA-1 and no data, as
// Linux does. When the window is open but too small for silly-window
// avoidance, it instead forces out what fits (the "override timeout").
func (c *Conn) onPersistTimer(now int64) {
	s := c.s
	s.enter(now)
	defer s.leave()
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
	default:
		return
	}
	if c.sndWnd > 0 && c.sndMax == c.sndUna {
		c.forceSend = true
		c.output(now)
		return
	}
	s.stats.WindowProbes++
	c.send(c.sndUna-1, wire.TCPFlagACK, 0, 0, now)
	if c.probeBack < 16 {
		c.probeBack++
	}
	s.wheel.Schedule(&c.persistTimer, now+c.persistDelay())
}

// onKeepaliveTimer serves three purposes by state: the end of TIME-WAIT,
// the FIN-WAIT-2 timeout, and keepalive probing (RFC 9293 §3.8.4, RFC 1122
// §4.2.3.6) of an idle connection.
func (c *Conn) onKeepaliveTimer(now int64) {
	s := c.s
	s.enter(now)
	defer s.leave()
	cfg := &s.cfg
	switch c.state {
	case StateTimeWait:
		c.destroy(CloseNormal, now)
		return
	case StateFinWait2:
		c.destroy(CloseFinWait2, now)
		return
	case StateEstablished, StateCloseWait:
	default:
		return
	}
	if cfg.Keepalive <= 0 {
		return
	}
	if idle := now - c.lastRecv; idle < cfg.Keepalive {
		s.wheel.Schedule(&c.kaTimer, c.lastRecv+cfg.Keepalive)
		return
	}
	if c.kaProbes >= cfg.KeepaliveProbes {
		c.send(c.sndNxt, wire.TCPFlagRST|wire.TCPFlagACK, 0, 0, now)
		c.destroy(CloseTimeout, now)
		return
	}
	c.kaProbes++
	s.stats.KeepaliveProbes++
	c.send(c.sndUna-1, wire.TCPFlagACK, 0, 0, now)
	s.wheel.Schedule(&c.kaTimer, now+cfg.KeepaliveInterval)
}

// enterTimeWait: the application is told the connection is closed; the
// object lingers 2·MSL to absorb a retransmitted FIN.
func (c *Conn) enterTimeWait(now int64) {
	s := c.s
	c.setState(StateTimeWait)
	s.wheel.Cancel(&c.rtxTimer)
	s.wheel.Cancel(&c.persistTimer)
	c.releaseMem()
	c.notifyClose(CloseNormal, now)
	if c.state != StateTimeWait {
		return // the application aborted it from OnClose
	}
	s.wheel.Schedule(&c.kaTimer, now+s.cfg.TimeWait)
	// Listed only now: OnClose may have dialed, and must not have been
	// given this very slot while the connection was still entering
	// TIME-WAIT.
	c.twAppend()
}
