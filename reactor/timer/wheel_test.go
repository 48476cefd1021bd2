package timer

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

const ms = int64(1e6)

// rec is a test timer that records when it fired.
type rec struct {
	Timer
	id    int
	fired []int64 // the now of each firing
}

func newRec(id int) *rec {
	r := &rec{id: id}
	r.Init(func(now int64) { r.fired = append(r.fired, now) })
	return r
}

func TestZeroTimerUnarmed(t *testing.T) {
	var tm Timer
	if tm.Armed() || tm.When() != 0 {
		t.Fatalf("zero Timer: Armed=%v When=%d", tm.Armed(), tm.When())
	}
	w := NewWheel(ms, 64, 0)
	if w.Cancel(&tm) {
		t.Fatal("Cancel of an unarmed timer returned true")
	}
	if _, ok := w.NextDeadline(); ok {
		t.Fatal("NextDeadline on an empty wheel reported a deadline")
	}
}

func TestFiresAtDeadlineNotBefore(t *testing.T) {
	w := NewWheel(ms, 64, 1000)
	r := newRec(0)
	w.Schedule(&r.Timer, 1000+5*ms+1)
	if !r.Armed() || r.When() != 1000+5*ms+1 || w.Len() != 1 {
		t.Fatalf("after Schedule: Armed=%v When=%d Len=%d", r.Armed(), r.When(), w.Len())
	}
	for now := int64(1000); now < 1000+5*ms+1; now += ms / 4 {
		if n := w.Advance(now); n != 0 || len(r.fired) != 0 {
			t.Fatalf("fired early at %d (deadline %d)", now, r.When())
		}
	}
	if n := w.Advance(1000 + 5*ms + 1); n != 1 || len(r.fired) != 1 || r.fired[0] != 1000+5*ms+1 {
		t.Fatalf("at deadline: Advance=%d fired=%v", n, r.fired)
	}
	if r.Armed() || w.Len() != 0 {
		t.Fatalf("after firing: Armed=%v Len=%d", r.Armed(), w.Len())
	}
	if n := w.Advance(1000 + 100*ms); n != 0 || len(r.fired) != 1 {
		t.Fatalf("fired twice: %v", r.fired)
	}
}

func TestPastDeadlineFiresNextAdvance(t *testing.T) {
	w := NewWheel(ms, 64, 50*ms)
	a, b := newRec(0), newRec(1)
	w.Schedule(&a.Timer, 10*ms)   // before the wheel's start
	w.Schedule(&b.Timer, w.Now()) // exactly now
	if d, ok := w.NextDeadline(); !ok || d != w.Now() {
		t.Fatalf("NextDeadline = %d,%v, want %d,true", d, ok, w.Now())
	}
	if n := w.Advance(w.Now()); n != 2 {
		t.Fatalf("Advance(now) fired %d, want 2", n)
	}
	if a.When() != 10*ms {
		t.Fatalf("When changed to %d", a.When())
	}
	// A now behind the wheel's time does not move it back.
	w.Advance(0)
	if w.Now() != 50*ms {
		t.Fatalf("Now moved back to %d", w.Now())
	}
}

func TestCancelAndRearm(t *testing.T) {
	w := NewWheel(ms, 64, 0)
	a, b := newRec(0), newRec(1)
	w.Schedule(&a.Timer, 3*ms)
	w.Schedule(&b.Timer, 3*ms)
	if !w.Cancel(&a.Timer) || a.Armed() || w.Len() != 1 {
		t.Fatal("Cancel of an armed timer failed")
	}
	if w.Cancel(&a.Timer) {
		t.Fatal("second Cancel returned true")
	}
	// Re-arm b later, twice; only the last deadline counts.
	w.Schedule(&b.Timer, 100*ms)
	w.ScheduleAfter(&b.Timer, 7*ms)
	if b.When() != 7*ms || w.Len() != 1 {
		t.Fatalf("When=%d Len=%d after re-arm", b.When(), w.Len())
	}
	w.Advance(6*ms + ms - 1)
	if len(a.fired)+len(b.fired) != 0 {
		t.Fatal("a cancelled or re-armed timer fired at its old deadline")
	}
	w.Advance(7 * ms)
	if len(a.fired) != 0 || len(b.fired) != 1 {
		t.Fatalf("a fired %d, b fired %d; want 0, 1", len(a.fired), len(b.fired))
	}
	// Reset is ScheduleAfter.
	w.Reset(&a.Timer, 2*ms)
	if a.When() != 9*ms {
		t.Fatalf("Reset: When=%d, want %d", a.When(), 9*ms)
	}
}

func TestCancelOnOtherWheel(t *testing.T) {
	w1, w2 := NewWheel(ms, 8, 0), NewWheel(ms, 8, 0)
	a := newRec(0)
	w1.Schedule(&a.Timer, ms)
	if w2.Cancel(&a.Timer) || !a.Armed() {
		t.Fatal("Cancel on a wheel the timer is not armed on disarmed it")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Schedule on a second wheel while armed did not panic")
		}
	}()
	w2.Schedule(&a.Timer, ms)
}

func TestScheduleWithoutInitPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	var tm Timer
	NewWheel(ms, 8, 0).Schedule(&tm, 1)
}

func TestRearmFromOwnCallback(t *testing.T) {
	w := NewWheel(ms, 16, 0)
	var tm Timer
	count := 0
	tm.Init(func(now int64) {
		count++
		w.Schedule(&tm, now) // due again at once: must wait for the next Advance
	})
	w.Schedule(&tm, ms)
	if n := w.Advance(ms); n != 1 || count != 1 {
		t.Fatalf("first Advance fired %d (count %d), want 1", n, count)
	}
	if !tm.Armed() {
		t.Fatal("timer re-armed from its callback is not armed")
	}
	if n := w.Advance(ms); n != 1 || count != 2 {
		t.Fatalf("second Advance fired %d (count %d), want 1", n, count)
	}
	// Fired from an early slot of a multi-tick sweep and re-armed for the
	// sweep's end: still only once per Advance.
	w.Schedule(&tm, 3*ms)
	if n := w.Advance(9 * ms); n != 1 || count != 3 || !tm.Armed() {
		t.Fatalf("multi-tick Advance fired %d (count %d), want 1", n, count)
	}
	// Periodic: re-arm one tick later from the callback, across a gap.
	var p Timer
	pc := 0
	p.Init(func(now int64) { pc++; w.Schedule(&p, now+ms) })
	w.Cancel(&tm)
	w.Schedule(&p, 2*ms)
	if n := w.Advance(100 * ms); n != 1 || pc != 1 || p.When() != 101*ms {
		t.Fatalf("periodic across a gap: fired %d, pc %d, When %d", n, pc, p.When())
	}
}

func TestCallbackCancelsSlotNeighbours(t *testing.T) {
	// All timers share a slot. Whichever fires first cancels all the
	// others (including the one the walk would visit next) and re-arms
	// one of them in the same slot for later.
	w := NewWheel(ms, 16, 0)
	const n = 8
	ts := make([]*rec, n)
	first := -1
	for i := range ts {
		r := &rec{id: i}
		ts[i] = r
		r.Init(func(now int64) {
			r.fired = append(r.fired, now)
			if first >= 0 {
				return
			}
			first = r.id
			for _, o := range ts {
				if o != r {
					if !w.Cancel(&o.Timer) {
						t.Errorf("Cancel of timer %d in the same slot returned false", o.id)
					}
				}
			}
			w.Schedule(&ts[(r.id+1)%n].Timer, now+16*ms) // same slot, next revolution
		})
		w.Schedule(&r.Timer, 3*ms)
	}
	if got := w.Advance(3 * ms); got != 1 {
		t.Fatalf("Advance fired %d, want 1", got)
	}
	for _, r := range ts {
		if want := btoi(r.id == first); len(r.fired) != want {
			t.Fatalf("timer %d fired %d times, want %d", r.id, len(r.fired), want)
		}
	}
	if w.Len() != 1 {
		t.Fatalf("Len = %d, want 1", w.Len())
	}
	next := ts[(first+1)%n]
	w.Advance(19*ms - 1)
	if len(next.fired) != 0 {
		t.Fatal("re-armed timer fired early")
	}
	w.Advance(19 * ms)
	if len(next.fired) != 1 {
		t.Fatal("re-armed timer did not fire")
	}
}

func TestCallbackCancelsNextInWalk(t *testing.T) {
	// Ordering inside a slot is an implementation detail, so make every
	// timer cancel its list successor: whatever the order, each callback
	// must see a consistent list and the total fired + cancelled = all.
	w := NewWheel(ms, 16, 0)
	const n = 9
	ts := make([]*Timer, n)
	fired, cancelled := 0, 0
	for i := range ts {
		ts[i] = new(Timer)
	}
	for i, tm := range ts {
		tm.Init(func(now int64) {
			fired++
			if w.Cancel(ts[(i+1)%n]) {
				cancelled++
			}
			// and arm a new timer into the slot being walked
			extra := new(Timer)
			extra.Init(func(int64) { t.Error("timer armed for later fired now") })
			w.Schedule(extra, now+16*ms)
			w.Cancel(extra)
		})
		w.Schedule(tm, 5*ms)
	}
	w.Advance(5 * ms)
	if fired+cancelled != n || fired == 0 || w.Len() != 0 {
		t.Fatalf("fired %d + cancelled %d != %d (Len %d)", fired, cancelled, n, w.Len())
	}
}

func TestMultipleRevolutions(t *testing.T) {
	w := NewWheel(ms, 8, 0) // one revolution = 8 ms
	a, b, c := newRec(0), newRec(1), newRec(2)
	w.Schedule(&a.Timer, 3*ms)       // slot 3, round 0
	w.Schedule(&b.Timer, 3*ms+8*ms)  // slot 3, round 1
	w.Schedule(&c.Timer, 3*ms+80*ms) // slot 3, round 10
	for now := int64(0); now <= 100*ms; now += ms / 2 {
		w.Advance(now)
		for _, r := range []*rec{a, b, c} {
			want := btoi(now >= r.When())
			if len(r.fired) != want {
				t.Fatalf("now %d: timer %d (deadline %d) fired %d times, want %d", now, r.id, r.When(), len(r.fired), want)
			}
		}
	}
}

func TestHugeGap(t *testing.T) {
	w := NewWheel(ms, 4096, 0)
	r := rand.New(rand.NewPCG(1, 2))
	const n = 1000
	ts := make([]*rec, n)
	for i := range ts {
		ts[i] = newRec(i)
		w.Schedule(&ts[i].Timer, r.Int64N(1e6*ms))
	}
	// Jump ~31 years of ticks in one Advance: must return promptly and
	// fire everything except the far timer.
	far := newRec(-1)
	w.Schedule(&far.Timer, math.MaxInt64)
	if got := w.Advance(1 << 60); got != n {
		t.Fatalf("Advance over a huge gap fired %d, want %d", got, n)
	}
	for _, x := range ts {
		if len(x.fired) != 1 {
			t.Fatalf("timer %d fired %d times", x.id, len(x.fired))
		}
	}
	if d, ok := w.NextDeadline(); !ok || d > math.MaxInt64 || d < w.Now() {
		t.Fatalf("NextDeadline = %d,%v", d, ok)
	}
	if got := w.Advance(math.MaxInt64); got != 1 || len(far.fired) != 1 {
		t.Fatalf("Advance(MaxInt64) fired %d", got)
	}
}

func TestNegativeEpoch(t *testing.T) {
	w := NewWheel(ms, 64, math.MinInt64+5)
	a := newRec(0)
	w.Schedule(&a.Timer, -3)
	w.Advance(-4)
	if len(a.fired) != 0 {
		t.Fatal("fired early")
	}
	w.Advance(-3)
	if len(a.fired) != 1 {
		t.Fatal("did not fire")
	}
}

// TestPropertyVsReference drives random schedules, cancels, re-arms and
// clock steps (small, tick-sized and huge) against a plain map of
// deadlines, checking after every Advance that exactly the timers whose
// deadline is <= now fired, each once, and that NextDeadline is a true
// lower bound that is within a tick whenever all timers fit in one
// revolution.
func TestPropertyVsReference(t *testing.T) {
	for _, cfg := range []struct {
		tick  int64
		slots int
	}{{ms, 64}, {ms, 1}, {ms, 2}, {7, 256}, {ms, 4096}} {
		for seed := uint64(0); seed < 20; seed++ {
			propertyRun(t, cfg.tick, cfg.slots, seed)
		}
	}
}

func propertyRun(t *testing.T, tick int64, slots int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(slots)))
	start := r.Int64N(1<<40) - 1<<39
	w := NewWheel(tick, slots, start)
	const n = 300
	ts := make([]*rec, n)
	ref := map[int]int64{} // armed timers and their deadlines
	for i := range ts {
		ts[i] = newRec(i)
	}
	revolution := tick * int64(slots)
	deadline := func() int64 {
		switch r.IntN(5) {
		case 0:
			return w.Now() - r.Int64N(3*tick) // past or now
		case 1:
			return w.Now() + r.Int64N(3*revolution) // a few revolutions
		case 2:
			return w.Now() + r.Int64N(revolution/2+1)
		default:
			return w.Now() + r.Int64N(40*tick)
		}
	}
	for step := 0; step < 400; step++ {
		for k := r.IntN(8); k > 0; k-- {
			x := ts[r.IntN(n)]
			if r.IntN(4) == 0 {
				_, armed := ref[x.id]
				if got := w.Cancel(&x.Timer); got != armed {
					t.Fatalf("seed %d: Cancel(%d) = %v, reference armed = %v", seed, x.id, got, armed)
				}
				delete(ref, x.id)
			} else {
				at := deadline()
				w.Schedule(&x.Timer, at)
				ref[x.id] = at
			}
		}
		if w.Len() != len(ref) {
			t.Fatalf("seed %d: Len = %d, reference %d", seed, w.Len(), len(ref))
		}
		checkNextDeadline(t, w, ref, revolution)
		var dt int64
		switch r.IntN(10) {
		case 0:
			dt = 0
		case 1:
			dt = r.Int64N(50 * revolution) // huge
		default:
			dt = r.Int64N(5 * tick)
		}
		now := w.Now() + dt
		for _, x := range ts {
			x.fired = x.fired[:0]
		}
		got := w.Advance(now)
		want := 0
		for _, x := range ts {
			at, armed := ref[x.id]
			due := armed && at <= now
			if due {
				want++
				delete(ref, x.id)
			}
			if len(x.fired) != btoi(due) {
				t.Fatalf("seed %d tick %d slots %d: timer %d deadline %d (armed %v) fired %d times at now %d",
					seed, tick, slots, x.id, at, armed, len(x.fired), now)
			}
			if x.Armed() != (armed && !due) {
				t.Fatalf("seed %d: timer %d Armed=%v after Advance, due=%v", seed, x.id, x.Armed(), due)
			}
		}
		if got != want {
			t.Fatalf("seed %d: Advance returned %d, %d fired", seed, got, want)
		}
	}
}

func checkNextDeadline(t *testing.T, w *Wheel, ref map[int]int64, revolution int64) {
	t.Helper()
	lb, ok := w.NextDeadline()
	if ok != (len(ref) > 0) {
		t.Fatalf("NextDeadline ok=%v with %d timers", ok, len(ref))
	}
	if !ok {
		return
	}
	minAt, maxAt := int64(math.MaxInt64), int64(math.MinInt64)
	for _, at := range ref {
		minAt = min(minAt, at)
		maxAt = max(maxAt, at)
	}
	if lb < w.Now() {
		t.Fatalf("NextDeadline %d before Now %d", lb, w.Now())
	}
	if lb > max(minAt, w.Now()) {
		t.Fatalf("NextDeadline %d after the earliest deadline %d (now %d)", lb, minAt, w.Now())
	}
	// Within one revolution the bound is the start of the earliest
	// timer's tick at worst.
	if maxAt-w.Now() < revolution-w.Tick() && minAt > w.Now() && minAt-lb >= w.Tick() {
		t.Fatalf("NextDeadline %d is more than a tick before the earliest deadline %d", lb, minAt)
	}
}

// TestSleepLoop runs the reactor's idle pattern: jump the clock to
// NextDeadline, Advance, repeat. Every timer must fire exactly at its
// deadline (the clock only ever stops at bounds <= deadlines), and the
// number of wake-ups must stay bounded.
func TestSleepLoop(t *testing.T) {
	w := NewWheel(ms, 64, 0)
	r := rand.New(rand.NewPCG(7, 7))
	const n = 200
	ts := make([]*rec, n)
	for i := range ts {
		ts[i] = newRec(i)
		w.Schedule(&ts[i].Timer, r.Int64N(1000*ms)) // up to ~16 revolutions
	}
	wakeups := 0
	for w.Len() > 0 {
		d, ok := w.NextDeadline()
		if !ok {
			t.Fatal("timers armed but no deadline")
		}
		if d < w.Now() {
			t.Fatalf("deadline %d in the past (now %d)", d, w.Now())
		}
		if d == w.Now() && w.Advance(d) == 0 {
			t.Fatalf("NextDeadline returned Now (%d) but nothing fired: the loop would spin", d)
		}
		w.Advance(d)
		wakeups++
		if wakeups > 100000 {
			t.Fatal("sleep loop does not converge")
		}
	}
	for _, x := range ts {
		if len(x.fired) != 1 || x.fired[0] != x.When() {
			t.Fatalf("timer %d deadline %d fired at %v", x.id, x.When(), x.fired)
		}
	}
	// At most: one wake per timer, plus one early wake per non-empty slot
	// per revolution.
	if limit := n + 64*17; wakeups > limit {
		t.Fatalf("%d wake-ups, limit %d", wakeups, limit)
	}
}

func TestAdvanceFromCallbackPanics(t *testing.T) {
	w := NewWheel(ms, 8, 0)
	var tm Timer
	tm.Init(func(now int64) { w.Advance(now + 1) })
	w.Schedule(&tm, 1)
	defer func() {
		if recover() == nil {
			t.Fatal("nested Advance did not panic")
		}
	}()
	w.Advance(1)
}

func TestZeroAllocs(t *testing.T) {
	w := NewWheel(ms, 4096, 0)
	ts := make([]Timer, 1024)
	for i := range ts {
		ts[i].Init(func(int64) {})
	}
	now := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		for i := range ts {
			w.Schedule(&ts[i], now+int64(i%300)*ms/3)
		}
		for i := 0; i < len(ts); i += 3 {
			w.Cancel(&ts[i])
		}
		now += 50 * ms
		w.Advance(now)
		w.NextDeadline()
	})
	if allocs != 0 {
		t.Fatalf("Schedule/Cancel/Advance allocated %v times per run", allocs)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func BenchmarkScheduleCancel(b *testing.B) {
	w := NewWheel(ms, 4096, 0)
	ts := make([]Timer, 1024)
	for i := range ts {
		ts[i].Init(func(int64) {})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := &ts[i&1023]
		w.Schedule(t, int64(i)*ms/7)
		w.Cancel(t)
		i++
	}
}

// BenchmarkReschedule is the TCP pattern: re-arm an armed timer (RTO on
// every ACK) without cancelling it first.
func BenchmarkReschedule(b *testing.B) {
	w := NewWheel(ms, 4096, 0)
	ts := make([]Timer, 1024)
	for i := range ts {
		ts[i].Init(func(int64) {})
		w.Schedule(&ts[i], 200*ms)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.Schedule(&ts[i&1023], 200*ms+int64(i&4095)*ms)
		i++
	}
}

// BenchmarkAdvance100k: 100k periodic timers with random periods of
// 1..4000 ms; each op advances the clock one 1 ms tick and fires (and
// re-arms) whatever is due, about 200 timers per tick.
func BenchmarkAdvance100k(b *testing.B) {
	w := NewWheel(ms, 4096, 0)
	r := rand.New(rand.NewPCG(3, 4))
	ts := make([]Timer, 100000)
	for i := range ts {
		tm := &ts[i]
		period := (1 + r.Int64N(4000)) * ms
		tm.Init(func(now int64) { w.Schedule(tm, now+period) })
		w.Schedule(tm, r.Int64N(4000*ms))
	}
	now := int64(0)
	fired := 0
	b.ReportAllocs()
	for b.Loop() {
		now += ms
		fired += w.Advance(now)
	}
	b.ReportMetric(float64(fired)/float64(b.N), "fired/op")
}

// BenchmarkAdvanceIdle100k: 100k timers far away (in later revolutions);
// each op advances one tick, firing nothing: the cost of rescanning slots.
func BenchmarkAdvanceIdle100k(b *testing.B) {
	w := NewWheel(ms, 4096, 0)
	r := rand.New(rand.NewPCG(5, 6))
	ts := make([]Timer, 100000)
	for i := range ts {
		ts[i].Init(func(int64) {})
		w.Schedule(&ts[i], 1e15+r.Int64N(1e12))
	}
	now := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		now += ms
		w.Advance(now)
	}
}

func BenchmarkNextDeadline100k(b *testing.B) {
	w := NewWheel(ms, 4096, 0)
	r := rand.New(rand.NewPCG(5, 6))
	ts := make([]Timer, 100000)
	for i := range ts {
		ts[i].Init(func(int64) {})
		w.Schedule(&ts[i], r.Int64N(100000*ms))
	}
	b.ReportAllocs()
	for b.Loop() {
		w.NextDeadline()
	}
}

func TestNextDeadlineSorted(t *testing.T) {
	// Deadlines all within one revolution: the bound must be the earliest
	// deadline's tick start (or the deadline itself in the current slot).
	w := NewWheel(ms, 256, 0)
	r := rand.New(rand.NewPCG(9, 9))
	var ats []int64
	ts := make([]Timer, 50)
	for i := range ts {
		ts[i].Init(func(int64) {})
		at := 1 + r.Int64N(200*ms)
		ats = append(ats, at)
		w.Schedule(&ts[i], at)
	}
	slices.Sort(ats)
	ats = slices.Compact(ats)
	for _, at := range ats {
		lb, ok := w.NextDeadline()
		if !ok || lb > at || at-lb >= ms {
			t.Fatalf("NextDeadline = %d,%v; earliest deadline %d", lb, ok, at)
		}
		w.Advance(at)
	}
	if _, ok := w.NextDeadline(); ok || w.Len() != 0 {
		t.Fatal("timers left")
	}
}
