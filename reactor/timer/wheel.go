package timer

import (
	"math"
	"math/bits"
)

// Timer is one intrusive timer. The zero value is an unarmed timer with no
// callback; give it one with Init before its first Schedule. Embed it by
// value in the object it serves; it must not be copied while armed.
type Timer struct {
	next, prev *Timer // links in the wheel list named by list
	armedOn    *Wheel // the wheel this timer is armed on, nil when unarmed
	when       int64  // absolute deadline
	list       uint32 // index into Wheel.heads while armed
	fn         func(now int64)
}

// Init sets the function called when the timer fires. Call it once, when
// the object embedding the timer is set up (a method value or closure made
// then is the only allocation a timer ever needs).
func (t *Timer) Init(fn func(now int64)) { t.fn = fn }

// Armed reports whether the timer is scheduled and has not yet fired or
// been cancelled. A timer is unarmed while its own callback runs.
func (t *Timer) Armed() bool { return t.armedOn != nil }

// When returns the deadline the timer was last scheduled for (as given to
// Schedule, even when that was already in the past).
func (t *Timer) When() int64 { return t.when }

// Wheel is a hashed timing wheel. It belongs to one shard and is not safe
// for concurrent use.
type Wheel struct {
	tick  int64  // nanoseconds per slot
	mask  uint64 // slots-1
	base  int64  // the time of tick 0 (the now given to NewWheel)
	now   int64  // the time of the last Advance (or NewWheel)
	cur   uint64 // tick number of now
	heads []*Timer
	// heads[0:slots] are the slots; heads[due] holds timers whose deadline
	// was at or before the wheel's time when they were scheduled: the next
	// Advance fires them all.
	due       uint32
	occupied  []uint64 // bit i set iff heads[i] != nil, for i < slots
	n         int      // armed timers
	cursor    *Timer   // the next timer Advance will look at, if any
	advancing bool
}

// NewWheel returns a wheel of slots slots (a power of two) of tick
// nanoseconds each, whose time starts at now. One revolution spans
// slots*tick; timers further away than that cost one extra look per
// revolution. It panics on a non-positive tick or a slot count that is not
// a power of two (a configuration bug).
func NewWheel(tick int64, slots int, now int64) *Wheel {
	if tick <= 0 {
		panic("timer: NewWheel with non-positive tick")
	}
	if slots <= 0 || slots&(slots-1) != 0 || slots > 1<<24 {
		panic("timer: NewWheel slot count must be a power of two in 1..2^24")
	}
	return &Wheel{
		tick:     tick,
		mask:     uint64(slots - 1),
		base:     now,
		now:      now,
		heads:    make([]*Timer, slots+1),
		due:      uint32(slots),
		occupied: make([]uint64, (slots+63)/64),
	}
}

// Now returns the wheel's time: the now of the last Advance (during
// Advance, the time being advanced to).
func (w *Wheel) Now() int64 { return w.now }

// Len reports how many timers are armed.
func (w *Wheel) Len() int { return w.n }

// Tick returns the wheel's slot width in nanoseconds.
func (w *Wheel) Tick() int64 { return w.tick }

// tickOf returns the tick number of time at, which must be >= w.base.
// Unsigned subtraction keeps it exact for any pair of int64 times.
func (w *Wheel) tickOf(at int64) uint64 {
	return (uint64(at) - uint64(w.base)) / uint64(w.tick)
}

// Schedule arms t to fire at time at, re-arming it if it is already armed.
// A deadline at or before the wheel's time fires at the next Advance. It
// panics if t has no callback (Init was not called) or is armed on another
// wheel.
func (w *Wheel) Schedule(t *Timer, at int64) {
	if t.armedOn != nil {
		if t.armedOn != w {
			panic("timer: Schedule of a Timer armed on another Wheel")
		}
		w.unlink(t)
	} else {
		if t.fn == nil {
			panic("timer: Schedule of a Timer without Init")
		}
		t.armedOn = w
		w.n++
	}
	t.when = at
	idx := w.due
	if at > w.now {
		idx = uint32(w.tickOf(at) & w.mask)
	}
	w.link(t, idx)
}

// ScheduleAfter arms (or re-arms) t to fire d nanoseconds after the
// wheel's time: Schedule(t, w.Now()+d).
func (w *Wheel) ScheduleAfter(t *Timer, d int64) { w.Schedule(t, w.now+d) }

// Reset is ScheduleAfter, under the name time.Timer uses.
func (w *Wheel) Reset(t *Timer, d int64) { w.Schedule(t, w.now+d) }

// Cancel disarms t and reports whether it was armed on w. Cancelling an
// unarmed timer is a no-op that returns false.
func (w *Wheel) Cancel(t *Timer) bool {
	if t.armedOn != w {
		return false
	}
	w.unlink(t)
	t.armedOn = nil
	w.n--
	return true
}

// link pushes t at the head of list idx. Advance walks lists from the
// head, so a timer linked while a list is being walked is not visited by
// that walk.
func (w *Wheel) link(t *Timer, idx uint32) {
	h := w.heads[idx]
	t.list = idx
	t.prev = nil
	t.next = h
	if h != nil {
		h.prev = t
	} else if idx != w.due {
		w.occupied[idx>>6] |= 1 << (idx & 63)
	}
	w.heads[idx] = t
}

// unlink removes t from its list, stepping the walk cursor past it.
func (w *Wheel) unlink(t *Timer) {
	if t == w.cursor {
		w.cursor = t.next
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		w.heads[t.list] = t.next
		if t.next == nil && t.list != w.due {
			w.occupied[t.list>>6] &^= 1 << (t.list & 63)
		}
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.next, t.prev = nil, nil
}

// Advance moves the wheel's time to now and fires, in no promised order,
// every armed timer whose deadline is <= now. It returns how many fired.
// A now earlier than the wheel's time is taken as the wheel's time (the
// clock is monotonic). Callbacks may Schedule and Cancel any timer; they
// must not call Advance.
func (w *Wheel) Advance(now int64) int {
	if w.advancing {
		panic("timer: Advance called from a timer callback")
	}
	if now < w.now {
		now = w.now
	}
	w.advancing = true
	w.now = now
	// Timers in the due list are all due; timers a callback re-arms for
	// <= now join a fresh due list (linked at its head, behind the walk)
	// and wait for the next Advance.
	fired := w.walk(w.due, now)
	end := w.tickOf(now)
	span := end - w.cur + 1 // the old current slot may hold later-in-tick timers
	if span > w.mask+1 {
		span = w.mask + 1
	}
	start := w.cur & w.mask
	for off := uint64(0); off < span; off++ {
		k, ok := w.nextOccupied(start+off, span-off)
		if !ok {
			break
		}
		off += k
		fired += w.walk(uint32((start+off)&w.mask), now)
	}
	w.cur = end
	w.advancing = false
	return fired
}

// walk fires the due timers of list idx. The cursor makes it safe for a
// callback to cancel or re-arm any timer, including the next one the walk
// would visit: unlink steps the cursor past a removed timer.
func (w *Wheel) walk(idx uint32, now int64) int {
	fired := 0
	t := w.heads[idx]
	for t != nil {
		w.cursor = t.next
		if t.when <= now {
			w.unlink(t)
			t.armedOn = nil
			w.n--
			fired++
			t.fn(now)
		}
		t = w.cursor
	}
	w.cursor = nil
	return fired
}

// nextOccupied returns the offset k < n of the first non-empty slot at or
// after slot from (mod slots), scanning the occupancy bitmap a word at a
// time.
func (w *Wheel) nextOccupied(from, n uint64) (uint64, bool) {
	slots := w.mask + 1
	for off := uint64(0); off < n; {
		pos := (from + off) & w.mask
		b := pos & 63
		if word := w.occupied[pos>>6] >> b; word != 0 {
			k := off + uint64(bits.TrailingZeros64(word))
			return k, k < n
		}
		step := 64 - b
		if rest := slots - pos; rest < step {
			step = rest
		}
		off += step
	}
	return 0, false
}

// NextDeadline returns a lower bound on the earliest deadline of the armed
// timers, and false if there are none. The reactor sleeps at most until
// then. The bound is exact for timers in the current tick's slot, and
// otherwise the start of the next non-empty slot: if that slot holds only
// timers of a later revolution, the loop wakes once early, advances, and
// asks again. Never less than Now(). Cost: O(slots/64) bitmap words plus
// the timers in the current slot.
func (w *Wheel) NextDeadline() (int64, bool) {
	if w.n == 0 {
		return 0, false
	}
	if w.heads[w.due] != nil || w.advancing {
		return w.now, true
	}
	best := int64(math.MaxInt64)
	cs := w.cur & w.mask
	for t := w.heads[cs]; t != nil; t = t.next {
		if t.when < best {
			best = t.when
		}
	}
	if k, ok := w.nextOccupied(cs+1, w.mask); ok {
		// A timer in the slot k+1 ahead is due no earlier than that
		// slot's next start: its tick is >= cur and congruent to cur+k+1.
		start := int64(uint64(w.base) + (w.cur+k+1)*uint64(w.tick))
		if start < best {
			best = start
		}
	}
	return best, true
}
