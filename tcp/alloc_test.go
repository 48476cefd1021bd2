package tcp_test

import (
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/tcp/tcptest"
	"github.com/shardnet/shardnet/wire"
)

// sink is a Handler that consumes everything and records nothing.
type sink struct{ c *tcp.Conn }

func (s *sink) OnOpen(c *tcp.Conn, now int64)                     { s.c = c }
func (s *sink) OnData(c *tcp.Conn, d []byte, now int64) int       { return len(d) }
func (s *sink) OnWritable(c *tcp.Conn, now int64)                 {}
func (s *sink) OnPeerClosed(c *tcp.Conn, now int64)               {}
func (s *sink) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) { s.c = nil }

func releaseOut(h *tcptest.Harness) int {
	n := len(h.Out)
	for _, p := range h.Out {
		p.Release()
	}
	h.Out = h.Out[:0]
	return n
}

// allocConn opens a connection with timestamps and SACK to a sink.
func allocConn(t *testing.T) (*tcptest.Harness, *sink, wire.Seq, wire.Seq) {
	h := tcptest.New(t, tcp.Config{})
	h.Out = make([]*buf.Packet, 0, 64)
	s := &sink{}
	h.Stack.Listen(80, s)
	h.Send(Seg{Seq: 100, Flags: SYN, Opts: tcptest.SynOpts(1460, 7, 1)})
	g := h.Expect(t, "SYN-ACK", Flags(SYN|ACK))
	h.Send(Seg{Seq: 101, Ack: g.Seq + 1, Flags: ACK, Opts: wire.TCPOptions{HasTimestamps: true, TSVal: 2, TSEcr: g.Opts.TSVal}})
	if s.c == nil {
		t.Fatal("not established")
	}
	return h, s, 101, g.Seq + 1
}

func TestZeroAllocReceive(t *testing.T) {
	h, s, seq, ack := allocConn(t)
	payload := make([]byte, 1448)
	tsv := uint32(10)
	seg := Seg{Flags: ACK, Payload: payload, Opts: wire.TCPOptions{HasTimestamps: true}}
	run := func() {
		seg.Seq, seg.Ack = seq, ack
		tsv++
		seg.Opts.TSVal = tsv
		h.Send(seg)
		seq = seq.Add(uint32(len(payload)))
		releaseOut(h)
	}
	for i := 0; i < 10; i++ {
		run()
	}
	if a := testing.AllocsPerRun(1000, run); a != 0 {
		t.Fatalf("%.1f allocations per data segment received (and ACK sent)", a)
	}
	if s.c.Info().RcvNxt != seq {
		t.Fatal("data not received")
	}
}

func TestZeroAllocReceiveOutOfOrder(t *testing.T) {
	h, _, seq, ack := allocConn(t)
	payload := make([]byte, 1000)
	seg := Seg{Flags: ACK, Payload: payload}
	run := func() {
		// Two segments, the second first: a SACKed hole, then the fill.
		seg.Seq, seg.Ack = seq.Add(1000), ack
		h.Send(seg)
		seg.Seq = seq
		h.Send(seg)
		seq = seq.Add(2000)
		releaseOut(h)
	}
	for i := 0; i < 10; i++ {
		run()
	}
	if a := testing.AllocsPerRun(1000, run); a != 0 {
		t.Fatalf("%.1f allocations per out-of-order exchange", a)
	}
	if h.Slab.InUse() != 0 {
		t.Fatalf("%d frames held", h.Slab.InUse())
	}
}

func TestZeroAllocSend(t *testing.T) {
	h, s, seq, ack := allocConn(t)
	data := make([]byte, 1448)
	tsv := uint32(10)
	ackSeg := Seg{Flags: ACK, Opts: wire.TCPOptions{HasTimestamps: true}}
	run := func() {
		if n := s.c.Write(data, h.Now); n != len(data) {
			t.Fatalf("Write = %d", n)
		}
		if releaseOut(h) != 1 {
			t.Fatal("no segment sent")
		}
		ack = ack.Add(uint32(len(data)))
		tsv++
		ackSeg.Seq, ackSeg.Ack, ackSeg.Opts.TSVal = seq, ack, tsv
		h.Send(ackSeg)
		releaseOut(h)
	}
	for i := 0; i < 10; i++ {
		run()
	}
	if a := testing.AllocsPerRun(1000, run); a != 0 {
		t.Fatalf("%.1f allocations per segment sent and ACK received", a)
	}
}

func TestZeroAllocTimers(t *testing.T) {
	h, s, seq, ack := allocConn(t)
	payload := make([]byte, 100)
	seg := Seg{Flags: ACK, Payload: payload}
	run := func() {
		// A small segment (delayed ACK timer) and an RTO-driven
		// retransmission of a write.
		seg.Seq, seg.Ack = seq, ack
		h.Send(seg)
		seq = seq.Add(100)
		h.Advance(40 * ms)
		s.c.Write(payload, h.Now)
		h.Advance(300 * ms)
		ack = ack.Add(100)
		h.Send(Seg{Seq: seq, Ack: ack, Flags: ACK})
		releaseOut(h)
	}
	for i := 0; i < 10; i++ {
		run()
	}
	if a := testing.AllocsPerRun(200, run); a != 0 {
		t.Fatalf("%.1f allocations per timer round", a)
	}
}
