package sack

import (
	"testing"

	"github.com/shardnet/shardnet/wire"
)

func fill(r *RecvBlocks, max int) []wire.SACKBlock {
	var dst [wire.MaxSACKBlocks]wire.SACKBlock
	return dst[:r.Fill(dst[:], max)]
}

func wantFill(t *testing.T, r *RecvBlocks, max int, want ...wire.SACKBlock) {
	t.Helper()
	got := fill(r, max)
	if len(got) != len(want) {
		t.Fatalf("Fill(%d) = %v, want %v", max, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Fill(%d) = %v, want %v", max, got, want)
		}
	}
}

func TestRecvBlocksMostRecentFirst(t *testing.T) {
	var r RecvBlocks
	// rcv.nxt = 1000; segments arrive out of order (RFC 2018 §4 example
	// style: each ACK's first block holds the segment that triggered it).
	r.Add(2000, 2500)
	wantFill(t, &r, 4, blk(2000, 2500))
	r.Add(3000, 3500)
	wantFill(t, &r, 4, blk(3000, 3500), blk(2000, 2500))
	r.Add(4000, 4500)
	wantFill(t, &r, 4, blk(4000, 4500), blk(3000, 3500), blk(2000, 2500))
	// Filling in next to an older block moves the merged block first.
	r.Add(2500, 3000)
	wantFill(t, &r, 4, blk(2000, 3500), blk(4000, 4500))
	// Bridging everything.
	r.Add(3400, 4100)
	wantFill(t, &r, 4, blk(2000, 4500))
	if r.Len() != 1 {
		t.Fatalf("Len %d", r.Len())
	}
	// Empty or inverted ranges are ignored.
	r.Add(5000, 5000)
	r.Add(6000, 5000)
	wantFill(t, &r, 4, blk(2000, 4500))
}

func TestRecvBlocksCapacityAndMax(t *testing.T) {
	var r RecvBlocks
	for i := uint32(0); i < 6; i++ {
		r.Add(wire.Seq(1000*i+100), wire.Seq(1000*i+200))
	}
	// The four most recent, newest first.
	wantFill(t, &r, 4, blk(5100, 5200), blk(4100, 4200), blk(3100, 3200), blk(2100, 2200))
	// With timestamps only three fit.
	wantFill(t, &r, 3, blk(5100, 5200), blk(4100, 4200), blk(3100, 3200))
	// dst shorter than max.
	var one [1]wire.SACKBlock
	if n := r.Fill(one[:], 4); n != 1 || one[0] != blk(5100, 5200) {
		t.Fatalf("Fill into 1 slot: %d %v", n, one[0])
	}
	if n := r.Fill(nil, 4); n != 0 {
		t.Fatalf("Fill(nil) = %d", n)
	}
}

func TestRecvBlocksAck(t *testing.T) {
	var r RecvBlocks
	r.Add(3000, 4000)
	r.Add(1000, 2000)
	r.Add(5000, 6000)
	r.Ack(1500) // straddles the middle block: trimmed
	wantFill(t, &r, 4, blk(5000, 6000), blk(1500, 2000), blk(3000, 4000))
	r.Ack(4000) // exactly the end of a block: gone
	wantFill(t, &r, 4, blk(5000, 6000))
	r.Ack(7000)
	if r.Len() != 0 || len(fill(&r, 4)) != 0 {
		t.Fatal("blocks left after everything was acked")
	}
}

func TestRecvBlocksWrap(t *testing.T) {
	var r RecvBlocks
	r.Add(0xFFFFFF00, 0xFFFFFFF0)
	r.Add(0xFFFFFFF0, 0x100) // adjacent, across the wrap
	wantFill(t, &r, 4, wire.SACKBlock{Start: 0xFFFFFF00, End: 0x100})
	r.Ack(0x10)
	wantFill(t, &r, 4, blk(0x10, 0x100))
}

func TestRecvBlocksDSACK(t *testing.T) {
	var r RecvBlocks
	r.Add(3000, 4000)
	r.DSACK(1000, 1500) // a duplicate below rcv.nxt
	wantFill(t, &r, 4, blk(1000, 1500), blk(3000, 4000))
	// Reported once.
	wantFill(t, &r, 4, blk(3000, 4000))
	// A duplicate inside held data: D-SACK first, its run second.
	r.Add(6000, 7000)
	r.DSACK(3200, 3400)
	r.Add(3200, 3400)
	wantFill(t, &r, 4, blk(3200, 3400), blk(3000, 4000), blk(6000, 7000))
	// The D-SACK counts against max.
	r.DSACK(100, 200)
	wantFill(t, &r, 1, blk(100, 200))
	r.DSACK(200, 100)
	wantFill(t, &r, 4, blk(3000, 4000), blk(6000, 7000))
	r.Reset()
	if r.Len() != 0 || len(fill(&r, 4)) != 0 {
		t.Fatal("Reset left blocks")
	}
}

func TestRecvBlocksZeroAllocs(t *testing.T) {
	var r RecvBlocks
	var dst [4]wire.SACKBlock
	seq := wire.Seq(1000)
	if n := testing.AllocsPerRun(1000, func() {
		r.Add(seq.Add(1000), seq.Add(2000))
		r.Add(seq.Add(3000), seq.Add(4000))
		r.DSACK(seq.Add(100), seq.Add(200))
		_ = r.Fill(dst[:], 3)
		seq = seq.Add(1000)
		r.Ack(seq)
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func BenchmarkRecvBlocks(b *testing.B) {
	var r RecvBlocks
	var dst [4]wire.SACKBlock
	seq := wire.Seq(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Add(seq.Add(2000), seq.Add(3000))
		r.Add(seq.Add(5000), seq.Add(6000))
		_ = r.Fill(dst[:], 3)
		seq = seq.Add(1000)
		r.Ack(seq)
	}
}
