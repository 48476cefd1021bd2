package fault

import (
	"fmt"
	"math"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
)

// Faults are the fault rates of one direction. Each probability is in
// [0, 1] and is drawn independently per frame.
type Faults struct {
	Drop      float64 // release the frame
	Duplicate float64 // deliver a copy right after the frame
	Reorder   float64 // let ReorderGap later frames overtake the frame
	Corrupt   float64 // flip one checksummed bit (IPv4 frames only)
	Delay     float64 // hold the frame for DelayBy nanoseconds
	// DelayBy is how long a delayed frame is held, in nanoseconds (>= 0).
	DelayBy int64
	// ReorderGap is how many later frames overtake a reordered one
	// (default 1).
	ReorderGap int
}

// Config sets up a wrapper.
type Config struct {
	// Seed makes the faults reproducible: the same seed, faults and calls
	// give the same frames the same faults.
	Seed uint64
	// Rx applies to received frames, Tx to transmitted ones.
	Rx, Tx Faults
	// Clock reads the monotonic time in nanoseconds (the reactor's clock,
	// or a manual one in tests). Required if any Delay > 0.
	Clock func() int64
}

// DirStats counts the faults applied in one direction.
type DirStats struct {
	Dropped        uint64 // frames released
	Duplicated     uint64 // duplicates delivered
	DupNoBuf       uint64 // duplicates skipped: the slab was exhausted
	Reordered      uint64 // frames held for reordering
	Corrupted      uint64 // frames with one bit flipped
	CorruptSkipped uint64 // frames chosen for corruption that are not IPv4
	Delayed        uint64 // frames held for DelayBy
	HeldFull       uint64 // frames that escaped Delay or Reorder: too many held
}

// FaultStats are a wrapper's fault counters, per direction.
type FaultStats struct {
	Rx, Tx DirStats
}

// Queue wraps a nic.Queue with faults. It implements nic.Queue.
type Queue struct {
	inner   nic.Queue
	clock   func() int64
	rx, tx  dir
	scratch [64]*buf.Packet // inner RxBurst lands here
	closed  bool
}

var _ nic.Queue = (*Queue)(nil)

// Wrap puts faults between q and its user. It panics on an impossible
// Config (a probability outside [0, 1], a negative DelayBy or ReorderGap,
// a Delay without a Clock): that is a bug in the test that wrote it.
func Wrap(q nic.Queue, cfg Config) *Queue {
	mustValid(cfg.Rx, cfg.Clock != nil)
	mustValid(cfg.Tx, cfg.Clock != nil)
	return &Queue{
		inner: q,
		clock: cfg.Clock,
		rx:    newDir(cfg.Rx, cfg.Seed, 1),
		tx:    newDir(cfg.Tx, cfg.Seed, 2),
	}
}

func mustValid(f Faults, haveClock bool) {
	for _, p := range []float64{f.Drop, f.Duplicate, f.Reorder, f.Corrupt, f.Delay} {
		if !(p >= 0 && p <= 1) {
			panic(fmt.Sprintf("fault: probability %v outside [0, 1] in %+v", p, f))
		}
	}
	if f.DelayBy < 0 || f.ReorderGap < 0 {
		panic(fmt.Sprintf("fault: negative DelayBy or ReorderGap in %+v", f))
	}
	if f.Delay > 0 && !haveClock {
		panic("fault: Delay needs Config.Clock")
	}
}

// SetFaults changes the rates of both directions from now on (for example
// to turn faults off and let a test drain). Frames already held stay held
// until due, except that turning Reorder off in a direction releases the
// frames it holds for reordering at once. It panics as Wrap does.
func (q *Queue) SetFaults(rx, tx Faults) {
	mustValid(rx, q.clock != nil)
	mustValid(tx, q.clock != nil)
	q.rx.set(rx)
	q.tx.set(tx)
}

// FaultStats returns a copy of the fault counters.
func (q *Queue) FaultStats() FaultStats { return FaultStats{Rx: q.rx.stats, Tx: q.tx.stats} }

// NextDue reports when the wrapper next has work that no readable Fd will
// announce: frames ready to return from RxBurst or to push into the inner
// queue (due at once: math.MinInt64), or delayed frames in either direction
// (due at the earliest one's time). A shard must not sleep past it. ok is
// false when nothing is due (frames held for reordering wait for traffic,
// which wakes the shard anyway).
func (q *Queue) NextDue() (due int64, ok bool) {
	if q.rx.ready.len() > 0 || q.tx.ready.len() > 0 {
		return math.MinInt64, true
	}
	if q.rx.delay.n > 0 {
		due, ok = q.rx.delay.peekAt(), true
	}
	if q.tx.delay.n > 0 && (!ok || q.tx.delay.peekAt() < due) {
		due, ok = q.tx.delay.peekAt(), true
	}
	return due, ok
}

func (q *Queue) now(d *dir) int64 {
	if d.needClock() {
		return q.clock()
	}
	return 0
}

// RxBurst returns frames from the inner queue after the RX faults, and
// delayed or reordered frames whose time has come. It returns 0 only after
// the inner RxBurst has returned 0, so the inner Fd's promise holds.
func (q *Queue) RxBurst(pkts []*buf.Packet) int {
	if q.closed {
		return 0
	}
	d := &q.rx
	now := q.now(d)
	d.releaseDue(now)
	// Pull until something is ready or the inner queue is dry: when we
	// return 0, the inner RxBurst has returned 0 too, so a shard may sleep
	// on the inner Fd (frames that all got dropped or held must not leave
	// the rest of a burst waiting unannounced).
	for {
		want := min(len(q.scratch), len(pkts)-d.ready.len(), d.room())
		if want <= 0 {
			break
		}
		n := q.inner.RxBurst(q.scratch[:want])
		for i := 0; i < n; i++ {
			d.process(q.scratch[i], now)
			q.scratch[i] = nil
		}
		if n == 0 || d.ready.len() > 0 {
			break
		}
	}
	return d.ready.popInto(pkts)
}

// TxBurst applies the TX faults to pkts and passes what survives to the
// inner queue. Frames the inner queue refuses wait in the wrapper (bounded)
// for the next TxBurst or Kick; when that store is full TxBurst takes fewer
// frames.
func (q *Queue) TxBurst(pkts []*buf.Packet) int {
	if q.closed {
		return 0
	}
	d := &q.tx
	now := q.now(d)
	d.releaseDue(now)
	n := 0
	for n < len(pkts) && d.room() > 0 {
		d.process(pkts[n], now)
		n++
	}
	q.flushTx()
	return n
}

func (q *Queue) flushTx() {
	r := &q.tx.ready
	for r.len() > 0 {
		s := r.front()
		m := q.inner.TxBurst(s)
		r.discard(m)
		if m < len(s) {
			return
		}
	}
}

// Kick sends delayed TX frames that are due and anything the inner queue
// refused before, then kicks the inner queue.
func (q *Queue) Kick() error {
	if q.closed {
		return nic.ErrClosed
	}
	d := &q.tx
	d.releaseDue(q.now(d))
	q.flushTx()
	return q.inner.Kick()
}

// Fd is the inner queue's. See NextDue for bounding a sleep on it.
func (q *Queue) Fd() int { return q.inner.Fd() }

// Caps are the inner queue's, less transmit checksum offload: a corrupted
// frame must reach the wire with the checksum of its original bytes, and
// a partial checksum completed below the wrapper (by the kernel or NIC)
// would be computed over the corrupted ones and hide the damage.
func (q *Queue) Caps() nic.Caps {
	c := q.inner.Caps()
	c.TxCsumOffload = false
	return c
}

// Stats are the inner queue's; faults are counted in FaultStats.
func (q *Queue) Stats() nic.Stats { return q.inner.Stats() }

// Close releases every frame the wrapper holds and closes the inner queue.
func (q *Queue) Close() error {
	if q.closed {
		return nic.ErrClosed
	}
	q.closed = true
	q.rx.releaseAll()
	q.tx.releaseAll()
	return q.inner.Close()
}
