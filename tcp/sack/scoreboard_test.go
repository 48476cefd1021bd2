package sack

import (
	"math/rand/v2"
	"testing"

	"github.com/shardnet/shardnet/wire"
)

func blk(a, b uint32) wire.SACKBlock { return wire.SACKBlock{Start: wire.Seq(a), End: wire.Seq(b)} }

// ranges lists the scoreboard's ranges through the iterator.
func ranges(s *Scoreboard) []wire.SACKBlock {
	var out []wire.SACKBlock
	for b := range s.Blocks() {
		out = append(out, b)
	}
	return out
}

func wantRanges(t *testing.T, s *Scoreboard, want ...wire.SACKBlock) {
	t.Helper()
	got := ranges(s)
	if len(got) != len(want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	var sum uint32
	for i := range got {
		if got[i] != want[i] || s.Block(i) != want[i] {
			t.Fatalf("ranges %v, want %v", got, want)
		}
		sum += uint32(want[i].End - want[i].Start)
	}
	if s.SackedBytes() != sum || s.Len() != len(want) {
		t.Fatalf("SackedBytes %d Len %d, want %d %d", s.SackedBytes(), s.Len(), sum, len(want))
	}
}

func TestUpdateMergeAndQuery(t *testing.T) {
	var s Scoreboard
	steps := []struct {
		una, nxt uint32
		blocks   []wire.SACKBlock
		newly    uint32
		want     []wire.SACKBlock
	}{
		{1000, 11000, []wire.SACKBlock{blk(2000, 3000)}, 1000, []wire.SACKBlock{blk(2000, 3000)}},
		// Adjacent on the right merges.
		{1000, 11000, []wire.SACKBlock{blk(3000, 4000)}, 1000, []wire.SACKBlock{blk(2000, 4000)}},
		// A duplicate adds nothing; a disjoint block is a new range.
		{1000, 11000, []wire.SACKBlock{blk(6000, 7000), blk(2000, 4000)}, 1000, []wire.SACKBlock{blk(2000, 4000), blk(6000, 7000)}},
		// Adjacent on the left, and overlapping.
		{1000, 11000, []wire.SACKBlock{blk(5000, 6500)}, 1000, []wire.SACKBlock{blk(2000, 4000), blk(5000, 7000)}},
		// One block bridging both ranges.
		{1000, 11000, []wire.SACKBlock{blk(3500, 5500)}, 1000, []wire.SACKBlock{blk(2000, 7000)}},
		// The cumulative ACK moves into the range: trimmed.
		{2500, 11000, nil, 0, []wire.SACKBlock{blk(2500, 7000)}},
		// ... and past it: dropped; new ranges at both ends of the window.
		{7000, 11000, []wire.SACKBlock{blk(10000, 11000), blk(7001, 7002)}, 1001, []wire.SACKBlock{blk(7001, 7002), blk(10000, 11000)}},
	}
	for i, st := range steps {
		if got := s.Update(wire.Seq(st.una), wire.Seq(st.nxt), st.blocks); got != st.newly {
			t.Fatalf("step %d: newly SACKed %d, want %d", i, got, st.newly)
		}
		wantRanges(t, &s, st.want...)
	}
	for _, tc := range []struct {
		seq    uint32
		sacked bool
	}{{6999, false}, {7000, false}, {7001, true}, {7002, false}, {9999, false}, {10000, true}, {10999, true}, {11000, false}, {100, false}} {
		if s.IsSacked(wire.Seq(tc.seq)) != tc.sacked {
			t.Errorf("IsSacked(%d) = %v", tc.seq, !tc.sacked)
		}
	}
	if h, ok := s.HighSacked(); !ok || h != 11000 {
		t.Fatalf("HighSacked = %d, %v", h, ok)
	}
	s.Reset()
	if _, ok := s.HighSacked(); ok || s.Len() != 0 || s.SackedBytes() != 0 || s.Stats() != (Stats{}) {
		t.Fatal("Reset left state")
	}
}

func TestUpdateIgnoresInvalidBlocks(t *testing.T) {
	var s Scoreboard
	s.Update(1000, 5000, nil)
	got := s.Update(1000, 5000, []wire.SACKBlock{
		blk(2000, 3000), // valid, not D-SACK (first but above una, no second containing it)
		blk(3000, 3000), // empty
		blk(4000, 3500), // inverted
		blk(4500, 5001), // beyond SND.MAX
		blk(500, 1000),  // wholly below una, not first: stale
	})
	if got != 1000 {
		t.Fatalf("newly %d", got)
	}
	wantRanges(t, &s, blk(2000, 3000))
	if st := s.Stats(); st.Blocks != 5 || st.Invalid != 3 || st.Stale != 1 || st.DSACK != 0 {
		t.Fatalf("stats %+v", st)
	}
	// A block ending exactly at SND.MAX is valid; one starting below una
	// (not first) is trimmed to una.
	s.Update(1000, 5000, []wire.SACKBlock{blk(4000, 5000), blk(900, 1200)})
	wantRanges(t, &s, blk(1000, 1200), blk(2000, 3000), blk(4000, 5000))
	// nxt behind una: nothing is valid.
	if n := s.Update(1000, 900, []wire.SACKBlock{blk(1300, 1400)}); n != 0 {
		t.Fatalf("accepted a block with nxt < una")
	}
}

func TestDSACK(t *testing.T) {
	var s Scoreboard
	// First block below the cumulative ACK: D-SACK of data already acked.
	n := s.Update(5000, 9000, []wire.SACKBlock{blk(3000, 4000), blk(6000, 7000)})
	if d, ok := s.DSACK(); !ok || d != blk(3000, 4000) || n != 1000 {
		t.Fatalf("D-SACK below una: %v %v, newly %d", d, ok, n)
	}
	wantRanges(t, &s, blk(6000, 7000))
	// First block inside the second: D-SACK above the ACK; the second is
	// still used.
	n = s.Update(5000, 9000, []wire.SACKBlock{blk(6000, 6500), blk(6000, 8000)})
	if d, ok := s.DSACK(); !ok || d != blk(6000, 6500) || n != 1000 {
		t.Fatalf("D-SACK within second block: %v %v, newly %d", d, ok, n)
	}
	wantRanges(t, &s, blk(6000, 8000))
	// An ordinary ACK clears the flag; a first block that merely overlaps
	// the second is not a D-SACK.
	s.Update(5000, 9000, []wire.SACKBlock{blk(7500, 8500), blk(8000, 8800)})
	if _, ok := s.DSACK(); ok {
		t.Fatal("overlap taken for D-SACK")
	}
	wantRanges(t, &s, blk(6000, 8800))
	if st := s.Stats(); st.DSACK != 2 {
		t.Fatalf("DSACK count %d", st.DSACK)
	}
}

func TestWraparound(t *testing.T) {
	var s Scoreboard
	una := wire.Seq(0xFFFFF000) // 4096 below the wrap
	nxt := una.Add(20000)
	n := s.Update(una, nxt, []wire.SACKBlock{
		{Start: una.Add(2000), End: una.Add(4096)},  // ends exactly at 0
		{Start: 0, End: 1000},                       // adjacent across the wrap
		{Start: una.Add(8000), End: una.Add(12000)}, // above the wrap
	})
	if n != 2096+1000+4000 {
		t.Fatalf("newly %d", n)
	}
	wantRanges(t, &s, wire.SACKBlock{Start: una.Add(2000), End: 1000}, wire.SACKBlock{Start: una.Add(8000), End: una.Add(12000)})
	for _, q := range []wire.Seq{una.Add(2000), 0xFFFFFFFF, 0, 999} {
		if !s.IsSacked(q) {
			t.Errorf("IsSacked(%#x) false", uint32(q))
		}
	}
	if s.IsSacked(1000) || s.IsSacked(una.Add(1999)) {
		t.Error("IsSacked true outside ranges")
	}
	if h, _ := s.HighSacked(); h != una.Add(12000) {
		t.Fatalf("HighSacked %#x", uint32(h))
	}
	// Cumulative ACK crosses the wrap into the first range.
	s.Update(500, nxt, nil)
	wantRanges(t, &s, blk(500, 1000), wire.SACKBlock{Start: una.Add(8000), End: una.Add(12000)})
	if !s.IsLost(100, 1000) { // 500 + 4000 SACKed bytes above
		t.Fatal("IsLost across the wrap")
	}
}

func TestIsLostBoundaries(t *testing.T) {
	const mss = 1000
	for _, tc := range []struct {
		name   string
		blocks []wire.SACKBlock
		seq    uint32
		lost   bool
	}{
		{"nothing SACKed", nil, 0, false},
		{"exactly 2*SMSS above", []wire.SACKBlock{blk(1000, 3000)}, 0, false},
		{"2*SMSS+1 above", []wire.SACKBlock{blk(1000, 3001)}, 0, true},
		{"bytes at or below seq do not count", []wire.SACKBlock{blk(1000, 3001)}, 1000, false},
		{"range containing seq counts only above it", []wire.SACKBlock{blk(500, 3000)}, 999, false},
		{"two discontiguous ranges", []wire.SACKBlock{blk(1000, 1001), blk(2000, 2001)}, 0, false},
		{"three discontiguous ranges", []wire.SACKBlock{blk(1000, 1001), blk(2000, 2001), blk(3000, 3001)}, 0, true},
		{"a range ending right after seq has no byte above", []wire.SACKBlock{blk(100, 101), blk(1000, 1001), blk(2000, 2001)}, 100, false},
		{"seq below two of three ranges", []wire.SACKBlock{blk(100, 101), blk(1000, 1001), blk(2000, 2001)}, 500, false},
		{"seq below all three", []wire.SACKBlock{blk(100, 101), blk(1000, 1001), blk(2000, 2001)}, 50, true},
	} {
		var s Scoreboard
		s.Update(0, 10000, tc.blocks)
		if got := s.IsLost(wire.Seq(tc.seq), mss); got != tc.lost {
			t.Errorf("%s: IsLost(%d) = %v", tc.name, tc.seq, got)
		}
	}
}

// TestRFC6675Recovery walks one recovery episode in the manner of RFC 6675
// §5: ten 1000-byte segments in flight, the first and fourth lost.
func TestRFC6675Recovery(t *testing.T) {
	const mss = 1000
	var s Scoreboard
	una, hd := wire.Seq(0), wire.Seq(10000)
	// Segments 2, 3 arrive: duplicate ACKs with growing SACK.
	s.Update(una, hd, []wire.SACKBlock{blk(1000, 2000)})
	s.Update(una, hd, []wire.SACKBlock{blk(1000, 3000)})
	if s.IsLost(0, mss) {
		t.Fatal("lost after two SACKed segments")
	}
	// No loss yet: every unSACKed byte is in the pipe.
	if p := s.Pipe(una, hd, una, mss); p != 8000 {
		t.Fatalf("pipe %d, want 8000", p)
	}
	// Segment 5 arrives (4 is lost too): third duplicate ACK.
	s.Update(una, hd, []wire.SACKBlock{blk(4000, 5000), blk(1000, 3000)})
	if !s.IsLost(0, mss) {
		t.Fatal("segment 1 not lost after 3 SACKed segments above it")
	}
	if s.IsLost(3000, mss) {
		t.Fatal("segment 4 lost with one SACKed segment above")
	}
	// Pipe: [0,1000) lost and not retransmitted: 0; [3000,4000) not lost:
	// 1000; [5000,10000): 5000.
	if p := s.Pipe(una, hd, una, mss); p != 6000 {
		t.Fatalf("pipe %d, want 6000", p)
	}
	start, n, kind, ok := s.NextSeg(una, hd, una, mss, false)
	if !ok || start != 0 || n != 1000 || kind != SegLost {
		t.Fatalf("NextSeg = %d %d %v %v, want 0 1000 lost", start, n, kind, ok)
	}
	highRxt := wire.Seq(1000) // retransmitted [0,1000)
	if p := s.Pipe(una, hd, highRxt, mss); p != 7000 {
		t.Fatalf("pipe after retransmission %d, want 7000", p)
	}
	// Rule 3: segment 4 is not lost, but it is the next unSACKed data
	// below the highest SACK.
	start, n, kind, ok = s.NextSeg(una, hd, highRxt, mss, false)
	if !ok || start != 3000 || n != 1000 || kind != SegUnsacked {
		t.Fatalf("NextSeg = %d %d %v %v, want 3000 1000 unsacked", start, n, kind, ok)
	}
	// Segments 6, 7 arrive: now segment 4 is lost too.
	s.Update(una, hd, []wire.SACKBlock{blk(4000, 7000), blk(1000, 3000)})
	start, n, kind, ok = s.NextSeg(una, hd, highRxt, mss, false)
	if !ok || start != 3000 || n != 1000 || kind != SegLost {
		t.Fatalf("NextSeg = %d %d %v %v, want 3000 1000 lost", start, n, kind, ok)
	}
	highRxt = 4000
	// Nothing left below the highest SACK: rule 4 only if allowed.
	if _, _, kind, ok = s.NextSeg(una, hd, highRxt, mss, false); ok || kind != SegNone {
		t.Fatalf("NextSeg without rescue = %v %v", kind, ok)
	}
	start, n, kind, ok = s.NextSeg(una, hd, highRxt, mss, true)
	if !ok || start != 9000 || n != 1000 || kind != SegRescue {
		t.Fatalf("rescue = %d %d %v %v, want 9000 1000 rescue", start, n, kind, ok)
	}
	// The retransmission of segment 1 arrives: cumulative ACK to 3000.
	s.Update(3000, hd, []wire.SACKBlock{blk(4000, 7000)})
	wantRanges(t, &s, blk(4000, 7000))
	// [3000,4000) retransmitted (below highRxt) and lost: 1000; [7000,
	// 10000) not lost: 3000.
	if p := s.Pipe(3000, hd, highRxt, mss); p != 4000 {
		t.Fatalf("pipe %d, want 4000", p)
	}
}

func TestNextSegOrderAndLimits(t *testing.T) {
	const mss = 1000
	var s Scoreboard
	hd := wire.Seq(10000)
	s.Update(0, hd, []wire.SACKBlock{blk(1000, 2000), blk(3000, 4000), blk(5000, 6000), blk(7000, 8000)})
	type seg struct {
		start, n uint32
		kind     SegKind
	}
	for _, tc := range []struct {
		highRxt uint32
		mss     uint32
		rescue  bool
		want    seg
	}{
		{0, mss, false, seg{0, 1000, SegLost}},           // 4 ranges above
		{500, mss, false, seg{500, 500, SegLost}},        // rest of the hole
		{0, 300, false, seg{0, 300, SegLost}},            // at most mss
		{0, 5000, false, seg{0, 1000, SegLost}},          // never into SACKed bytes
		{1000, mss, false, seg{2000, 1000, SegLost}},     // 3 ranges above
		{1500, mss, false, seg{2000, 1000, SegLost}},     // highRxt inside a SACKed range
		{3000, mss, false, seg{4000, 1000, SegUnsacked}}, // 2 ranges, 2000 bytes: not lost
		{5000, mss, false, seg{6000, 1000, SegUnsacked}},
		{7000, mss, false, seg{0, 0, SegNone}}, // above the highest SACK: only rescue
		{7000, mss, true, seg{9000, 1000, SegRescue}},
		{7000, 1500, true, seg{8500, 1500, SegRescue}},
		{7000, 5000, true, seg{8000, 2000, SegRescue}}, // not into SACKed bytes
	} {
		start, n, kind, ok := s.NextSeg(0, hd, wire.Seq(tc.highRxt), tc.mss, tc.rescue)
		if got := (seg{uint32(start), n, kind}); got != tc.want || ok != (tc.want.kind != SegNone) {
			t.Errorf("highRxt %d mss %d rescue %v: got %+v ok %v, want %+v", tc.highRxt, tc.mss, tc.rescue, got, ok, tc.want)
		}
	}
	// All data above the highest SACK was SACKed: the rescue ends at the
	// highest hole.
	var s2 Scoreboard
	s2.Update(0, hd, []wire.SACKBlock{blk(1000, 2000), blk(5000, 10000)})
	start, n, kind, ok := s2.NextSeg(0, hd, 5000, mss, true)
	if !ok || kind != SegRescue || start != 4000 || n != 1000 {
		t.Fatalf("rescue = %d %d %v %v, want 4000 1000", start, n, kind, ok)
	}
	// Nothing unSACKed at all outstanding: no rescue.
	var s3 Scoreboard
	if _, _, _, ok := s3.NextSeg(5, 5, 5, mss, true); ok {
		t.Fatal("NextSeg with nothing outstanding")
	}
}

func TestPipeStaleRangesAndClamps(t *testing.T) {
	const mss = 1000
	var s Scoreboard
	s.Update(0, 5000, []wire.SACKBlock{blk(1000, 1500), blk(2000, 2500), blk(3000, 3500)})
	// The engine may skip Update on ACKs without SACK blocks; Pipe and
	// NextSeg still drop what una covers. Left: [2200,2500) and
	// [3000,3500); the hole [2500,3000) has one range and 500 bytes above
	// it, so is not lost; with [3500,5000), 2000 bytes are in the pipe.
	if p := s.Pipe(2200, 5000, 2200, mss); p != 2000 {
		t.Fatalf("pipe %d, want 2000", p)
	}
	wantRanges(t, &s, blk(2200, 2500), blk(3000, 3500))
	// highRxt below una and above highData are clamped.
	if a, b := s.Pipe(2200, 5000, 0, mss), s.Pipe(2200, 5000, 2200, mss); a != b {
		t.Fatalf("highRxt below una: %d vs %d", a, b)
	}
	if p := s.Pipe(2200, 5000, 9000, mss); p != 4000 {
		t.Fatalf("highRxt beyond highData: pipe %d, want 4000", p)
	}
	if p := s.Pipe(2200, 2200, 2200, mss); p != 0 {
		t.Fatalf("nothing outstanding: pipe %d", p)
	}
	// With a small MSS the same hole is lost (500 > 2*100 bytes above).
	if p := s.Pipe(2200, 5000, 2200, 100); p != 1500 {
		t.Fatalf("pipe %d, want 1500", p)
	}
}

func TestOverflowKeepsHighest(t *testing.T) {
	var s Scoreboard
	nxt := wire.Seq(100000)
	for i := MaxRanges; i >= 0; i-- { // 65 disjoint ranges, highest first
		s.Update(0, nxt, []wire.SACKBlock{blk(uint32(1000*i+500), uint32(1000*i+600))})
	}
	if s.Len() != MaxRanges || s.Stats().Overflow != 1 {
		t.Fatalf("Len %d overflow %d", s.Len(), s.Stats().Overflow)
	}
	if s.Block(0) != blk(1500, 1600) || s.IsSacked(500) {
		t.Fatalf("lowest range not the one dropped: first %v", s.Block(0))
	}
	if s.SackedBytes() != 100*MaxRanges {
		t.Fatalf("SackedBytes %d", s.SackedBytes())
	}
	// A new lowest range is itself the one forgotten.
	if n := s.Update(0, nxt, []wire.SACKBlock{blk(100, 200)}); n != 0 || s.IsSacked(100) {
		t.Fatalf("newly %d", n)
	}
	// Merging two ranges frees a slot again.
	s.Update(0, nxt, []wire.SACKBlock{blk(1600, 2500)})
	if s.Len() != MaxRanges-1 {
		t.Fatalf("Len %d after merge", s.Len())
	}
}

// ref is a brute-force scoreboard: one bool per byte of a 64 KiB window
// starting at base.
type ref struct {
	base   wire.Seq
	sacked [1 << 16]bool
	// runs[i], bytes[i]: SACKed runs with a byte above i, SACKed bytes
	// above i; filled by above.
	runs, bytes [1 << 16]int32
}

func (r *ref) idx(q wire.Seq) int { return int(uint32(q - r.base)) }

// above fills runs and bytes for the bytes in [una, hd) from the bitmap.
func (r *ref) above(una, hd wire.Seq) {
	runs, bytes := int32(0), int32(0)
	top := r.idx(hd)
	for i := top - 1; i >= r.idx(una); i-- {
		r.runs[i], r.bytes[i] = runs, bytes
		if r.sacked[i] {
			bytes++
			if i == top-1 || !r.sacked[i+1] {
				runs++
			}
		}
	}
}

// isLost is RFC 6675 IsLost read off the arrays filled by above.
func (r *ref) isLost(q wire.Seq, mss uint32) bool {
	i := r.idx(q)
	return r.runs[i] >= DupThresh || int64(r.bytes[i]) > (DupThresh-1)*int64(mss)
}

func TestRandomAgainstBitmap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var s Scoreboard
	var r ref
	for episode := 0; episode < 40; episode++ {
		// Bases near the wrap half of the time.
		base := wire.Seq(rng.Uint32())
		if episode%2 == 0 {
			base = wire.Seq(0 - uint32(rng.IntN(1<<16)))
		}
		r.base = base
		r.sacked = [1 << 16]bool{}
		s.Reset()
		una, nxt := base, base.Add(1<<16-1)
		s.Update(una, nxt, nil)
		for step := 0; step < 40; step++ {
			if rng.IntN(4) == 0 {
				// Cumulative ACK: to a random point, often the first hole.
				adv := uint32(rng.IntN(3000))
				for rng.IntN(2) == 0 && una.Add(adv).LessThan(nxt) && r.sacked[r.idx(una.Add(adv))] {
					adv++
				}
				una = una.Add(adv)
				if una.GreaterThan(nxt) {
					una = nxt
				}
				for i := 0; i < r.idx(una); i++ {
					r.sacked[i] = false
				}
			}
			nb := rng.IntN(5)
			blocks := make([]wire.SACKBlock, nb)
			for i := range blocks {
				st := una.Add(uint32(rng.IntN(1<<16 + 2000))).Add(^uint32(1999)) // una-2000 .. nxt+
				ln := uint32(1 + rng.IntN(3000))
				if rng.IntN(20) == 0 {
					ln = 0
				}
				blocks[i] = wire.SACKBlock{Start: st, End: st.Add(ln)}
			}
			// The reference applies the rules to the bitmap.
			before := 0
			for i := range r.sacked {
				if r.sacked[i] {
					before++
				}
			}
			for i, b := range blocks {
				if i == 0 && b.End.GreaterThan(b.Start) && b.End.LessEq(nxt) &&
					(b.Start.LessThan(una) || (len(blocks) > 1 && blocks[1].End.GreaterThan(blocks[1].Start) &&
						b.Start.GreaterEq(blocks[1].Start) && b.End.LessEq(blocks[1].End))) {
					continue // D-SACK
				}
				if !b.End.GreaterThan(b.Start) || b.End.GreaterThan(nxt) || b.End.LessEq(una) {
					continue
				}
				for q := b.Start; q != b.End; q++ {
					if q.GreaterEq(una) {
						r.sacked[r.idx(q)] = true
					}
				}
			}
			after := 0
			for i := range r.sacked {
				if r.sacked[i] {
					after++
				}
			}
			newly := s.Update(una, nxt, blocks)
			if s.Stats().Overflow != 0 {
				t.Fatalf("test design: scoreboard overflowed")
			}
			if int(newly) != after-before || int(s.SackedBytes()) != after {
				t.Fatalf("episode %d step %d: newly %d sacked %d, reference %d %d (blocks %v)",
					episode, step, newly, s.SackedBytes(), after-before, after, blocks)
			}
			// IsSacked at every range boundary and at random bytes.
			probe := func(q wire.Seq) {
				want := q.InRange(una, nxt) && r.sacked[r.idx(q)]
				if s.IsSacked(q) != want {
					t.Fatalf("episode %d step %d: IsSacked(%#x) = %v", episode, step, uint32(q), !want)
				}
			}
			for b := range s.Blocks() {
				probe(b.Start.Add(^uint32(0)))
				probe(b.Start)
				probe(b.End.Add(^uint32(0)))
				probe(b.End)
			}
			for i := 0; i < 200; i++ {
				probe(una.Add(uint32(rng.IntN(1 << 16))))
			}
			// Pipe, IsLost and NextSeg against octet-wise evaluation.
			mss := uint32(100 + rng.IntN(1400))
			hd := nxt
			highRxt := una.Add(uint32(rng.IntN(int(uint32(hd-una)) + 1)))
			checkRecovery(t, &s, &r, una, hd, highRxt, mss, rng)
		}
	}
}

func checkRecovery(t *testing.T, s *Scoreboard, r *ref, una, hd, highRxt wire.Seq, mss uint32, rng *rand.Rand) {
	t.Helper()
	// SetPipe as the RFC words it: octet by octet, IsLost per octet.
	r.above(una, hd)
	pipe := 0
	for q := una; q != hd; q++ {
		if r.sacked[r.idx(q)] {
			continue
		}
		if !r.isLost(q, mss) {
			pipe++
		}
		if q.LessThan(highRxt) {
			pipe++
		}
	}
	if got := s.Pipe(una, hd, highRxt, mss); int(got) != pipe {
		t.Fatalf("Pipe = %d, reference %d", got, pipe)
	}
	for i := 0; i < 5; i++ {
		q := una.Add(uint32(rng.IntN(int(uint32(hd - una)))))
		if got, want := s.IsLost(q, mss), r.isLost(q, mss); got != want {
			t.Fatalf("IsLost(%#x) = %v, reference %v", uint32(q), got, want)
		}
	}
	// NextSeg rules 1 and 3: the first unSACKed byte >= highRxt below the
	// highest SACKed byte.
	high := -1
	for i := r.idx(hd) - 1; i >= r.idx(una); i-- {
		if r.sacked[i] {
			high = i
			break
		}
	}
	start, n, kind, ok := s.NextSeg(una, hd, highRxt, mss, false)
	for q := highRxt; high >= 0 && r.idx(q) < high; q++ {
		if r.sacked[r.idx(q)] {
			continue
		}
		run := uint32(0)
		for p := q; !r.sacked[r.idx(p)] && run < mss; p++ {
			run++
		}
		wantKind := SegUnsacked
		if r.isLost(q, mss) {
			wantKind = SegLost
		}
		if !ok || start != q || n != run || kind != wantKind {
			t.Fatalf("NextSeg = %#x %d %v %v, reference %#x %d %v", uint32(start), n, kind, ok, uint32(q), run, wantKind)
		}
		return
	}
	if ok {
		t.Fatalf("NextSeg = %#x %d %v, reference: none", uint32(start), n, kind)
	}
	// Rule 4: ends at the highest unSACKed byte.
	start, n, kind, ok = s.NextSeg(una, hd, highRxt, mss, true)
	top := -1
	for i := r.idx(hd) - 1; i >= r.idx(una); i-- {
		if !r.sacked[i] {
			top = i
			break
		}
	}
	if top < 0 {
		if ok {
			t.Fatalf("rescue with everything SACKed")
		}
		return
	}
	lo := top
	for lo > r.idx(una) && !r.sacked[lo-1] && top-lo+1 < int(mss) {
		lo--
	}
	if !ok || kind != SegRescue || r.idx(start) != lo || int(n) != top-lo+1 {
		t.Fatalf("rescue = %#x %d %v %v, reference start %#x n %d", uint32(start), n, kind, ok, uint32(r.base.Add(uint32(lo))), top-lo+1)
	}
}

func TestScoreboardZeroAllocs(t *testing.T) {
	var s Scoreboard
	blocks := []wire.SACKBlock{blk(5000, 6000), blk(8000, 9000), blk(2000, 3000)}
	una := wire.Seq(1000)
	if n := testing.AllocsPerRun(1000, func() {
		s.Update(una, 20000, blocks)
		_ = s.IsSacked(5500)
		_ = s.IsLost(1000, 1000)
		_ = s.Pipe(una, 20000, 1500, 1000)
		_, _, _, _ = s.NextSeg(una, 20000, 1500, 1000, true)
		_, _ = s.HighSacked()
		_, _ = s.DSACK()
		for b := range s.Blocks() {
			_ = b
		}
	}); n != 0 {
		t.Fatalf("%v allocs per ACK", n)
	}
}

func BenchmarkUpdate(b *testing.B) {
	var s Scoreboard
	blocks := make([]wire.SACKBlock, 3)
	b.ReportAllocs()
	una := wire.Seq(0xFFFF0000)
	for i := 0; i < b.N; i++ {
		// A sliding recovery: 20 holes, the ACK moves one segment.
		if i%20 == 0 {
			s.Reset()
		}
		base := una.Add(uint32(i%20) * 1448)
		for k := range blocks {
			st := base.Add(uint32(k*3+1) * 1448)
			blocks[k] = wire.SACKBlock{Start: st, End: st.Add(1448)}
		}
		s.Update(base, una.Add(200*1448), blocks)
	}
}

func BenchmarkPipeNextSeg(b *testing.B) {
	var s Scoreboard
	for k := 0; k < 32; k++ {
		st := wire.Seq(uint32(2*k+1) * 1448)
		s.Update(0, 100*1448, []wire.SACKBlock{{Start: st, End: st.Add(1448)}})
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		hr := wire.Seq(uint32(i%32) * 2 * 1448)
		_ = s.Pipe(0, 100*1448, hr, 1448)
		_, _, _, _ = s.NextSeg(0, 100*1448, hr, 1448, true)
	}
}
