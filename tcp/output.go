package tcp

import (
	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/tcp/sack"
	"github.com/shardnet/shardnet/wire"
)

// build allocates a frame and lays out a segment of hdr header bytes and
// n payload bytes at the slab's headroom. It returns nil (counted) when
// the slab is empty.
func (s *Stack) build(hdr, n int) (*buf.Packet, []byte) {
	p := s.slab.Alloc()
	if p == nil {
		s.stats.NoBuf++
		return nil, nil
	}
	return p, p.Append(hdr + n)
}

// finish fills in the checksum (or leaves it to the NIC) and hands the
// segment to the IP layer.
func (s *Stack) finish(p *buf.Packet, b []byte, raddr [4]byte, now int64) {
	t := wire.TCP(b)
	if s.cfg.TxCsumOffload {
		t.SetChecksum(wire.Fold(wire.PseudoHeaderSum(s.cfg.Addr, raddr, wire.ProtoTCP, uint16(len(b)))))
		p.Meta.CsumPartial = true
		p.Meta.CsumStart = 0
		p.Meta.CsumOffset = 16
	} else {
		t.SetChecksum(t.ComputeChecksum(s.cfg.Addr, raddr))
	}
	s.stats.SegsOut++
	s.out.Output(p, raddr, wire.ProtoTCP, now)
}

// sendRaw sends a segment that belongs to no connection (RSTs, SYN-cookie
// SYN-ACKs).
func (s *Stack) sendRaw(raddr [4]byte, lport, rport uint16, seq, ack wire.Seq, flags wire.TCPFlags, wnd uint16, o *wire.TCPOptions, now int64) {
	optLen := 0
	if o != nil {
		optLen = o.EncodedLen()
	}
	p, b := s.build(wire.TCPMinHeaderLen+optLen, 0)
	if p == nil {
		return
	}
	wire.TCP(b).Encode(&wire.TCPFields{SrcPort: lport, DstPort: rport, Seq: seq, Ack: ack, Flags: flags, Window: wnd, OptionsLen: optLen})
	if o != nil {
		wire.EncodeTCPOptions(b[wire.TCPMinHeaderLen:], o)
	}
	if flags&wire.TCPFlagRST != 0 {
		s.stats.ResetsSent++
	}
	s.finish(p, b, raddr, now)
}

// tsNow is our TSval: a 1 ms clock plus the connection's offset.
func (c *Conn) tsNow(now int64) uint32 { return uint32(now/ms) + c.tsOffset }

// tsElapsed turns an echoed TSval into an RTT sample in nanoseconds.
func (c *Conn) tsElapsed(ecr uint32, now int64) int64 {
	d := int32(c.tsNow(now) - ecr)
	if d < 0 {
		return -1
	}
	return int64(d) * ms
}

// advWindow is the window to advertise, with receiver-side silly window
// avoidance (RFC 9293 §3.8.6.2.2): the right edge never moves left, and it
// moves right only by at least min(RecvBuf/2, MSS).
func (c *Conn) advWindow() uint32 {
	cur := uint32(0)
	if d := c.rcvAdv.Sub(c.rcvNxt); d > 0 {
		cur = uint32(d)
	}
	w := c.rcvWindow()
	if w <= cur {
		return cur
	}
	step := uint32(c.s.cfg.RecvBuf / 2)
	if m := uint32(c.s.cfg.MSS); m < step {
		step = m
	}
	if w-cur < step {
		return cur
	}
	return w
}

// send emits one segment of this connection: seq, flags, and n payload
// bytes from the send buffer starting off bytes after its head. Options
// follow the negotiation: SYN options on SYNs; timestamps and SACK blocks
// on the rest. If the options leave less room than n, the payload is cut
// (and a FIN dropped). It returns the sequence space the segment used,
// or -1 when no frame was available.
func (c *Conn) send(seq wire.Seq, flags wire.TCPFlags, off, n int, now int64) int {
	s := c.s
	cfg := &s.cfg
	var o wire.TCPOptions
	syn := flags&wire.TCPFlagSYN != 0
	if syn {
		// Offer everything in an active open; in a passive one echo what
		// the peer offered (RFC 7323 §2.2, §3.2; RFC 2018 §2).
		o.HasMSS, o.MSS = true, cfg.MSS
		if c.active && c.state == StateSynSent {
			o.HasWScale, o.WScale = !cfg.NoWindowScale, s.rcvWscale
			o.SACKPermitted = !cfg.NoSACK
			o.HasTimestamps = !cfg.NoTimestamps
		} else {
			o.HasWScale, o.WScale = c.wsOK, c.rcvWscale
			o.SACKPermitted = c.sackOK
			o.HasTimestamps = c.tsOK
		}
		if o.HasTimestamps {
			o.TSVal, o.TSEcr = c.tsNow(now), c.tsRecent
		}
	} else {
		if c.tsOK {
			o.HasTimestamps, o.TSVal, o.TSEcr = true, c.tsNow(now), c.tsRecent
		}
		if c.sackOK && flags&wire.TCPFlagACK != 0 && (!c.ooo.empty() || c.dsack) && flags&wire.TCPFlagRST == 0 {
			max := 4
			if c.tsOK {
				max = 3
			}
			o.NumSACK = c.rb.Fill(o.SACK[:], max)
			c.dsack = false // Fill reports a D-SACK once
		}
	}
	optLen := o.EncodedLen()
	if n > 0 {
		room := int(c.peerMSS) - optLen
		if our := int(cfg.MSS) - optLen; our < room {
			room = our
		}
		if n > room {
			n = room
			flags &^= wire.TCPFlagFIN
		}
	}
	hl := wire.TCPMinHeaderLen + optLen
	p, b := s.build(hl, n)
	if p == nil {
		return -1
	}
	var wnd uint32
	if syn {
		// The window in a SYN is never scaled (RFC 7323 §2.2).
		wnd = uint32(c.rcvSpace())
		if wnd > 65535 {
			wnd = 65535
		}
	} else {
		wnd = c.advWindow()
	}
	if flags&wire.TCPFlagACK != 0 {
		if r := c.rcvNxt.Add(wnd); r.GreaterThan(c.rcvAdv) {
			c.rcvAdv = r
		}
	}
	if !syn {
		wnd >>= c.rcvWscale
	}
	var ack wire.Seq
	if flags&wire.TCPFlagACK != 0 {
		ack = c.rcvNxt
	}
	wire.TCP(b).Encode(&wire.TCPFields{SrcPort: c.lport, DstPort: c.rport, Seq: seq, Ack: ack, Flags: flags,
		Window: uint16(wnd), OptionsLen: optLen})
	if optLen > 0 {
		wire.EncodeTCPOptions(b[wire.TCPMinHeaderLen:hl], &o)
	}
	if n > 0 {
		c.snd.copyOut(b[hl:], off)
		s.stats.DataSegsOut++
	}
	if flags&wire.TCPFlagACK != 0 {
		c.lastAckSent = c.rcvNxt
		c.ackNow = false
		c.unackedBytes = 0
		s.wheel.Cancel(&c.delackTimer)
	}
	if flags&wire.TCPFlagRST != 0 {
		s.stats.ResetsSent++
	}
	c.lastSend = now
	s.finish(p, b, c.raddr, now)
	used := n
	if syn {
		used++
	}
	if flags&wire.TCPFlagFIN != 0 {
		used++
	}
	return used
}

// sendAck sends a bare ACK.
func (c *Conn) sendAck(now int64) { c.send(c.sndNxt, wire.TCPFlagACK, 0, 0, now) }

// sendSyn sends (or resends) our SYN, or SYN-ACK in SYN-RECEIVED, and arms
// the retransmission timer.
func (c *Conn) sendSyn(now int64) {
	flags := wire.TCPFlagSYN
	if c.state == StateSynReceived {
		flags |= wire.TCPFlagACK
	}
	if c.retries == 0 {
		c.rttStart = now
	}
	c.send(c.iss, flags, 0, 0, now)
	c.sndNxt = c.iss.Add(1)
	c.sndMax = c.sndNxt
	c.s.wheel.Schedule(&c.rtxTimer, now+c.rto)
}

// transmit sends the segment starting at seq (new data or a
// retransmission): up to max payload bytes, with FIN if it reaches the end
// of the data and a FIN is queued. It returns the sequence space used, 0
// if there was nothing to send, -1 if no frame was available.
func (c *Conn) transmit(seq wire.Seq, max uint32, now int64) int {
	end := c.snd.end()
	avail := end.Sub(seq)
	if avail < 0 {
		if c.finQueued && seq == end.Add(1) {
			return 0
		}
		avail = 0
	}
	n := uint32(avail)
	if n > max {
		n = max
	}
	flags := wire.TCPFlagACK
	if seq.Add(n) == end {
		if n > 0 {
			flags |= wire.TCPFlagPSH
		}
		if c.finQueued {
			flags |= wire.TCPFlagFIN
		}
	}
	if n == 0 && flags&wire.TCPFlagFIN == 0 {
		return 0
	}
	retx := seq.LessThan(c.sndMax)
	used := c.send(seq, flags, int(seq.Sub(c.snd.head)), int(n), now)
	if used <= 0 {
		return used
	}
	s := c.s
	if retx {
		s.stats.Retransmits++
		if c.rttTiming && !c.rttSeq.LessThan(seq) {
			c.rttTiming = false // Karn's rule: no sample from a retransmitted segment
		}
	} else if !c.rttTiming && !c.tsOK {
		c.rttTiming = true
		c.rttSeq = seq
		c.rttStart = now
	}
	if e := seq.Add(uint32(used)); e.GreaterThan(c.sndMax) {
		c.sndMax = e
	}
	return used
}

// output sends what the windows, Nagle and silly-window avoidance allow,
// then makes sure the retransmission or persist timer runs as needed.
func (c *Conn) output(now int64) {
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
	default:
		return
	}
	for i := 0; i < 1024 && c.sendOne(now); i++ {
	}
	c.forceSend = false
	c.armTimers(now)
}

// sendOne sends one segment if allowed: a recovery retransmission, or new
// data (or a lone FIN) from SND.NXT.
func (c *Conn) sendOne(now int64) bool {
	mss := c.mss()
	cwnd := c.cc.Cwnd()
	var inFlight uint32
	if c.inRecovery {
		inFlight = c.pipe()
		if c.sackOK {
			c.lostRetransmit(mss)
			inFlight = c.pipe()
		}
		if inFlight+mss > cwnd {
			return false
		}
		if c.sackOK {
			// RFC 6675 §5 (C) with NextSeg: rule 1 (lost data) first,
			// then rule 2 (new data), then rules 3 and 4. Rule 4, the
			// rescue retransmission, is allowed once per recovery
			// episode: while HighACK > RescueRxt or RescueRxt is
			// undefined (RescueRxt is the recovery point, §4).
			rescueOK := !c.rescueSet || c.sndUna.GreaterThan(c.rescueRxt)
			start, n, kind, ok := c.board().NextSeg(c.sndUna, c.sndMax, c.highRxt, mss, rescueOK)
			if ok && kind == sack.SegRescue && start.LessThan(c.highRxt) {
				// The highest unSACKed bytes were retransmitted in this
				// pass already (rule 3): a rescue would repeat them.
				ok = false
			}
			if ok && kind == sack.SegLost {
				return c.retransmit(start, n, kind, now)
			}
			if c.sendNew(inFlight, cwnd, mss, now) {
				return true
			}
			// No new data, or none the windows, Nagle or silly-window
			// avoidance let out: rules 3 and 4.
			return ok && c.retransmit(start, n, kind, now)
		}
	} else {
		inFlight = uint32(c.sndNxt.Sub(c.sndUna))
		// RFC 3042 limited transmit: each of the first two duplicate
		// ACKs lets one new segment out beyond cwnd.
		if d := uint32(c.dupAcks) * mss; c.dupAcks > 0 && c.dupAcks < 3 {
			if inFlight > d {
				inFlight -= d
			} else {
				inFlight = 0
			}
		}
	}
	return c.sendNew(inFlight, cwnd, mss, now)
}

// retransmit sends the NextSeg choice [start, start+n) and updates HighRxt
// or RescueRxt.
func (c *Conn) retransmit(start wire.Seq, n uint32, kind sack.SegKind, now int64) bool {
	if mss := c.mss(); n > mss {
		n = mss
	}
	used := c.transmit(start, n, now)
	if used <= 0 {
		return false
	}
	if kind == sack.SegRescue {
		// RFC 6675 §4 rule 4: RescueRxt = RecoveryPoint; HighRxt is not
		// advanced.
		c.rescueRxt, c.rescueSet = c.recover, true
		return true
	}
	if e := start.Add(uint32(used)); e.GreaterThan(c.highRxt) {
		c.highRxt = e
	}
	c.rxtMax, c.rxtPending = c.sndMax, true
	return true
}

// lostRetransmit detects a lost retransmission during SACK recovery:
// RFC 6675 retransmits a hole once per episode (HighRxt only grows), so a
// lost retransmission would otherwise wait for the RTO. Every byte from
// rxtMax up was first sent after this pass's latest retransmission; when
// enough of it is SACKed that IsLost holds above it (DupThresh segments'
// worth of evidence, as for an original transmission), a hole still
// below HighRxt was retransmitted and lost again. The pass restarts:
// HighRxt = SND.UNA, so NextSeg offers the remaining lost holes again and
// Pipe stops counting the lost retransmissions. (Linux did the same with
// its lost-retransmit marking before RACK; RFC 8985 §6 generalises it.)
func (c *Conn) lostRetransmit(mss uint32) {
	if c.rxtPending && c.board().IsLost(c.rxtMax, mss) {
		c.rxtPending = false
		c.highRxt = c.sndUna
		c.s.stats.LostRetransmits++
	}
}

// sendNew sends one segment of new data (or a lone FIN) from SND.NXT if
// the windows, sender silly-window avoidance and Nagle allow. inFlight is
// what counts against cwnd.
func (c *Conn) sendNew(inFlight, cwnd, mss uint32, now int64) bool {
	seq := c.sndNxt
	end := c.snd.end()
	avail := end.Sub(seq)
	finPending := c.finQueued && seq == end
	if avail <= 0 && !finPending {
		return false
	}
	if avail > 0 {
		if inFlight == 0 && now-c.lastSend > c.rto && c.sndNxt == c.sndMax {
			// RFC 5681 §4.1 restart window after an idle period.
			c.cc.OnIdle(now-c.lastSend, c.rto, now)
			cwnd = c.cc.Cwnd()
		}
		wndRoom := int64(c.sndWnd) - int64(seq.Sub(c.sndUna))
		cwndRoom := int64(cwnd) - int64(inFlight)
		room := wndRoom
		if cwndRoom < room {
			room = cwndRoom
		}
		n := int64(avail)
		if n > int64(mss) {
			n = int64(mss)
		}
		if n > room {
			if c.forceSend && wndRoom > 0 {
				room = wndRoom
			}
			n = room
		}
		if n <= 0 {
			return false
		}
		if !c.forceSend {
			if n < int64(mss) && n < int64(avail) {
				// Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a
				// window-limited piece is sent only if it is at least
				// half the largest window the peer offered, and only
				// with nothing in flight.
				if uint32(n) < c.maxSndWnd/2 || inFlight > 0 {
					return false
				}
			} else if n < int64(mss) && !c.noDelay && c.sndNxt != c.sndUna && !c.finQueued {
				// Nagle (RFC 9293 §3.7.4): hold a small segment while
				// data is unacknowledged.
				return false
			}
		}
		used := c.transmit(seq, uint32(n), now)
		if used <= 0 {
			return false
		}
		c.sndNxt = seq.Add(uint32(used))
		return true
	}
	used := c.transmit(seq, 0, now)
	if used <= 0 {
		return false
	}
	c.sndNxt = seq.Add(uint32(used))
	return true
}

// pipe is the RFC 6675 estimate of data in flight during recovery. Without
// SACK every duplicate ACK is taken as one segment having left the network
// (RFC 5681 §3.2 step 4's window inflation, expressed as a smaller pipe).
func (c *Conn) pipe() uint32 {
	mss := c.mss()
	if c.sackOK {
		return c.board().Pipe(c.sndUna, c.sndMax, c.highRxt, mss)
	}
	f := c.flight()
	d := uint32(c.dupAcks) * mss
	if f > d {
		return f - d
	}
	return 0
}

// armTimers runs the retransmission timer while data is in flight
// (RFC 6298 5.1) and the persist timer when data waits on a window that
// will not let it go (RFC 9293 §3.8.6.1).
func (c *Conn) armTimers(now int64) {
	w := c.s.wheel
	if c.sndMax != c.sndUna {
		if !c.rtxTimer.Armed() || (!c.tlpArmed && c.tlpEligible()) {
			c.armRtx(now)
		}
		w.Cancel(&c.persistTimer)
		return
	}
	c.tlpArmed = false
	w.Cancel(&c.rtxTimer)
	pending := c.snd.end().GreaterThan(c.sndNxt) || (c.finQueued && c.sndNxt == c.snd.end())
	if pending {
		if !c.persistTimer.Armed() {
			w.Schedule(&c.persistTimer, now+c.persistDelay())
		}
	} else {
		w.Cancel(&c.persistTimer)
	}
}

// armRtx (re)starts the retransmission timer: as the tail loss probe
// timeout when a probe is allowed (RFC 8985 §7.2), else as the RTO.
func (c *Conn) armRtx(now int64) {
	d := c.rto
	c.tlpArmed = false
	if c.tlpEligible() {
		if pto := c.pto(); pto < d {
			d = pto
			c.tlpArmed = true
		}
	}
	c.s.wheel.Schedule(&c.rtxTimer, now+d)
}

// tlpEligible is RFC 8985 §7.2's condition for scheduling a loss probe:
// SACK in use (the probe's SACK is what reveals a tail loss), an RTT
// sample, data in flight, not in loss recovery, and no probe outstanding.
func (c *Conn) tlpEligible() bool {
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
	default:
		return false
	}
	return c.sackOK && c.hasRTT && !c.inRecovery && !c.tlpOut && c.backoff == 0 && c.sndMax != c.sndUna
}

// pto is RFC 8985 §7.2's probe timeout: 2·SRTT, plus the peer's
// worst-case delayed-ACK time when only one segment is in flight (its
// ACK may be delayed); otherwise plus 2 ms of slack for the timer wheel,
// as Linux does.
func (c *Conn) pto() int64 {
	d := 2 * c.srtt
	if c.flight() <= c.mss() {
		d += tlpDelAck
	} else {
		d += 2 * ms
	}
	return d
}

// tlpDelAck is WCDelAckT of RFC 8985 §7.2.
const tlpDelAck = 200 * ms

func (c *Conn) persistDelay() int64 {
	d := c.rto << uint(c.probeBack)
	if d > c.s.cfg.MaxRTO || d <= 0 {
		d = c.s.cfg.MaxRTO
	}
	return d
}

// flush ends an event on the connection: OnWritable if a short Write is
// waiting for room, window updates, then output and any owed ACK.
func (c *Conn) flush(now int64) {
	if c.state == StateClosed {
		return
	}
	if c.wantWritable && !c.memWait && !c.closed && c.s.cfg.SendBuf-c.snd.n >= c.s.cfg.SendBuf/2 && c.h != nil {
		c.wantWritable = false
		c.h.OnWritable(c, now)
		if c.state == StateClosed {
			return
		}
	}
	switch c.state {
	case StateEstablished, StateFinWait1, StateFinWait2:
		// Window update, only when the application consumed buffered
		// bytes (in-line consumption does not change the window) once the application has made room
		// (RFC 9293 §3.8.6.2.2 thresholds).
		adv := uint32(0)
		if d := c.rcvAdv.Sub(c.rcvNxt); d > 0 {
			adv = uint32(d)
		}
		if w := c.advWindow(); c.winOpened && w > adv && w-adv >= c.windowStep() {
			c.ackNow = true
		}
	}
	c.winOpened = false
	c.output(now)
	if c.ackNow && c.state != StateClosed && c.state != StateSynSent {
		c.sendAck(now)
	}
}

func (c *Conn) windowStep() uint32 {
	step := uint32(c.s.cfg.RecvBuf / 2)
	if m := 2 * uint32(c.s.cfg.MSS); m < step {
		step = m
	}
	return step
}
