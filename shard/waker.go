package shard

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Waker lets other threads wake a shard that sleeps in poll(2). It is an
// eventfd plus a flag that says whether the shard is (about to be) asleep,
// so that producers make the write(2) only when it is needed: a busy
// shard costs a producer one load of a read-mostly cache line.
//
// The shard's loop, which alone calls PrepareSleep and Awake:
//
//	if w.PrepareSleep() {  // false: work arrived, do not sleep
//		unix.Poll([{queueFd}, {w.Fd()}], timeout)
//		w.Awake()
//	}
//
// Producers, from any thread, after publishing work: w.Wake().
//
// Why no wake-up is lost (Dekker's pattern). The shard stores
// sleeping=1 and then loads the queues' publication indexes (in
// PrepareSleep, through the pending function). A producer stores its
// queue's publication index (SPSC tail, inbox cell sequence) and then
// loads the sleeping flag (in Wake). Every one of these is a Go atomic
// operation, and Go's atomics are sequentially consistent: all four fall
// in one total order that respects each thread's program order. If the
// shard's flag store comes first, the producer's later flag load sees 1
// and writes the eventfd, so poll returns (the eventfd counter stays
// non-zero until Awake reads it, so it does not matter whether the write
// lands before or during poll). Otherwise the producer's flag load
// precedes the shard's flag store, so the producer's index store, earlier
// still, precedes the shard's index load: the shard sees the work and
// does not sleep. Either way the work is noticed. Work that a producer
// published but whose Wake found the flag clear was published before the
// shard's next PrepareSleep re-check, so that re-check sees it.
type Waker struct {
	fd      int
	pending func() bool
	one     [8]byte // the eventfd increment, 1 in native byte order; read-only
	_       [cacheLine - 24]byte
	// state is written by the shard (PrepareSleep, Awake) and by at most
	// one producer per sleep (the CAS that claims the write).
	state atomic.Uint32
	sink  [8]byte // Awake reads the eventfd counter into it; shard only
	_     [cacheLine - 12]byte
	// users counts Wakes between their closed check and their write, with
	// closedBit set once Close has started; Close waits for the count to
	// drain, so a Wake never writes to a closed (maybe reused) fd.
	users atomic.Int64
}

const (
	awake    = 0 // running; producers need not write
	sleeping = 1 // in or about to enter poll
	woken    = 2 // a producer has claimed (made or is making) the write

	closedBit = 1 << 62
)

// NewWaker opens an eventfd (EFD_NONBLOCK|EFD_CLOEXEC). pending, if not
// nil, is the consumer's check for published work; PrepareSleep calls it
// after raising the flag. It runs on the shard's thread.
func NewWaker(pending func() bool) (*Waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("shard: eventfd: %w", err)
	}
	w := &Waker{fd: fd, pending: pending}
	*(*uint64)(unsafe.Pointer(&w.one)) = 1
	return w, nil
}

// Fd returns the eventfd to poll for POLLIN.
func (w *Waker) Fd() int { return w.fd }

// PrepareSleep raises the sleeping flag and then re-checks for published
// work with the pending function. If there is some it lowers the flag
// again and returns false: do not sleep. If it returns true the caller
// may poll on Fd (and its own descriptors) and must call Awake after.
// A caller with further producer-fed sources that the pending function
// does not cover must re-check them after a true return, and call Awake
// instead of sleeping if it finds work. Shard thread only.
func (w *Waker) PrepareSleep() bool {
	w.state.Store(sleeping)
	if w.pending != nil && w.pending() {
		// Only a producer that won the CAS (state woken) writes; if none
		// did, none can now, and there is nothing to drain.
		if w.state.Swap(awake) == woken {
			w.drain()
		}
		return false
	}
	return true
}

// Awake lowers the sleeping flag and drains the eventfd. Call it after
// every sleep, whatever woke the shard. It always reads the eventfd
// (one non-blocking read(2) per sleep): a producer that claimed the
// write may make it late, after an earlier Awake found the eventfd empty,
// and skipping the read would leave the eventfd readable forever.
// Shard thread only.
func (w *Waker) Awake() {
	w.state.Store(awake)
	w.drain()
}

func (w *Waker) drain() {
	unix.Read(w.fd, w.sink[:]) // EAGAIN when empty: nothing to drain
}

// Wake wakes the shard if it is asleep or about to be. Call it after
// publishing work (with an atomic store). Safe from any thread, and after
// Close (it then does nothing). The first producer to find the shard
// sleeping makes the one write(2); the others only load the flag.
func (w *Waker) Wake() {
	if w.state.Load() != sleeping || !w.state.CompareAndSwap(sleeping, woken) {
		return
	}
	if w.users.Add(1)&closedBit == 0 {
		unix.Write(w.fd, w.one[:]) // fails only at a count of 2^64-2: cannot happen
	}
	w.users.Add(-1)
}

// Close closes the eventfd, after waiting out any Wake that is writing to
// it. Later Wakes do nothing. Call it once the shard has stopped polling.
func (w *Waker) Close() error {
	if w.users.Or(closedBit)&closedBit != 0 {
		return nil // already closed
	}
	for w.users.Load() != closedBit {
		runtime.Gosched()
	}
	return unix.Close(w.fd)
}
