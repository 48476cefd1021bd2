package tcp

import "github.com/shardnet/shardnet/wire"

// State returns the connection's RFC 9293 state.
func (c *Conn) State() State { return c.state }

// RemoteAddr returns the peer's address and port.
func (c *Conn) RemoteAddr() ([4]byte, uint16) { return c.raddr, c.rport }

// LocalPort returns our port.
func (c *Conn) LocalPort() uint16 { return c.lport }

// Context returns the value set with SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetContext attaches an application value to the connection (cleared when
// it closes).
func (c *Conn) SetContext(v any) { c.ctx = v }

// SetHandler makes h the connection's handler from now on (e.g. from the
// listener's OnOpen).
func (c *Conn) SetHandler(h Handler) {
	if h != nil && c.h != nil {
		c.h = h
	}
}

// SetNoDelay turns Nagle's algorithm off (true) or on (false).
func (c *Conn) SetNoDelay(on bool) { c.noDelay = on }

// Buffered returns the bytes written and not yet acknowledged.
func (c *Conn) Buffered() int { return c.snd.n }

// WriteSpace returns how many bytes Write would accept now (at most; the
// shard's buffer budget is shared, and buffers grow in size classes).
func (c *Conn) WriteSpace() int {
	if !c.canWrite() {
		return 0
	}
	f := c.s.cfg.SendBuf - c.snd.n
	if a := int64(len(c.snd.b)-c.snd.n) + c.s.bufs.avail(); a < int64(f) {
		f = int(a)
	}
	return f
}

// Unread returns the received bytes the application has not consumed.
func (c *Conn) Unread() int { return c.rcv.len() }

func (c *Conn) canWrite() bool {
	if c.closed {
		return false
	}
	switch c.state {
	case StateSynSent, StateSynReceived, StateEstablished, StateCloseWait:
		return true
	}
	return false
}

// Write copies as much of b as fits into the send buffer and returns how
// much; the data is sent as the windows allow. It is short when the send
// buffer (Config.SendBuf) is full, or when the shard's buffer budget
// (Config.MaxBufferBytes) is spent. When it returns less than len(b),
// OnWritable is called once there is room again: when acknowledgments
// empty half the buffer, or when other connections give budget back.
// After Close, or once the connection is closing, it returns 0.
func (c *Conn) Write(b []byte, now int64) int {
	if !c.canWrite() || len(b) == 0 {
		return 0
	}
	n := c.snd.write(b, &c.s.bufs, c.s.cfg.SendBuf)
	if n < len(b) {
		c.wantWritable = true
		if c.snd.n < c.s.cfg.SendBuf {
			c.waitMem()
		}
	}
	if !c.busy && n > 0 {
		c.s.enter(now)
		c.output(now)
		c.s.leave()
	}
	return n
}

// Close closes our direction gracefully (RFC 9293 §3.10.4): a FIN is sent
// after the data already written. Received data keeps arriving until the
// peer closes too; OnClose follows when both directions are done.
func (c *Conn) Close(now int64) {
	if c.closed {
		return
	}
	s := c.s
	s.enter(now)
	defer s.leave()
	switch c.state {
	case StateSynSent:
		c.closed = true
		c.destroy(CloseNormal, now)
		return
	case StateSynReceived:
		c.closed, c.finQueued = true, true // FIN-WAIT-1 once established
		return
	case StateEstablished:
		c.setState(StateFinWait1)
	case StateCloseWait:
		c.setState(StateLastAck)
	default:
		return
	}
	c.closed, c.finQueued = true, true
	if !c.busy {
		c.output(now)
	}
}

// Abort resets the connection (RFC 9293 §3.10.5): a RST is sent (except
// in SYN-SENT), queued data is discarded, and OnClose runs with
// CloseAborted before Abort returns.
func (c *Conn) Abort(now int64) {
	if c.state == StateClosed {
		return
	}
	s := c.s
	s.enter(now)
	defer s.leave()
	switch c.state {
	case StateSynSent, StateTimeWait:
	default:
		c.send(c.sndNxt, wire.TCPFlagRST|wire.TCPFlagACK, 0, 0, now)
	}
	c.destroy(CloseAborted, now)
}

// Resume offers the unconsumed received bytes to OnData again and sends a
// window update if consuming them opened the window enough. Inside one of
// this connection's own callbacks it does nothing (return a larger count
// from OnData instead).
func (c *Conn) Resume(now int64) {
	if c.state == StateClosed || c.h == nil || c.busy {
		return
	}
	s := c.s
	s.enter(now)
	defer s.leave()
	c.busy = true
	c.offer(now)
	c.busy = false
	c.flush(now)
}

// Info is a snapshot of a connection's transmission state, for tests and
// diagnostics.
type Info struct {
	State            State
	SRTT, RTTVar     int64 // ns
	RTO              int64 // ns
	Cwnd, Ssthresh   uint32
	SndWnd, RcvWnd   uint32
	InFlight         uint32
	MSS              uint32 // payload bytes per full segment
	SndWScale        uint8
	RcvWScale        uint8
	Timestamps, SACK bool
	InRecovery       bool
	Buffered, Unread int
	OOOSegs          int
	Sacked           uint32 // bytes the SACK scoreboard holds above SND.UNA
	ISS, IRS         wire.Seq
	SndUna, SndNxt   wire.Seq
	RcvNxt           wire.Seq
}

// Info returns the connection's transmission state.
func (c *Conn) Info() Info {
	i := Info{State: c.state, SRTT: c.srtt, RTTVar: c.rttvar, RTO: c.rto,
		SndWnd: c.sndWnd, RcvWnd: c.rcvWindow(), InFlight: c.flight(), MSS: c.mss(),
		SndWScale: c.sndWscale, RcvWScale: c.rcvWscale, Timestamps: c.tsOK, SACK: c.sackOK,
		InRecovery: c.inRecovery, Sacked: c.board().SackedBytes(), Buffered: c.snd.n, Unread: c.rcv.len(), OOOSegs: len(c.ooo.e),
		ISS: c.iss, IRS: c.irs, SndUna: c.sndUna, SndNxt: c.sndNxt, RcvNxt: c.rcvNxt}
	if c.cc != nil {
		i.Cwnd, i.Ssthresh = c.cc.Cwnd(), c.cc.Ssthresh()
	}
	return i
}
