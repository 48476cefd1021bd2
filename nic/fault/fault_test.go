package fault

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/buf/buftest"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/nic/memwire"
)

// ---- harness ----

func newSlab(t testing.TB, frames int) *buf.Slab { return buftest.NewSlab(t, frames) }

// link is a memwire cable whose two ends may be wrapped in faults. Close
// runs (via t.Cleanup) before the slabs' leak checks.
type link struct {
	sa, sb *buf.Slab
	a, b   nic.Queue // a sends, b receives (either may be a *Queue)
}

func newLink(t testing.TB, ring, slabFrames int, wrapA, wrapB func(nic.Queue) nic.Queue) *link {
	t.Helper()
	l := &link{sa: newSlab(t, slabFrames), sb: newSlab(t, slabFrames)}
	a, b, err := memwire.New(memwire.Config{Ring: ring}, l.sa, l.sb)
	if err != nil {
		t.Fatal(err)
	}
	l.a, l.b = nic.Queue(a), nic.Queue(b)
	if wrapA != nil {
		l.a = wrapA(l.a)
	}
	if wrapB != nil {
		l.b = wrapB(l.b)
	}
	t.Cleanup(func() {
		l.a.Close()
		l.b.Close()
	})
	return l
}

const (
	typeIPv4 = 0x0800
	typeARP  = 0x0806
)

// frameSize varies the size of frame seq between 60 and 1514 bytes.
func frameSize(seq uint64) int { return 60 + int(seq*211%1455) }

// fillFrame writes frame seq: Ethernet header with the given type, an IPv4
// like header whose total length leaves 6 bytes of Ethernet padding, the
// sequence number, and a pattern.
func fillFrame(d []byte, seq uint64, etype uint16) {
	copy(d, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(d[12:], etype)
	d[14] = 0x45
	binary.BigEndian.PutUint16(d[16:], uint16(len(d)-14-6))
	binary.BigEndian.PutUint64(d[34:], seq)
	for i := 42; i < len(d); i++ {
		d[i] = byte(uint64(i)*13 + seq)
	}
}

func etypeOf(seq uint64) uint16 {
	if seq%5 == 4 {
		return typeARP
	}
	return typeIPv4
}

func expected(seq uint64) []byte {
	d := make([]byte, frameSize(seq))
	fillFrame(d, seq, etypeOf(seq))
	return d
}

func seqOf(p *buf.Packet) uint64 { return binary.BigEndian.Uint64(p.Data()[34:]) }

// transfer sends frames first..first+n-1 from l.a to l.b in bursts of 16,
// receiving after each burst, and returns the delivered frames' sequence
// numbers in order. deliver sees each packet before it is released.
func (l *link) transfer(t testing.TB, first uint64, n int, deliver func(p *buf.Packet)) []uint64 {
	t.Helper()
	var out []uint64
	var tx, rx [16]*buf.Packet
	recv := func() {
		for {
			k := l.b.RxBurst(rx[:])
			if k == 0 {
				return
			}
			for _, p := range rx[:k] {
				out = append(out, seqOf(p))
				if deliver != nil {
					deliver(p)
				}
				p.Release()
			}
		}
	}
	for sent := 0; sent < n; {
		k := min(len(tx), n-sent)
		for i := range k {
			seq := first + uint64(sent+i)
			p := l.sa.Alloc()
			if p == nil {
				t.Fatal("sender slab exhausted")
			}
			fillFrame(p.Append(frameSize(seq)), seq, etypeOf(seq))
			tx[i] = p
		}
		took := l.a.TxBurst(tx[:k])
		for _, p := range tx[took:k] {
			p.Release()
		}
		if took != k {
			t.Fatalf("TxBurst took %d of %d", took, k)
		}
		sent += k
		if err := l.a.Kick(); err != nil {
			t.Fatal(err)
		}
		recv()
	}
	recv()
	return out
}

// within checks that count is within 4 standard deviations of the binomial
// mean n*p. For a correct generator a check fails with probability ~6e-5;
// the seeds are fixed, so the outcome is reproducible either way.
func within(t *testing.T, what string, count, n int, p float64) {
	t.Helper()
	mean := float64(n) * p
	sigma := math.Sqrt(float64(n) * p * (1 - p))
	if math.Abs(float64(count)-mean) > 4*sigma {
		t.Errorf("%s: %d of %d, want %.0f ± %.0f (4σ)", what, count, n, mean, 4*sigma)
	}
}

func wrapper(cfg Config) func(nic.Queue) nic.Queue {
	return func(q nic.Queue) nic.Queue { return Wrap(q, cfg) }
}

const N = 20_000

var seeds = []uint64{1, 2, 3, 0xdecafbad, 1 << 63}

// ---- rates ----

func TestDropRate(t *testing.T) {
	for _, side := range []string{"rx", "tx"} {
		for _, seed := range seeds {
			cfg := Config{Seed: seed}
			var l *link
			if side == "rx" {
				cfg.Rx.Drop = 0.05
				l = newLink(t, 1024, 256, nil, wrapper(cfg))
			} else {
				cfg.Tx.Drop = 0.05
				l = newLink(t, 1024, 256, wrapper(cfg), nil)
			}
			got := l.transfer(t, 0, N, nil)
			lost := N - len(got)
			within(t, side+" drops", lost, N, 0.05)
			var ds DirStats
			if side == "rx" {
				ds = asQ(l.b).FaultStats().Rx
			} else {
				ds = asQ(l.a).FaultStats().Tx
			}
			if ds.Dropped != uint64(lost) {
				t.Errorf("%s seed %d: Dropped = %d, frames missing = %d", side, seed, ds.Dropped, lost)
			}
			if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Errorf("%s seed %d: drop alone reordered or duplicated frames", side, seed)
			}
		}
	}
}

func asQ(q nic.Queue) *Queue { return q.(*Queue) }

func TestDuplicateRate(t *testing.T) {
	for _, seed := range seeds {
		l := newLink(t, 1024, 256, nil, wrapper(Config{Seed: seed, Rx: Faults{Duplicate: 0.05}}))
		got := l.transfer(t, 0, N, func(p *buf.Packet) {
			if s := seqOf(p); string(p.Data()) != string(expected(s)) {
				t.Fatalf("frame %d altered by duplication", s)
			}
		})
		count := make([]int, N)
		for i, s := range got {
			count[s]++
			if i > 0 && s < got[i-1] {
				t.Fatalf("seed %d: duplicate out of place at %d", seed, i)
			}
		}
		twice := 0
		for s, c := range count {
			switch c {
			case 1:
			case 2:
				twice++
			default:
				t.Fatalf("seed %d: frame %d delivered %d times", seed, s, c)
			}
		}
		within(t, "duplicates", twice, N, 0.05)
		if st := asQ(l.b).FaultStats().Rx; st.Duplicated != uint64(twice) || st.DupNoBuf != 0 {
			t.Errorf("seed %d: stats %+v, frames seen twice %d", seed, st, twice)
		}
	}
}

func TestDuplicateSkippedWhenSlabExhausted(t *testing.T) {
	l := newLink(t, 1024, 3, nil, wrapper(Config{Rx: Faults{Duplicate: 1}}))
	got := l.transfer(t, 0, 2, nil)
	// The receiving slab has 3 frames: two arrivals and one duplicate.
	if !slices.Equal(got, []uint64{0, 0, 1}) {
		t.Fatalf("delivered %v, want [0 0 1]", got)
	}
	if st := asQ(l.b).FaultStats().Rx; st.Duplicated != 1 || st.DupNoBuf != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// lateness returns, for each delivered frame, how many frames with a higher
// sequence number were delivered before it (a Fenwick tree over seqs).
func lateness(got []uint64) []int {
	size := 1
	for _, s := range got {
		size = max(size, int(s)+2)
	}
	tree := make([]int, size+1)
	out := make([]int, len(got))
	for i, s := range got {
		lower := 0 // delivered so far with seq <= s
		for j := int(s) + 1; j > 0; j -= j & -j {
			lower += tree[j]
		}
		out[i] = i - lower
		for j := int(s) + 1; j <= size; j += j & -j {
			tree[j]++
		}
	}
	return out
}

func TestReorderRateAndGap(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		p    float64
		gap  int
	}{{1, 0.05, 0}, {2, 0.05, 1}, {3, 0.02, 3}, {4, 0.01, 10}} {
		n := N
		q := (*Queue)(nil)
		l := newLink(t, 1024, 256, nil, func(in nic.Queue) nic.Queue {
			q = Wrap(in, Config{Seed: tc.seed, Rx: Faults{Reorder: tc.p, ReorderGap: tc.gap}})
			return q
		})
		got := l.transfer(t, 0, n, nil)
		held := map[uint64]bool{}
		for i := range q.rx.reorder.n {
			held[seqOf(q.rx.reorder.s[(q.rx.reorder.head+i)%HeldLimit].p)] = true
		}
		q.SetFaults(Faults{}, Faults{}) // releases what waits for later frames
		got = append(got, l.transfer(t, uint64(n), 0, nil)...)
		wantGap := max(tc.gap, 1)

		sorted := slices.Sorted(slices.Values(got))
		for i, s := range sorted {
			if s != uint64(i) {
				t.Fatalf("seed %d: frame %d lost or duplicated by reordering", tc.seed, i)
			}
		}
		late := 0
		for i, k := range lateness(got) {
			if k == 0 {
				continue
			}
			late++
			// A frame released by the final SetFaults was overtaken by
			// fewer frames; every other one by exactly the gap.
			if k != wantGap && !held[got[i]] {
				t.Errorf("seed %d: frame %d overtaken by %d frames, want %d", tc.seed, got[i], k, wantGap)
			}
		}
		st := q.FaultStats().Rx
		if st.Reordered != uint64(late) {
			t.Errorf("seed %d: Reordered = %d but %d frames arrived late", tc.seed, st.Reordered, late)
		}
		within(t, "reordered", late, n, tc.p)
		t.Logf("gap %d: %d of %d late, %d held at the end", wantGap, late, n, len(held))
	}
}

func TestHeldStoreFullPassesThrough(t *testing.T) {
	var q *Queue
	l := newLink(t, 1024, 1024, nil, func(in nic.Queue) nic.Queue {
		q = Wrap(in, Config{Rx: Faults{Reorder: 1, ReorderGap: 1 << 20}})
		return q
	})
	got := l.transfer(t, 0, 400, nil)
	if st := q.FaultStats().Rx; st.Reordered != HeldLimit || st.HeldFull != 400-HeldLimit {
		t.Fatalf("stats %+v", st)
	}
	if len(got) != 400-HeldLimit || got[0] != HeldLimit {
		t.Fatalf("delivered %d frames starting at %v", len(got), got[:1])
	}
	// Close releases the held frames (the slab leak check proves it).
}

// ---- corruption ----

func TestCorruptFlipsExactlyOneCoveredBit(t *testing.T) {
	for _, seed := range seeds[:3] {
		var q *Queue
		l := newLink(t, 1024, 256, nil, func(in nic.Queue) nic.Queue {
			q = Wrap(in, Config{Seed: seed, Rx: Faults{Corrupt: 0.1}})
			return q
		})
		i := uint64(0)
		flipped, arps := 0, 0
		l.transfer(t, 0, N, func(p *buf.Packet) {
			want := expected(i)
			d := p.Data()
			if len(d) != len(want) {
				t.Fatalf("frame %d: length %d, want %d", i, len(d), len(want))
			}
			diff, at := 0, -1
			for j := range d {
				if x := d[j] ^ want[j]; x != 0 {
					diff += bits.OnesCount8(x)
					at = j
				}
			}
			covered := 14 + int(binary.BigEndian.Uint16(want[16:]))
			switch {
			case diff == 0:
			case diff > 1:
				t.Fatalf("frame %d: %d bits flipped", i, diff)
			case etypeOf(i) != typeIPv4:
				t.Fatalf("frame %d: non-IPv4 frame corrupted", i)
			case at < 14 || at >= covered:
				t.Fatalf("frame %d: flipped bit at byte %d, outside [14, %d)", i, at, covered)
			default:
				flipped++
			}
			if etypeOf(i) != typeIPv4 {
				arps++
			}
			i++
		})
		if i != N {
			t.Fatalf("delivered %d of %d", i, N)
		}
		st := q.FaultStats().Rx
		if st.Corrupted != uint64(flipped) {
			t.Errorf("seed %d: Corrupted = %d, frames with a flipped bit = %d", seed, st.Corrupted, flipped)
		}
		within(t, "corrupted IPv4 frames", flipped, N-arps, 0.1)
		within(t, "corruption skipped on ARP", int(st.CorruptSkipped), arps, 0.1)
	}
}

// ---- delay ----

type manualClock struct{ now int64 }

func (c *manualClock) read() int64 { return c.now }

func TestDelayHoldsUntilDueNotATickLess(t *testing.T) {
	clk := &manualClock{now: 100}
	var q *Queue
	l := newLink(t, 1024, 64, nil, func(in nic.Queue) nic.Queue {
		q = Wrap(in, Config{Clock: clk.read, Rx: Faults{Delay: 1, DelayBy: 1000}})
		return q
	})
	if got := l.transfer(t, 0, 10, nil); len(got) != 0 {
		t.Fatalf("delivered %v at once", got)
	}
	if due, ok := q.NextDue(); !ok || due != 1100 {
		t.Fatalf("NextDue = %d, %v; want 1100, true", due, ok)
	}
	clk.now = 1099
	if got := l.transfer(t, 10, 0, nil); len(got) != 0 {
		t.Fatalf("delivered %v one tick early", got)
	}
	clk.now = 1100
	q.SetFaults(Faults{}, Faults{})
	got := l.transfer(t, 10, 5, nil)
	if !slices.Equal(got, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}) {
		t.Fatalf("delivered %v when due", got)
	}
	if _, ok := q.NextDue(); ok {
		t.Fatal("NextDue reports work with nothing held")
	}
	if st := q.FaultStats().Rx; st.Delayed != 10 {
		t.Fatalf("Delayed = %d", st.Delayed)
	}
}

func TestDelayOnTransmitReleasedByKick(t *testing.T) {
	clk := &manualClock{}
	var q *Queue
	l := newLink(t, 1024, 64, func(in nic.Queue) nic.Queue {
		q = Wrap(in, Config{Clock: clk.read, Tx: Faults{Delay: 1, DelayBy: 500}})
		return q
	}, nil)
	if got := l.transfer(t, 0, 4, nil); len(got) != 0 {
		t.Fatalf("delivered %v at once", got)
	}
	if due, ok := q.NextDue(); !ok || due != 500 {
		t.Fatalf("NextDue = %d, %v", due, ok)
	}
	clk.now = 499
	q.Kick()
	if got := l.transfer(t, 4, 0, nil); len(got) != 0 {
		t.Fatalf("delivered %v a tick early", got)
	}
	clk.now = 500
	q.Kick()
	if got := l.transfer(t, 4, 0, nil); !slices.Equal(got, []uint64{0, 1, 2, 3}) {
		t.Fatalf("delivered %v after Kick at due time", got)
	}
}

// TestDelayMixed checks with a clock that advances per burst that every
// delayed frame is held for DelayBy and every other one is not.
func TestDelayMixed(t *testing.T) {
	clk := &manualClock{}
	var q *Queue
	l := newLink(t, 1024, 512, nil, func(in nic.Queue) nic.Queue {
		q = Wrap(in, Config{Seed: 9, Clock: clk.read, Rx: Faults{Delay: 0.2, DelayBy: 7}})
		return q
	})
	sentAt := map[uint64]int64{}
	var got []uint64
	late := 0
	for i := uint64(0); i < 5000; i++ {
		sentAt[i] = clk.now
		got = append(got, l.transfer(t, i, 1, func(p *buf.Packet) {
			s := seqOf(p)
			switch w := clk.now - sentAt[s]; w {
			case 0:
			case 7:
				late++
			default:
				t.Fatalf("frame %d waited %d ticks", s, w)
			}
		})...)
		clk.now++
	}
	for range 7 {
		got = append(got, l.transfer(t, 0, 0, nil)...)
		clk.now++
	}
	if len(got) != 5000 {
		t.Fatalf("delivered %d of 5000", len(got))
	}
	if st := q.FaultStats().Rx; st.Delayed != uint64(late) {
		t.Fatalf("Delayed = %d, frames that waited = %d", st.Delayed, late)
	}
	within(t, "delayed", late, 5000, 0.2)
}

// ---- determinism ----

func runAll(t *testing.T, seed uint64) []uint64 {
	clk := &manualClock{}
	f := Faults{Drop: 0.03, Duplicate: 0.03, Reorder: 0.03, Corrupt: 0.03, Delay: 0.03, DelayBy: 3, ReorderGap: 2}
	cfg := Config{Seed: seed, Clock: clk.read, Rx: f, Tx: f}
	l := newLink(t, 1024, 512, wrapper(cfg), wrapper(cfg))
	var out []uint64
	for i := uint64(0); i < 2000; i += 10 {
		l.transfer(t, i, 10, func(p *buf.Packet) {
			// Record the bytes, not just the number: the same bits
			// must be corrupted.
			sum := seqOf(p)
			for _, b := range p.Data() {
				sum = sum*31 + uint64(b)
			}
			out = append(out, sum)
		})
		clk.now++
	}
	return out
}

func TestSameSeedSameFrames(t *testing.T) {
	a, b, c := runAll(t, 42), runAll(t, 42), runAll(t, 43)
	if !slices.Equal(a, b) {
		t.Fatal("same seed delivered different frames")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds delivered identical frames")
	}
}

// ---- plumbing ----

func TestRxBurstSmallerThanOutputKeepsFrames(t *testing.T) {
	var q *Queue
	l := newLink(t, 1024, 64, nil, func(in nic.Queue) nic.Queue {
		q = Wrap(in, Config{Rx: Faults{Duplicate: 1}})
		return q
	})
	var tx [3]*buf.Packet
	for i := range tx {
		tx[i] = l.sa.Alloc()
		fillFrame(tx[i].Append(100), uint64(i), typeIPv4)
	}
	l.a.TxBurst(tx[:])
	var got []uint64
	var rx [1]*buf.Packet
	for range 6 {
		if q.RxBurst(rx[:]) != 1 {
			t.Fatalf("RxBurst(1) returned nothing after %v", got)
		}
		got = append(got, seqOf(rx[0]))
		rx[0].Release()
		if due, ok := q.NextDue(); len(got)%2 == 1 && (!ok || due != math.MinInt64) {
			t.Fatalf("after %v a duplicate waits but NextDue = %d, %v", got, due, ok)
		}
	}
	if !slices.Equal(got, []uint64{0, 0, 1, 1, 2, 2}) {
		t.Fatalf("delivered %v", got)
	}
}

func TestTxBackPressureKeepsOrder(t *testing.T) {
	var q *Queue
	l := newLink(t, 8, 1024, func(in nic.Queue) nic.Queue {
		q = Wrap(in, Config{})
		return q
	}, nil)
	tx := make([]*buf.Packet, 600)
	for i := range tx {
		tx[i] = l.sa.Alloc()
		fillFrame(tx[i].Append(64), uint64(i), typeIPv4)
	}
	took := q.TxBurst(tx)
	if took > readyCap+8 || took < readyCap/2 {
		t.Fatalf("took %d of 600 with an inner ring of 8 and a store of %d", took, readyCap)
	}
	if due, ok := q.NextDue(); !ok || due != math.MinInt64 {
		t.Fatal("frames wait for the inner queue but NextDue is not now")
	}
	var got []uint64
	var rx [8]*buf.Packet
	for sent := took; len(got) < 600; {
		n := l.b.RxBurst(rx[:])
		for _, p := range rx[:n] {
			got = append(got, seqOf(p))
			p.Release()
		}
		q.Kick()
		sent += q.TxBurst(tx[sent:])
	}
	for i, s := range got {
		if s != uint64(i) {
			t.Fatalf("frame %d delivered as %d", i, s)
		}
	}
	if q.Stats() != l.a.(*Queue).inner.Stats() || q.Stats().TxPackets != 600 {
		t.Fatalf("Stats do not delegate: %+v", q.Stats())
	}
}

func TestCloseReleasesEverything(t *testing.T) {
	clk := &manualClock{}
	f := Faults{Reorder: 0.3, Delay: 0.3, DelayBy: 1 << 40, Duplicate: 0.3}
	var qa, qb *Queue
	l := newLink(t, 4, 512, func(in nic.Queue) nic.Queue {
		qa = Wrap(in, Config{Seed: 5, Clock: clk.read, Tx: f})
		return qa
	}, func(in nic.Queue) nic.Queue {
		qb = Wrap(in, Config{Seed: 6, Clock: clk.read, Rx: f})
		return qb
	})
	tx := make([]*buf.Packet, 100)
	for i := range tx {
		tx[i] = l.sa.Alloc()
		fillFrame(tx[i].Append(64), uint64(i), typeIPv4)
	}
	if n := qa.TxBurst(tx); n != 100 {
		t.Fatalf("took %d", n)
	}
	var rx [2]*buf.Packet
	n := qb.RxBurst(rx[:]) // leaves frames in ready, delay and reorder stores
	for _, p := range rx[:n] {
		p.Release()
	}
	if qa.tx.held()+qa.tx.ready.len() == 0 || qb.rx.held()+qb.rx.ready.len() == 0 {
		t.Fatal("test setup: nothing held")
	}
	if err := qa.Close(); err != nil {
		t.Fatal(err)
	}
	if err := qb.Close(); err != nil {
		t.Fatal(err)
	}
	if l.sa.InUse() != 0 || l.sb.InUse() != 0 {
		t.Fatalf("after Close: %d and %d frames in use", l.sa.InUse(), l.sb.InUse())
	}
	if qa.Close() != nic.ErrClosed || qa.TxBurst(tx[:0]) != 0 || qb.RxBurst(rx[:]) != 0 || qa.Kick() != nic.ErrClosed {
		t.Fatal("closed wrapper still works")
	}
}

func TestWrapRejectsImpossibleConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Rx: Faults{Drop: -0.1}},
		{Tx: Faults{Duplicate: 1.5}},
		{Rx: Faults{Reorder: math.NaN()}},
		{Rx: Faults{Delay: 0.1}}, // no clock
		{Tx: Faults{DelayBy: -1}},
		{Tx: Faults{ReorderGap: -1}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Wrap(%+v) did not panic", cfg)
				}
			}()
			Wrap(nil, cfg)
		}()
	}
}

func TestPRNGUniform(t *testing.T) {
	// A chi-squared check of intn over 16 buckets: 15 degrees of freedom,
	// the 0.9999 quantile is 44.3.
	r := newRNG(7, 1)
	var b [16]int
	const n = 160_000
	for range n {
		b[r.intn(16)]++
	}
	chi := 0.0
	for _, c := range b {
		d := float64(c) - n/16
		chi += d * d / (n / 16)
	}
	if chi > 44.3 {
		t.Fatalf("chi-squared %.1f over 16 buckets: %v", chi, b)
	}
	first := func(seed, stream uint64) uint64 { r := newRNG(seed, stream); return r.next() }
	if first(7, 1) == first(7, 2) || first(7, 1) == first(8, 1) {
		t.Fatal("streams or seeds collide")
	}
}

// ---- allocations and speed ----

func TestZeroAllocsPerFrame(t *testing.T) {
	clk := &manualClock{}
	f := Faults{Drop: 0.1, Duplicate: 0.1, Reorder: 0.1, Corrupt: 0.1, Delay: 0.1, DelayBy: 2}
	l := newLink(t, 1024, 256, wrapper(Config{Seed: 1, Clock: clk.read, Tx: f}),
		wrapper(Config{Seed: 2, Clock: clk.read, Rx: f}))
	tx := make([]*buf.Packet, 4)
	rx := make([]*buf.Packet, 16)
	seq := uint64(0)
	allocs := testing.AllocsPerRun(2000, func() {
		for i := range tx {
			tx[i] = l.sa.Alloc()
			fillFrame(tx[i].Append(200), seq, typeIPv4)
			seq++
		}
		l.a.TxBurst(tx)
		l.a.Kick()
		for {
			n := l.b.RxBurst(rx)
			if n == 0 {
				break
			}
			for _, p := range rx[:n] {
				p.Release()
			}
		}
		clk.now++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per burst, want 0", allocs)
	}
	if st := l.b.(*Queue).FaultStats().Rx; st.Duplicated == 0 || st.Delayed == 0 || st.Reordered == 0 {
		t.Fatalf("faults did not happen: %+v", st)
	}
}

func BenchmarkRxFaults(b *testing.B) {
	for _, bc := range []struct {
		name string
		f    Faults
	}{
		{"unwrapped", Faults{Drop: -1}},
		{"none", Faults{}},
		{"all5pct", Faults{Drop: 0.05, Duplicate: 0.05, Reorder: 0.05, Corrupt: 0.05}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := wrapper(Config{Seed: 1, Rx: bc.f})
			if bc.f.Drop < 0 {
				w = nil // the memwire cable alone, for comparison
			}
			l := newLink(b, 1024, 256, nil, w)
			var tx, rx [32]*buf.Packet
			b.ReportAllocs()
			for b.Loop() {
				for i := range tx {
					tx[i] = l.sa.Alloc()
					fillFrame(tx[i].Append(64), uint64(i), typeIPv4)
				}
				l.a.TxBurst(tx[:])
				for {
					n := l.b.RxBurst(rx[:])
					if n == 0 {
						break
					}
					for _, p := range rx[:n] {
						p.Release()
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*32), "ns/frame")
		})
	}
}

func TestSetFaultsOffReleasesReorderedFrames(t *testing.T) {
	var q *Queue
	l := newLink(t, 1024, 64, func(in nic.Queue) nic.Queue {
		q = Wrap(in, Config{Tx: Faults{Reorder: 1, ReorderGap: 100}})
		return q
	}, nil)
	if got := l.transfer(t, 0, 5, nil); len(got) != 0 {
		t.Fatalf("delivered %v while held for reordering", got)
	}
	if _, ok := q.NextDue(); ok {
		t.Fatal("frames held for reordering reported as due")
	}
	q.SetFaults(Faults{}, Faults{Drop: 0})
	if due, ok := q.NextDue(); !ok || due != math.MinInt64 {
		t.Fatal("released frames not reported as due")
	}
	q.Kick()
	if got := l.transfer(t, 5, 2, nil); !slices.Equal(got, []uint64{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("after turning reordering off delivered %v", got)
	}
}

// TestRxBurstReturnsZeroOnlyWhenInnerIsDry: if a whole pull is dropped, the
// wrapper must pull again rather than return 0 with frames left in the
// inner queue (a shard would then sleep on them).
func TestRxBurstReturnsZeroOnlyWhenInnerIsDry(t *testing.T) {
	var q *Queue
	l := newLink(t, 1024, 256, nil, func(in nic.Queue) nic.Queue {
		q = Wrap(in, Config{Rx: Faults{Drop: 1}})
		return q
	})
	tx := make([]*buf.Packet, 100)
	for i := range tx {
		tx[i] = l.sa.Alloc()
		fillFrame(tx[i].Append(64), uint64(i), typeIPv4)
	}
	l.a.TxBurst(tx)
	var rx [4]*buf.Packet
	if n := q.RxBurst(rx[:]); n != 0 {
		t.Fatalf("got %d frames with Drop 1", n)
	}
	if got := q.FaultStats().Rx.Dropped; got != 100 {
		t.Fatalf("RxBurst returned 0 after dropping %d of 100 waiting frames", got)
	}
}
