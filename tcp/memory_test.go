package tcp_test

import (
	"testing"
	"unsafe"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/tcp/tcptest"
	"github.com/shardnet/shardnet/wire"
)

// memApp keeps what it is told to: with take false OnData consumes
// nothing (the bytes stay in the receive buffer).
type memApp struct {
	take     bool
	c        *tcp.Conn
	writable int
}

func (a *memApp) OnOpen(c *tcp.Conn, now int64) { a.c = c }
func (a *memApp) OnData(c *tcp.Conn, d []byte, now int64) int {
	if a.take {
		return len(d)
	}
	return 0
}
func (a *memApp) OnWritable(c *tcp.Conn, now int64)                 { a.writable++ }
func (a *memApp) OnPeerClosed(c *tcp.Conn, now int64)               {}
func (a *memApp) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) { a.c = nil }

// memConn is one harness connection (no options: windows are in bytes).
type memConn struct {
	app      *memApp
	port     uint16
	seq, ack wire.Seq // the peer's next sequence number and what it acked
	win      uint16   // the window in our SYN-ACK
}

// routes hands each connection's listener callbacks to its own memApp.
type routes map[uint16]*memApp

func (r routes) app(c *tcp.Conn) *memApp { _, p := c.RemoteAddr(); return r[p] }
func (r routes) OnOpen(c *tcp.Conn, now int64) {
	c.SetHandler(r.app(c))
	r.app(c).OnOpen(c, now)
}
func (r routes) OnData(c *tcp.Conn, d []byte, now int64) int     { return r.app(c).OnData(c, d, now) }
func (r routes) OnWritable(c *tcp.Conn, now int64)               { r.app(c).OnWritable(c, now) }
func (r routes) OnPeerClosed(c *tcp.Conn, now int64)             {}
func (r routes) OnClose(c *tcp.Conn, _ tcp.CloseReason, _ int64) {}

func openMem(t *testing.T, h *tcptest.Harness, r routes, port uint16) *memConn {
	t.Helper()
	m := &memConn{app: &memApp{take: true}, port: port, seq: 1000}
	r[port] = m.app
	h.Send(Seg{SrcPort: port, Seq: m.seq, Flags: SYN, Window: 65535, Opts: wire.TCPOptions{MSS: 1460, HasMSS: true}})
	g := h.Expect(t, "SYN-ACK", Flags(SYN|ACK))
	m.seq = m.seq.Add(1)
	m.ack = g.Seq.Add(1)
	m.win = g.Window
	h.Send(Seg{SrcPort: port, Seq: m.seq, Ack: m.ack, Flags: ACK, Window: 65535})
	if m.app.c == nil {
		t.Fatalf("port %d: not established", port)
	}
	return m
}

// send delivers n bytes from the peer and returns our answer, if any.
func (m *memConn) send(h *tcptest.Harness, n int) {
	h.Send(Seg{SrcPort: m.port, Seq: m.seq, Ack: m.ack, Flags: ACK, Window: 65535, Payload: make([]byte, n)})
	m.seq = m.seq.Add(uint32(n))
}

func TestIdleConnectionHoldsNoBuffers(t *testing.T) {
	h := tcptest.New(t, tcp.Config{})
	r := routes{}
	h.Stack.Listen(tcptest.LocalPort, r)
	a := openMem(t, h, r, 40001)
	h.Drain()
	if st := h.Stack.Stats(); st.BufBytes != 0 {
		t.Fatalf("established idle connection holds %d buffer bytes", st.BufBytes)
	}
	// Consumed in line: no receive buffer at all.
	a.send(h, 1000)
	if st := h.Stack.Stats(); st.BufBytes != 0 || st.BufBytesHigh != 0 {
		t.Fatalf("data consumed in OnData took buffer memory: %+v", st)
	}
	// Kept: a small buffer (one page), not Config.RecvBuf.
	a.app.take = false
	a.send(h, 1000)
	if st := h.Stack.Stats(); st.BufBytes != 4096 {
		t.Fatalf("1000 unconsumed bytes hold %d buffer bytes, want 4096", st.BufBytes)
	}
	for i := 0; i < 5; i++ {
		a.send(h, 1000) // grows to the next class, keeping the bytes in order
	}
	if st := h.Stack.Stats(); st.BufBytes != 8192 || a.app.c.Unread() != 6000 {
		t.Fatalf("6000 unconsumed bytes: %d buffer bytes, %d unread", h.Stack.Stats().BufBytes, a.app.c.Unread())
	}
	a.app.take = true
	a.app.c.Resume(h.Now)
	if st := h.Stack.Stats(); st.BufBytes != 0 || st.BufFreeBytes == 0 {
		t.Fatalf("consumed receive buffer not given back: %+v", st)
	}
	// Written and acknowledged: the send buffer comes and goes.
	if n := a.app.c.Write(make([]byte, 3000), h.Now); n != 3000 {
		t.Fatalf("Write = %d", n)
	}
	if st := h.Stack.Stats(); st.BufBytes != 4096 {
		t.Fatalf("3000 unacknowledged bytes hold %d buffer bytes", st.BufBytes)
	}
	for end := a.ack.Add(3000); a.ack != end; {
		for _, g := range h.Drain() {
			if e := g.Seq.Add(uint32(len(g.Payload))); e.GreaterThan(a.ack) {
				a.ack = e
			}
		}
		h.Send(Seg{SrcPort: a.port, Seq: a.seq, Ack: a.ack, Flags: ACK, Window: 65535})
		h.Advance(ms)
	}
	if st := h.Stack.Stats(); st.BufBytes != 0 || a.app.c.Buffered() != 0 {
		t.Fatalf("acknowledged send buffer not given back: %+v", st)
	}
	h.Drain()
}

// A connection that goes idle, busy (bytes kept on both sides), idle
// again allocates nothing once the free lists hold its buffers.
func TestZeroAllocIdleBusyIdle(t *testing.T) {
	h := tcptest.New(t, tcp.Config{})
	h.Out = make([]*buf.Packet, 0, 64)
	r := routes{}
	h.Stack.Listen(tcptest.LocalPort, r)
	a := openMem(t, h, r, 40001)
	releaseOut(h)
	data := make([]byte, 1400)
	seg := Seg{SrcPort: a.port, Flags: ACK, Window: 65535, Payload: data}
	ackSeg := Seg{SrcPort: a.port, Flags: ACK, Window: 65535}
	run := func() {
		a.app.take = false
		for i := 0; i < 4; i++ {
			seg.Seq, seg.Ack = a.seq, a.ack
			h.Send(seg)
			a.seq = a.seq.Add(uint32(len(data)))
		}
		if n := a.app.c.Write(data, h.Now); n != len(data) {
			t.Fatalf("Write = %d", n)
		}
		a.ack = a.ack.Add(uint32(len(data)))
		a.app.take = true
		a.app.c.Resume(h.Now)
		ackSeg.Seq, ackSeg.Ack = a.seq, a.ack
		h.Send(ackSeg)
		releaseOut(h)
	}
	for i := 0; i < 10; i++ {
		run()
	}
	if a := testing.AllocsPerRun(500, run); a != 0 {
		t.Fatalf("%.1f allocations per idle/busy/idle round", a)
	}
	if st := h.Stack.Stats(); st.BufBytes != 0 || st.BufBytesHigh == 0 {
		t.Fatalf("buffers after the rounds: %+v", st)
	}
}

func TestBufferBudget(t *testing.T) {
	const sz = 16 << 10
	h := tcptest.New(t, tcp.Config{SendBuf: sz, RecvBuf: sz, MaxBufferBytes: 2 * sz})
	r := routes{}
	h.Stack.Listen(tcptest.LocalPort, r)
	a := openMem(t, h, r, 40001)
	b := openMem(t, h, r, 40002)
	c := openMem(t, h, r, 40003)
	if c.win != sz {
		t.Fatalf("SYN-ACK window %d, want %d", c.win, sz)
	}
	h.Drain()

	// a keeps 12000 received bytes (a 16 KiB buffer), b fills its send
	// buffer: the budget is spent.
	a.app.take = false
	for i := 0; i < 12; i++ {
		a.send(h, 1000)
	}
	if n := b.app.c.Write(make([]byte, 40000), h.Now); n != sz {
		t.Fatalf("b: Write = %d, want %d", n, sz)
	}
	h.Drain()
	st := h.Stack.Stats()
	if st.BufBytes != 2*sz || st.BufBytesHigh != 2*sz {
		t.Fatalf("budget not spent: %+v", st)
	}

	// c can buffer nothing: Write is short, and in-window data it does
	// not consume at once is dropped without advancing RCV.NXT.
	if n := c.app.c.Write([]byte("hello"), h.Now); n != 0 {
		t.Fatalf("c: Write = %d with the budget spent", n)
	}
	if ws := c.app.c.WriteSpace(); ws != 0 {
		t.Fatalf("c: WriteSpace = %d with the budget spent", ws)
	}
	c.app.take = false
	h.Send(Seg{SrcPort: c.port, Seq: c.seq, Ack: c.ack, Flags: ACK, Window: 65535, Payload: make([]byte, 1000)})
	g := h.Expect(t, "ACK for data that could not be kept", Flags(ACK))
	if g.Ack != c.seq {
		t.Fatalf("c: ACK %d after dropped data, want %d (RCV.NXT unchanged)", g.Ack, c.seq)
	}
	// The right edge stays where the SYN-ACK put it (RFC 9293 §3.8.6).
	if g.Window != sz {
		t.Fatalf("c: window %d, want the promised %d", g.Window, sz)
	}
	st = h.Stack.Stats()
	if st.Drops[tcp.DropBufferLimit] != 1 || st.BufRefusals < 2 {
		t.Fatalf("refusals not counted: drops %d, refusals %d", st.Drops[tcp.DropBufferLimit], st.BufRefusals)
	}
	// Data c's application consumes in OnData needs no buffer.
	c.app.take = true
	c.send(h, 1000)
	if got := c.app.c.Info().RcvNxt; got != c.seq {
		t.Fatalf("c: in-line data not accepted: RCV.NXT %d, want %d", got, c.seq)
	}
	h.Drain()

	// Once a's application reads, the budget returns and c, whose Write
	// came up short, hears OnWritable.
	a.app.take = true
	a.app.c.Resume(h.Now)
	if c.app.writable != 1 || h.Stack.Stats().MemWaitWakeups != 1 {
		t.Fatalf("c: %d OnWritable after memory came back (wakeups %d)", c.app.writable, h.Stack.Stats().MemWaitWakeups)
	}
	if n := c.app.c.Write([]byte("hello"), h.Now); n != 5 {
		t.Fatalf("c: Write = %d after memory came back", n)
	}
	h.Drain()
}

// Under budget pressure the window offered shrinks to what could still
// be buffered (but never below what was promised).
func TestBufferBudgetShrinksWindow(t *testing.T) {
	const sz = 16 << 10
	h := tcptest.New(t, tcp.Config{SendBuf: sz, RecvBuf: sz, MaxBufferBytes: 2 * sz})
	r := routes{}
	h.Stack.Listen(tcptest.LocalPort, r)
	a := openMem(t, h, r, 40001)
	b := openMem(t, h, r, 40002)
	h.Drain()
	// a holds 16 KiB; b holds 8000 unconsumed bytes in an 8 KiB buffer:
	// 8 KiB of budget are left, so b may grow to 16 KiB at most.
	if n := a.app.c.Write(make([]byte, sz), h.Now); n != sz {
		t.Fatalf("a: Write = %d", n)
	}
	h.Drain()
	b.app.take = false
	for i := 0; i < 7; i++ {
		b.send(h, 1000)
	}
	h.Drain()
	b.send(h, 1000) // 8000 kept; the (delayed) ACK carries the window
	h.Advance(50 * ms)
	g := h.Expect(t, "ACK", Flags(ACK))
	// Promised before: the SYN-ACK's 16384 from ISN+1; RCV.NXT moved 8000
	// → at least 8384 remain promised. Space: 8 KiB budget + 192 free in
	// the buffer = 8384 (both bounds agree here).
	if g.Window != 8384 {
		t.Fatalf("window %d, want 8384", g.Window)
	}
	if st := h.Stack.Stats(); st.BufBytes != sz+8192 {
		t.Fatalf("BufBytes %d", st.BufBytes)
	}
	h.Drain()
}

// The Conn object is what every slot of Config.MaxConns costs whether or
// not it is in use; what a connection needs only while busy (buffers,
// out-of-order queue, SACK scoreboard) is taken on demand instead. The
// bound catches a large structure embedded again.
func TestConnSize(t *testing.T) {
	const max = 768
	if sz := unsafe.Sizeof(tcp.Conn{}); sz > max {
		t.Fatalf("sizeof(tcp.Conn) = %d bytes, want ≤ %d", sz, max)
	} else {
		t.Logf("sizeof(tcp.Conn) = %d bytes", sz)
	}
}
