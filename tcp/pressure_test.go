package tcp_test

import (
	"testing"

	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/tcp/tcptest"
	"github.com/shardnet/shardnet/wire"
)

// ---------------------------------------------------------------------
// Resource pressure: TIME-WAIT recycling, RST rate limit
// ---------------------------------------------------------------------

// toTimeWait opens a passive connection from sport and closes it actively
// (we send the first FIN), leaving it in TIME-WAIT. It returns the peer's
// next sequence number and ours.
func toTimeWait(t *testing.T, h *tcptest.Harness, rec *tcptest.Recorder, sport uint16) (wire.Seq, wire.Seq) {
	t.Helper()
	h.Send(Seg{SrcPort: sport, Seq: 1000, Flags: SYN})
	g := h.Expect(t, "SYN-ACK", Flags(SYN|ACK))
	h.Send(Seg{SrcPort: sport, Seq: 1001, Ack: g.Seq + 1, Flags: ACK})
	if rec.Conn == nil {
		t.Fatal("not established")
	}
	c := rec.Conn
	c.Close(h.Now)
	fin := h.Expect(t, "FIN", Flags(ACK|FIN))
	h.Send(Seg{SrcPort: sport, Seq: 1001, Ack: fin.Seq + 1, Flags: ACK | FIN})
	h.Expect(t, "ACK of the peer's FIN", Flags(ACK), Ackn(1002))
	if c.State() != tcp.StateTimeWait {
		t.Fatalf("state %v, want TIME-WAIT", c.State())
	}
	return 1002, fin.Seq + 1
}

func TestTimeWaitRecycledWhenPoolFull(t *testing.T) {
	h := tcptest.New(t, tcp.Config{MaxConns: 2, TimeWait: 60 * tcptest.Second})
	rec := &tcptest.Recorder{}
	h.Stack.Listen(80, rec)
	seq1, ack1 := toTimeWait(t, h, rec, 1001)
	h.Advance(tcptest.Second)
	seq2, ack2 := toTimeWait(t, h, rec, 1002)
	if h.Stack.Conns() != 2 {
		t.Fatalf("%d connections, want 2 in TIME-WAIT", h.Stack.Conns())
	}
	// The pool is full of TIME-WAIT: a new SYN takes the oldest's slot.
	h.Send(Seg{SrcPort: 1003, Seq: 5000, Flags: SYN})
	h.Expect(t, "SYN-ACK with the pool full of TIME-WAIT", Flags(SYN|ACK), Ackn(5001))
	st := h.Stack.Stats()
	if st.TimeWaitRecycled != 1 || st.Drops[tcp.DropConnLimit] != 0 || h.Stack.Conns() != 2 {
		t.Fatalf("recycled %d, conn-limit drops %d, conns %d", st.TimeWaitRecycled, st.Drops[tcp.DropConnLimit], h.Stack.Conns())
	}
	// The oldest (port 1001) is gone: its retransmitted FIN gets a RST.
	// The younger (port 1002) is still in TIME-WAIT and ACKs it.
	h.Send(Seg{SrcPort: 1002, Seq: seq2 - 1, Ack: ack2, Flags: ACK | FIN})
	h.Expect(t, "TIME-WAIT ACKs a retransmitted FIN", Flags(ACK), Ackn(seq2))
	h.Send(Seg{SrcPort: 1001, Seq: seq1 - 1, Ack: ack1, Flags: ACK | FIN})
	h.Expect(t, "RST from the recycled connection's tuple", Flags(RST), Seqn(ack1))

	// Dial recycles too: the remaining TIME-WAIT (port 1002) goes.
	d := &tcptest.Recorder{}
	if _, err := h.Stack.Dial(h.Remote, 9, d, h.Now); err != nil {
		t.Fatalf("Dial with a TIME-WAIT slot to recycle: %v", err)
	}
	h.Expect(t, "SYN", Flags(SYN))
	if st := h.Stack.Stats(); st.TimeWaitRecycled != 2 {
		t.Fatalf("recycled %d, want 2", st.TimeWaitRecycled)
	}
	// Now nothing is in TIME-WAIT: the pool is really full.
	h.Send(Seg{SrcPort: 1004, Seq: 1, Flags: SYN})
	h.ExpectNone(t, "no slot and no TIME-WAIT to recycle")
	if h.Stack.Stats().Drops[tcp.DropConnLimit] != 1 {
		t.Fatalf("drops %v", h.Stack.Stats().Drops)
	}
	// The recycled slots' timers are gone: the old TIME-WAIT expiry
	// must not end the new connections.
	h.Advance(61 * tcptest.Second)
	if d.Closed && d.Reason != tcp.CloseTimeout {
		t.Fatalf("dialed connection closed with %v", d.Reason)
	}
}

func TestTimeWaitRecycleOrderAfterExpiry(t *testing.T) {
	h := tcptest.New(t, tcp.Config{MaxConns: 3, TimeWait: 10 * tcptest.Second})
	rec := &tcptest.Recorder{}
	h.Stack.Listen(80, rec)
	toTimeWait(t, h, rec, 2001)
	h.Advance(tcptest.Second)
	toTimeWait(t, h, rec, 2002)
	h.Advance(tcptest.Second)
	toTimeWait(t, h, rec, 2003)
	// The first expires normally; the list must drop it.
	h.Advance(8500 * ms)
	if h.Stack.Conns() != 2 {
		t.Fatalf("%d connections after the first TIME-WAIT ended", h.Stack.Conns())
	}
	h.Send(Seg{SrcPort: 3000, Seq: 1, Flags: SYN}) // free slot
	h.Expect(t, "SYN-ACK", Flags(SYN|ACK))
	h.Send(Seg{SrcPort: 3001, Seq: 1, Flags: SYN}) // recycles 2002, the oldest left
	h.Expect(t, "SYN-ACK", Flags(SYN|ACK))
	h.Send(Seg{SrcPort: 2002, Seq: 1002, Ack: 1, Flags: ACK})
	h.Expect(t, "RST: 2002 was recycled", Flags(RST))
	h.Send(Seg{SrcPort: 2003, Seq: 5000, Ack: 1, Flags: ACK})
	h.Expect(t, "2003 still in TIME-WAIT: out-of-window segment gets an ACK", Flags(ACK), Ackn(1002))
	if st := h.Stack.Stats(); st.TimeWaitRecycled != 1 {
		t.Fatalf("recycled %d", st.TimeWaitRecycled)
	}
}

func TestRSTRateLimit(t *testing.T) {
	h := tcptest.New(t, tcp.Config{RSTRateLimit: 10, RSTBurst: 3})
	for i := 0; i < 5; i++ {
		h.Send(Seg{SrcPort: uint16(4000 + i), DstPort: 9, Seq: 1, Ack: 1, Flags: ACK})
	}
	if n := len(h.Drain()); n != 3 {
		t.Fatalf("%d RSTs for 5 segments at once, want the burst of 3", n)
	}
	st := h.Stack.Stats()
	if st.Drops[tcp.DropRstRateLimit] != 2 || st.Drops[tcp.DropNoListener] != 3 || st.ResetsSent != 3 {
		t.Fatalf("drops %v, resets %d", st.Drops, st.ResetsSent)
	}
	// 10 per second: one token after 100 ms.
	h.Advance(100 * ms)
	h.Send(Seg{SrcPort: 4100, DstPort: 9, Seq: 1, Flags: SYN})
	h.Expect(t, "RST once a token is back", Flags(RST|ACK), Ackn(2))
	h.Send(Seg{SrcPort: 4101, DstPort: 9, Seq: 1, Flags: SYN})
	h.ExpectNone(t, "bucket empty again")
	// A RST is never answered and takes no token.
	h.Advance(100 * ms)
	h.Send(Seg{SrcPort: 4102, DstPort: 9, Seq: 1, Flags: RST})
	h.ExpectNone(t, "no RST for a RST")
	h.Send(Seg{SrcPort: 4103, DstPort: 9, Seq: 1, Flags: SYN})
	h.Expect(t, "the token is still there", Flags(RST|ACK))
	// Stray ACKs to a listener are limited by the same bucket.
	h.Stack.Listen(80, &tcptest.Recorder{})
	h.Send(Seg{SrcPort: 4104, Seq: 1, Ack: 77, Flags: ACK})
	h.ExpectNone(t, "listener RST suppressed with the bucket empty")
	if st := h.Stack.Stats(); st.Drops[tcp.DropRstRateLimit] != 4 {
		t.Fatalf("rate-limited drops %d, want 4", st.Drops[tcp.DropRstRateLimit])
	}
}

func TestRSTRateLimitDisabled(t *testing.T) {
	h := tcptest.New(t, tcp.Config{RSTRateLimit: -1})
	for i := 0; i < 500; i++ {
		h.Send(Seg{SrcPort: uint16(4000 + i), DstPort: 9, Seq: 1, Ack: 1, Flags: ACK})
	}
	if n := len(h.Drain()); n != 500 {
		t.Fatalf("%d RSTs with the limit off", n)
	}
}
