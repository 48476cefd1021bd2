package tcp_test

import (
	"bytes"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/tcp/tcptest"
	"github.com/shardnet/shardnet/wire"
)

// ---------------------------------------------------------------------
// Loss recovery: RFC 6675 scoreboard use, lost retransmissions, RFC 8985
// tail loss probes
// ---------------------------------------------------------------------

// sackOpts is a SACK option with blocks at offsets from base.
func sackOpts(base wire.Seq, blocks ...[2]uint32) wire.TCPOptions {
	o := wire.TCPOptions{NumSACK: len(blocks)}
	for i, b := range blocks {
		o.SACK[i] = wire.SACKBlock{Start: base.Add(b[0]), End: base.Add(b[1])}
	}
	return o
}

// sackConn opens a SACK connection with a 100-byte MSS (no timestamps),
// writes n bytes and returns the peer and the first segment's sequence
// number after draining the initial window (10 segments).
func sackConn(t *testing.T, n int) (*peer, wire.Seq) {
	t.Helper()
	p := passive(t, passiveOpts{syn: wire.TCPOptions{HasMSS: true, MSS: 100, SACKPermitted: true}})
	p.c.Write(bytes.Repeat([]byte("s"), n), p.h.Now)
	segs := p.h.Drain()
	if len(segs) != 10 {
		t.Fatalf("%d segments in the initial window, want 10", len(segs))
	}
	return p, segs[0].Seq
}

// sent reports whether a segment starting at seq is among got.
func sent(got []*tcptest.Got, seq wire.Seq) int {
	n := 0
	for _, g := range got {
		if g.Seq == seq && len(g.Payload) > 0 {
			n++
		}
	}
	return n
}

func TestScoreboardPrunedByAckWithoutSACK(t *testing.T) {
	p, una := sackConn(t, 1000)
	h := p.h
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sackOpts(una, [2]uint32{100, 200})})
	if s := p.c.Info().Sacked; s != 100 {
		t.Fatalf("scoreboard holds %d bytes after SACK of 100", s)
	}
	// A cumulative ACK past the SACKed range, with no SACK option: the
	// range is acknowledged and must leave the scoreboard (RFC 6675 §5).
	h.Send(Seg{Seq: p.nxt, Ack: una + 300, Flags: ACK})
	if s := p.c.Info().Sacked; s != 0 {
		t.Fatalf("scoreboard still holds %d bytes below SND.UNA after an ACK without SACK blocks", s)
	}
	h.Drain()
}

func TestSACKDupAcksIgnoreWindowChanges(t *testing.T) {
	p, una := sackConn(t, 1000)
	h := p.h
	// Linux's window grows while it holds out-of-order data: every ACK
	// has a new window. RFC 6675 §2 counts an ACK that SACKs new data as
	// a duplicate whatever its window.
	for i, b := range [][2]uint32{{100, 200}, {100, 300}, {100, 400}} {
		h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Window: uint16(60000 + 100*i), Opts: sackOpts(una, b)})
	}
	got := h.Drain()
	if sent(got, una) != 1 || h.Stack.Stats().FastRetransmits != 1 {
		t.Fatalf("no fast retransmit of the first segment after SACKs for 3 later segments: %v, stats %+v", got, h.Stack.Stats())
	}
}

func TestRecoveryFallsBackToRule3WhenNewDataHeld(t *testing.T) {
	p, una := sackConn(t, 1000)
	h := p.h
	// 50 bytes more: new data, but less than an MSS, so Nagle holds it.
	if p.c.Write(bytes.Repeat([]byte("n"), 50), h.Now) != 50 {
		t.Fatal("write")
	}
	h.ExpectNone(t, "cwnd full")
	// [0,100) lost (700 SACKed bytes above); [800,900) unSACKed but not
	// lost (only 100 SACKed bytes above): NextSeg rule 3. Rule 2 (new
	// data) comes first but cannot send; rule 3 must then be used rather
	// than nothing.
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sackOpts(una, [2]uint32{100, 800}, [2]uint32{900, 1000})})
	got := h.Drain()
	if sent(got, una) != 1 {
		t.Fatalf("first hole not retransmitted: %v", got)
	}
	if sent(got, una+800) != 1 {
		t.Fatalf("rule 3 hole [800,900) not retransmitted while the new data was held: %v", got)
	}
}

func TestRecoveryNewDataBeforeRule3(t *testing.T) {
	p, una := sackConn(t, 1500)
	h := p.h
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sackOpts(una, [2]uint32{100, 800}, [2]uint32{900, 1000})})
	got := h.Drain()
	if len(got) < 2 || got[0].Seq != una || got[1].Seq != una+1000 {
		t.Fatalf("want the lost hole, then new data (rule 2) before the rule 3 hole: %v", got)
	}
	if sent(got, una+800) != 0 {
		t.Fatalf("rule 3 retransmission while new data could go: %v", got)
	}
}

func TestRescueRetransmissionOncePerRecovery(t *testing.T) {
	p, una := sackConn(t, 1000)
	h := p.h
	// [0,100) lost; [900,1000) above the highest SACK: only the rescue
	// retransmission (rule 4) covers it.
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sackOpts(una, [2]uint32{100, 900})})
	got := h.Drain()
	if sent(got, una) != 1 || sent(got, una+900) != 1 {
		t.Fatalf("want the lost hole and one rescue of [900,1000): %v", got)
	}
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sackOpts(una, [2]uint32{100, 900})})
	h.Send(Seg{Seq: p.nxt, Ack: una + 100, Flags: ACK, Opts: sackOpts(una, [2]uint32{100, 900})})
	if got := h.Drain(); sent(got, una+900) != 0 {
		t.Fatalf("second rescue in the same recovery episode: %v", got)
	}
}

func TestLostRetransmissionDetected(t *testing.T) {
	p, una := sackConn(t, 2000)
	h := p.h
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sackOpts(una, [2]uint32{100, 400})})
	if got := h.Drain(); sent(got, una) != 1 {
		t.Fatalf("no fast retransmit: %v", got)
	}
	// Everything else of the window arrives: new data goes out (rule 2).
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sackOpts(una, [2]uint32{100, 1000})})
	got := h.Drain()
	if sent(got, una+1000) != 1 {
		t.Fatalf("no new data after the window was SACKed: %v", got)
	}
	// Data sent after the retransmission is SACKed, 300 bytes of it, and
	// the hole at una is still there: the retransmission was lost. It is
	// sent again now, not after an RTO.
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sackOpts(una, [2]uint32{100, 1300})})
	got = h.Drain()
	if sent(got, una) != 1 {
		t.Fatalf("lost retransmission not repeated: %v", got)
	}
	if st := h.Stack.Stats(); st.LostRetransmits != 1 || st.RTOs != 0 {
		t.Fatalf("stats %+v", st)
	}
	h.Send(Seg{Seq: p.nxt, Ack: una + 1300, Flags: ACK})
	if p.c.Info().Sacked != 0 {
		t.Fatal("scoreboard not emptied by the cumulative ACK")
	}
	h.Drain()
}

func TestTailLossProbeRetransmitsLastSegment(t *testing.T) {
	p := passive(t, passiveOpts{syn: wire.TCPOptions{HasMSS: true, MSS: 100, SACKPermitted: true}})
	h := p.h
	p.c.Write(bytes.Repeat([]byte("t"), 300), h.Now)
	got := h.Drain()
	if len(got) != 3 {
		t.Fatalf("%d segments", len(got))
	}
	una := got[0].Seq
	// No ACK comes back. The probe timeout (2·SRTT + 2 ms with more than
	// a segment in flight) is far below the 200 ms minimum RTO.
	h.Advance(5 * ms)
	g := h.Expect(t, "tail loss probe", Seqn(una+200), tcptest.PayloadLen(100))
	h.ExpectNone(t, "one probe")
	if st := h.Stack.Stats(); st.TLPs != 1 || st.RTOs != 0 {
		t.Fatalf("stats %+v", st)
	}
	_ = g
	// Only the last segment had been lost; the probe repaired it.
	h.Send(Seg{Seq: p.nxt, Ack: una + 300, Flags: ACK})
	if i := p.c.Info(); i.InFlight != 0 {
		t.Fatalf("in flight after the ACK: %+v", i)
	}
	h.Advance(tcptest.Second)
	h.ExpectNone(t, "nothing after everything was acknowledged")
}

func TestTailLossProbeSendsNewData(t *testing.T) {
	p, una := sackConn(t, 1500)
	h := p.h
	h.Advance(5 * ms)
	h.Expect(t, "probe of new data beyond cwnd", Seqn(una+1000), tcptest.PayloadLen(100))
	h.ExpectNone(t, "one probe")
	h.Advance(5 * ms)
	h.ExpectNone(t, "no second probe while one is outstanding")
	// Then the RTO (200 ms minimum) retransmits the first segment.
	h.Advance(250 * ms)
	h.Expect(t, "RTO after the probe", Seqn(una), tcptest.PayloadLen(100))
	if st := h.Stack.Stats(); st.TLPs != 1 || st.RTOs != 1 {
		t.Fatalf("stats %+v", st)
	}
	h.Drain()
}

func TestNoTailLossProbeWithoutSACK(t *testing.T) {
	p := passive(t, passiveOpts{syn: wire.TCPOptions{HasMSS: true, MSS: 100}})
	h := p.h
	p.c.Write(bytes.Repeat([]byte("t"), 300), h.Now)
	h.Drain()
	h.Advance(50 * ms)
	h.ExpectNone(t, "no probe without SACK (RFC 8985 §7.2)")
	if st := h.Stack.Stats(); st.TLPs != 0 || st.Drops[tcp.DropBadHeader] != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// ---------------------------------------------------------------------
// D-SACK (RFC 2883)
// ---------------------------------------------------------------------

func TestDSACKForDuplicateSegments(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	start := p.nxt
	data := bytes.Repeat([]byte("d"), 100)
	p.seg(ACK, data)
	p.seg(ACK, data)
	h.Drain() // the ACK for two segments
	blk := func(a, b uint32) wire.SACKBlock { return wire.SACKBlock{Start: start.Add(a), End: start.Add(b)} }
	// A retransmission of data already received (RFC 2883 §4.1.1).
	h.Send(Seg{Seq: start, Ack: p.rcv, Flags: ACK, Payload: data})
	p.expect(t, "D-SACK for a duplicate below RCV.NXT", Flags(ACK), Ackn(p.nxt), tcptest.SACKBlocks(blk(0, 100)))
	// Partly old: only the old part is reported; the rest is new data.
	h.Send(Seg{Seq: start.Add(150), Ack: p.rcv, Flags: ACK, Payload: data})
	p.nxt = start.Add(250)
	p.expect(t, "D-SACK for the old part", Flags(ACK), Ackn(p.nxt), tcptest.SACKBlocks(blk(150, 200)))
	// Out of order, then the same again (RFC 2883 §4.1.3: the D-SACK
	// first, then the block that holds it).
	h.Send(Seg{Seq: start.Add(350), Ack: p.rcv, Flags: ACK, Payload: data})
	p.expect(t, "SACK for out-of-order data", Flags(ACK), Ackn(p.nxt), tcptest.SACKBlocks(blk(350, 450)))
	h.Send(Seg{Seq: start.Add(350), Ack: p.rcv, Flags: ACK, Payload: data})
	p.expect(t, "D-SACK for a held duplicate", Flags(ACK), Ackn(p.nxt), tcptest.SACKBlocks(blk(350, 450), blk(350, 450)))
	// Reported once: the next ACK has the plain SACK.
	h.Send(Seg{Seq: start.Add(600), Ack: p.rcv, Flags: ACK, Payload: data})
	p.expect(t, "no repeated D-SACK", Flags(ACK), tcptest.SACKBlocks(blk(600, 700), blk(350, 450)))
}

// The SACK scoreboard is taken when the peer SACKs data and given back
// once nothing SACKed is above SND.UNA: idle connections hold none, and a
// connection that goes through SACK and back allocates nothing in steady
// state.
func TestScoreboardOnlyWhileSacked(t *testing.T) {
	p, una := sackConn(t, 1000)
	h := p.h
	if tcp.HoldsScoreboard(p.c) {
		t.Fatal("scoreboard held before any SACK")
	}
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sackOpts(una, [2]uint32{200, 300})})
	if !tcp.HoldsScoreboard(p.c) || p.c.Info().Sacked != 100 {
		t.Fatalf("after a SACK of 100 bytes: holds %v, sacked %d", tcp.HoldsScoreboard(p.c), p.c.Info().Sacked)
	}
	// An ACK covering part of the hole but not the SACKed range keeps it.
	h.Send(Seg{Seq: p.nxt, Ack: una + 100, Flags: ACK, Opts: sackOpts(una, [2]uint32{200, 300})})
	if !tcp.HoldsScoreboard(p.c) {
		t.Fatal("scoreboard given back while SACKed bytes are still above SND.UNA")
	}
	h.Send(Seg{Seq: p.nxt, Ack: una + 1000, Flags: ACK})
	if tcp.HoldsScoreboard(p.c) || p.c.Info().Sacked != 0 {
		t.Fatalf("all acknowledged: holds %v, sacked %d", tcp.HoldsScoreboard(p.c), p.c.Info().Sacked)
	}
	una += 1000
	releaseOut(h)
	h.Out = make([]*buf.Packet, 0, 64)

	data := bytes.Repeat([]byte("z"), 300)
	run := func() {
		if n := p.c.Write(data, h.Now); n != len(data) {
			t.Fatalf("Write = %d", n)
		}
		releaseOut(h)
		h.Send(Seg{Seq: p.nxt, Ack: una + 100, Flags: ACK, Opts: sackOpts(una, [2]uint32{200, 300})})
		if !tcp.HoldsScoreboard(p.c) {
			t.Fatal("no scoreboard after a SACK")
		}
		h.Send(Seg{Seq: p.nxt, Ack: una + 300, Flags: ACK})
		if tcp.HoldsScoreboard(p.c) {
			t.Fatal("scoreboard kept after everything was acknowledged")
		}
		una += 300
		releaseOut(h)
	}
	for i := 0; i < 5; i++ {
		run()
	}
	if a := testing.AllocsPerRun(200, run); a != 0 {
		t.Fatalf("%.1f allocations per SACK round", a)
	}
}
