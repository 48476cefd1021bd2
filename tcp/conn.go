package tcp

import (
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/tcp/congestion"
	"github.com/shardnet/shardnet/tcp/sack"
	"github.com/shardnet/shardnet/wire"
)

// State is a connection state of RFC 9293 §3.3.2.
type State uint8

const (
	StateClosed State = iota
	StateListen
	StateSynSent
	StateSynReceived
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateClosing
	StateLastAck
	StateTimeWait
)

var stateNames = [...]string{"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}

// String returns the RFC's name of the state.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "?"
}

// synchronized reports whether the state is one of RFC 9293's synchronized
// states (ESTABLISHED and later).
func (s State) synchronized() bool { return s >= StateEstablished }

// CloseReason says why a connection ended (Handler.OnClose).
type CloseReason uint8

const (
	CloseNormal   CloseReason = iota // both FINs exchanged and acknowledged (or TIME-WAIT ended)
	CloseReset                       // the peer sent RST
	CloseRefused                     // RST in answer to our SYN
	CloseAborted                     // the application called Abort (we sent RST)
	CloseTimeout                     // retransmissions, SYN retries or keepalive probes exhausted
	CloseFinWait2                    // FIN-WAIT-2 timed out after Close
)

var closeNames = [...]string{"normal", "reset", "refused", "aborted", "timeout", "fin-wait-2 timeout"}

func (r CloseReason) String() string {
	if int(r) < len(closeNames) {
		return closeNames[r]
	}
	return "?"
}

// Handler receives a connection's events. Methods run inline on the shard
// thread and must not block. data in OnData is borrowed and valid only
// until OnData returns; OnData returns how many bytes it consumed.
type Handler interface {
	// OnOpen: the connection is ESTABLISHED (active or passive open).
	OnOpen(c *Conn, now int64)
	// OnData: in-order bytes are readable. Return how many were consumed;
	// the rest are kept and offered again, ahead of new data.
	OnData(c *Conn, data []byte, now int64) int
	// OnWritable: a Write that came up short can now make progress.
	OnWritable(c *Conn, now int64)
	// OnPeerClosed: the peer sent FIN; no more data will arrive (bytes not
	// yet consumed remain available through Resume).
	OnPeerClosed(c *Conn, now int64)
	// OnClose: the connection is over (closed, reset, timed out, or in
	// TIME-WAIT, which needs nothing from the application). c must not be
	// used after this returns. Called exactly once for every Dialed
	// connection (also when the dial fails) and every passive connection
	// whose OnOpen ran.
	OnClose(c *Conn, reason CloseReason, now int64)
}

// Conn is one TCP connection. It belongs to its Stack's shard; use it only
// from that thread, and only until its OnClose returns.
type Conn struct {
	s     *Stack
	idx   int32
	state State
	h     Handler
	ctx   any

	raddr        [4]byte
	rport, lport uint16
	active       bool      // opened by Dial
	lst          *listener // passive: the listener whose backlog counts us in SYN-RECEIVED
	notified     bool      // OnOpen ran (OnClose is due)
	closed       bool      // application called Close (no more writes)
	peerClosed   bool      // OnPeerClosed delivered
	noDelay      bool
	wantWritable bool
	memWait      bool // a Write came up short for lack of buffer budget: on the stack's memWait list

	// Send sequence space (RFC 9293 §3.3.1).
	iss            wire.Seq
	sndUna, sndNxt wire.Seq
	sndMax         wire.Seq // highest sequence number sent + 1
	sndWnd         uint32   // peer's window, scaled
	maxSndWnd      uint32
	sndWl1, sndWl2 wire.Seq
	sndWscale      uint8
	rcvWscale      uint8
	peerMSS        uint16 // peer's MSS option (536 if absent)
	finQueued      bool   // a FIN follows the buffered data
	lastSend       int64

	// Receive sequence space.
	irs         wire.Seq
	rcvNxt      wire.Seq
	rcvAdv      wire.Seq // right edge of the window we advertised
	lastAckSent wire.Seq

	// Options negotiated (RFC 7323, RFC 2018).
	tsOK, sackOK bool
	wsOK         bool // window scaling in use (both SYNs carried the option)
	tsRecent     uint32
	tsOffset     uint32

	// ACK policy.
	ackNow       bool // send an ACK at the end of this event
	dsack        bool // a D-SACK block is pending in rb (RFC 2883)
	unackedBytes int  // in-order bytes received since our last ACK
	busy         bool // inside input: writes are flushed when it ends
	forceSend    bool // persist timer: override Nagle / sender SWS once
	winOpened    bool // the application consumed buffered bytes: maybe a window update
	lastRecv     int64
	kaProbes     int
	probeBack    int // persist back-off exponent

	snd sendBuf
	rcv recvBuf
	ooo reassembly

	// RTT estimation (RFC 6298).
	srtt, rttvar, rto int64
	hasRTT            bool
	rttTiming         bool
	rttSeq            wire.Seq
	rttStart          int64
	backoff           int
	rtoTS             uint32 // our TSval when the last RTO fired (valid if rtoTSSet)
	rtoTSSet          bool
	retries           int

	// Loss recovery (RFC 5681/6582/6675).
	cc congestion.Controller
	// sb is the SACK scoreboard (RFC 6675), taken from the Stack only
	// while the peer has SACKed data above SND.UNA and given back when it
	// is empty (nil then: an idle connection holds none; see board).
	sb         *sack.Scoreboard
	rb         sack.RecvBlocks
	inRecovery bool
	recover    wire.Seq
	dupAcks    int
	highRxt    wire.Seq
	rescueRxt  wire.Seq // RFC 6675 RescueRxt, valid when rescueSet
	rescueSet  bool
	// Lost retransmission detection: rxtMax is SND.MAX when the latest
	// retransmission of this pass (rules 1 and 3) went out; rxtPending
	// says one did.
	rxtMax     wire.Seq
	rxtPending bool

	// Tail loss probe (RFC 8985 §7): tlpArmed says the retransmission
	// timer is running as the probe timeout (PTO); tlpOut that a probe is
	// outstanding, until SND.UNA passes tlpHigh.
	tlpArmed, tlpOut, tlpRetrans bool
	tlpHigh                      wire.Seq

	rtxTimer, delackTimer, persistTimer, kaTimer timer.Timer

	twListed       bool  // on the stack's TIME-WAIT list
	twPrev, twNext int32 // neighbours on it (-1: none)
}

func (c *Conn) key() flowKey { return flowKey{raddr: c.raddr, rport: c.rport, lport: c.lport} }

func (c *Conn) initTimers() {
	c.rtxTimer.Init(c.onRetransmitTimer)
	c.delackTimer.Init(c.onDelackTimer)
	c.persistTimer.Init(c.onPersistTimer)
	c.kaTimer.Init(c.onKeepaliveTimer)
}

// reset prepares a pool slot for a new connection.
func (c *Conn) reset(raddr [4]byte, rport, lport uint16, h Handler, now int64) {
	s := c.s
	c.releaseMem()
	cc := c.cc
	rt, dt, pt, kt := c.rtxTimer, c.delackTimer, c.persistTimer, c.kaTimer
	*c = Conn{s: s, idx: c.idx}
	c.rtxTimer, c.delackTimer, c.persistTimer, c.kaTimer = rt, dt, pt, kt
	if cc == nil {
		cc, _ = congestion.New(s.cfg.Congestion) // validated in New
	}
	c.cc = cc
	c.raddr, c.rport, c.lport, c.h = raddr, rport, lport, h
	c.noDelay = s.cfg.NoDelay
	c.peerMSS = 536
	c.rto = s.cfg.InitialRTO
	c.lastRecv = now
	c.lastSend = now
}

// mss returns the largest payload of a data segment: the peer's MSS less
// the options every segment carries (RFC 9293 §3.7.1).
func (c *Conn) mss() uint32 {
	m := uint32(c.peerMSS)
	if our := uint32(c.s.cfg.MSS); our < m {
		m = our
	}
	if c.tsOK {
		m -= 12
	}
	return m
}

func (c *Conn) setState(st State) {
	if c.state == StateSynReceived && c.lst != nil {
		c.lst.synRcvd--
		c.lst = nil
	}
	c.state = st
}

// establish enters ESTABLISHED and tells the application.
func (c *Conn) establish(now int64) {
	c.setState(StateEstablished)
	c.recover = c.sndUna
	c.s.stats.Established++
	c.cc.Init(c.mss(), now)
	if c.s.cfg.Keepalive > 0 {
		c.s.wheel.Schedule(&c.kaTimer, now+c.s.cfg.Keepalive)
	}
	if c.finQueued {
		c.setState(StateFinWait1)
	}
	c.notified = true
	c.h.OnOpen(c, now)
}

// destroy ends the connection: timers off, held packets released, out of
// the flow table, the application told (if it knows the connection), and
// the object queued for reuse once the current event is over.
func (c *Conn) destroy(reason CloseReason, now int64) {
	if c.state == StateClosed {
		return
	}
	s := c.s
	c.setState(StateClosed)
	w := s.wheel
	w.Cancel(&c.rtxTimer)
	w.Cancel(&c.delackTimer)
	w.Cancel(&c.persistTimer)
	w.Cancel(&c.kaTimer)
	c.releaseMem()
	s.flows.remove(c.key())
	c.twUnlink()
	if reason == CloseTimeout {
		s.stats.Timeouts++
	}
	c.notifyClose(reason, now)
	c.ctx = nil
	s.zombies = append(s.zombies, c.idx)
}

// twAppend puts the connection, just entered TIME-WAIT, at the tail of
// the stack's TIME-WAIT list.
func (c *Conn) twAppend() {
	s := c.s
	c.twListed, c.twPrev, c.twNext = true, s.twTail, -1
	if s.twTail >= 0 {
		s.pool[s.twTail].twNext = c.idx
	} else {
		s.twHead = c.idx
	}
	s.twTail = c.idx
}

// twUnlink takes the connection off the TIME-WAIT list, if it is on it.
func (c *Conn) twUnlink() {
	if !c.twListed {
		return
	}
	s := c.s
	if c.twPrev >= 0 {
		s.pool[c.twPrev].twNext = c.twNext
	} else {
		s.twHead = c.twNext
	}
	if c.twNext >= 0 {
		s.pool[c.twNext].twPrev = c.twPrev
	} else {
		s.twTail = c.twPrev
	}
	c.twListed, c.twPrev, c.twNext = false, -1, -1
}

// recycleTimeWait ends a TIME-WAIT connection early so that its pool slot
// can serve a new connection at once (the pool is full). Its application
// was told at TIME-WAIT entry and holds no reference, and nothing up the
// stack uses it (a TIME-WAIT connection runs no callbacks), so it skips
// the zombie queue. A late retransmitted FIN from its peer now gets a
// RST, as from Linux when its TIME-WAIT buckets overflow.
func (c *Conn) recycleTimeWait() {
	s := c.s
	c.twUnlink()
	s.wheel.Cancel(&c.rtxTimer)
	s.wheel.Cancel(&c.delackTimer)
	s.wheel.Cancel(&c.persistTimer)
	s.wheel.Cancel(&c.kaTimer)
	c.releaseMem()
	s.flows.remove(c.key())
	c.setState(StateClosed)
	s.stats.TimeWaitRecycled++
}

// notifyClose tells the application, once, that the connection is over.
func (c *Conn) notifyClose(reason CloseReason, now int64) {
	h := c.h
	c.h = nil
	if h != nil && (c.notified || c.active) {
		c.notified = false
		h.OnClose(c, reason, now)
	}
}

// releaseMem gives the connection's buffers and reassembly queue back to
// the stack (the connection is over, or in TIME-WAIT, which needs none).
func (c *Conn) releaseMem() {
	s := c.s
	c.snd.reset(&s.bufs)
	c.rcv.reset(&s.bufs)
	c.ooo.releaseAll()
	s.putOOO(&c.ooo)
	c.putBoard()
	c.memWait = false
}

// rcvSpace is the receive buffer space we can promise: what the
// application has not filled of Config.RecvBuf, less what the shard's
// buffer budget could not supply (Config.MaxBufferBytes).
func (c *Conn) rcvSpace() int {
	f := c.s.cfg.RecvBuf - c.rcv.len()
	if a := int64(len(c.rcv.b)-c.rcv.len()) + c.s.bufs.avail(); a < int64(f) {
		f = int(a)
	}
	return f
}

// rcvWindow is the receive window we can offer (rcvSpace), rounded down
// to our scale. advWindow keeps the right edge from moving left.
func (c *Conn) rcvWindow() uint32 {
	f := c.rcvSpace()
	if lim := 65535 << c.rcvWscale; f > lim {
		f = lim
	}
	return uint32(f) >> c.rcvWscale << c.rcvWscale
}

// flight is the data (and SYN/FIN) sent and not yet acknowledged.
func (c *Conn) flight() uint32 { return uint32(c.sndMax.Sub(c.sndUna)) }
