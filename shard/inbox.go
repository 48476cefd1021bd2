package shard

import (
	"errors"
	"sync/atomic"
)

// Errors from Inbox.Post.
var (
	ErrInboxFull   = errors.New("shard: inbox full")
	ErrInboxClosed = errors.New("shard: inbox closed (shard stopped)")
)

// Inbox is a bounded lock-free queue of funcs that any goroutine may post
// and one shard runs on its own thread: how code off the data path (a
// blocking file read, a config change, a test) hands work to a shard.
//
// It is Dmitry Vyukov's bounded MPMC queue restricted to one consumer:
// each cell carries a sequence number that says whose turn it is. A cell
// at position p is free for the producer that claims p when seq == p, and
// holds a published func for the consumer when seq == p+1; the consumer
// frees it for the next lap by storing p+size. Producers claim positions
// by CAS on tail; nothing is allocated per Post. Producers may post from
// any goroutine; Drain is called only on the owning shard's thread.
// Per producer, funcs run in the order posted.
type Inbox struct {
	mask  uint64
	cells []cell
	waker *Waker
	_     [cacheLine - 40]byte

	tail   atomic.Uint64 // next position to claim; CAS by producers
	closed atomic.Bool
	_      [cacheLine - 12]byte

	head atomic.Uint64 // next position to run; written by the consumer only
	_    [cacheLine - 8]byte
}

type cell struct {
	seq atomic.Uint64
	fn  func()
}

// NewInbox returns an inbox holding up to size funcs (rounded up to a
// power of two, at least 2). Post wakes w, if not nil, after publishing.
func NewInbox(size int, w *Waker) *Inbox {
	n := ceilPow2(size)
	q := &Inbox{mask: uint64(n - 1), cells: make([]cell, n), waker: w}
	for i := range q.cells {
		q.cells[i].seq.Store(uint64(i))
	}
	return q
}

// Cap returns the inbox's capacity.
func (q *Inbox) Cap() int { return len(q.cells) }

// Post queues fn to run on the shard and wakes the shard if it sleeps. It
// returns ErrInboxFull if the inbox is full (the caller decides: retry
// later, drop and count, or fail the request) and ErrInboxClosed once the
// shard has stopped. A nil fn is ignored. Safe from any goroutine.
func (q *Inbox) Post(fn func()) error {
	if fn == nil {
		return nil
	}
	if q.closed.Load() {
		return ErrInboxClosed
	}
	pos := q.tail.Load()
	var c *cell
	for {
		c = &q.cells[pos&q.mask]
		d := int64(c.seq.Load() - pos)
		if d == 0 { // free for position pos: claim it
			if q.tail.CompareAndSwap(pos, pos+1) {
				break
			}
			pos = q.tail.Load()
		} else if d < 0 { // still holds the func of position pos-size: full
			return ErrInboxFull
		} else { // another producer claimed pos; catch up
			pos = q.tail.Load()
		}
	}
	c.fn = fn
	c.seq.Store(pos + 1) // publish (sequentially consistent: see Waker)
	if q.waker != nil {
		q.waker.Wake()
	}
	return nil
}

// Drain runs up to max posted funcs, in order, on the calling (shard's)
// thread, and returns how many it ran. A func may Post to this inbox; what
// it posts runs in this Drain only if max allows. Shard thread only.
func (q *Inbox) Drain(max int) int {
	n := 0
	for n < max {
		h := q.head.Load()
		c := &q.cells[h&q.mask]
		if c.seq.Load() != h+1 {
			break // empty, or the next producer has claimed but not yet published
		}
		fn := c.fn
		c.fn = nil
		c.seq.Store(h + q.mask + 1) // free the cell for the next lap
		q.head.Store(h + 1)
		fn()
		n++
	}
	return n
}

// Ready reports whether Drain would run at least one func now: the cell at
// head is published. This is the consumer's check in the wake-up
// protocol. Shard thread only.
func (q *Inbox) Ready() bool {
	h := q.head.Load()
	return q.cells[h&q.mask].seq.Load() == h+1
}

// Len returns the number of claimed, not yet run positions (including
// ones whose producer is still publishing). A snapshot from any thread.
func (q *Inbox) Len() int {
	h := q.head.Load()
	t := q.tail.Load()
	if t < h {
		return 0
	}
	return int(t - h)
}

// close makes later Posts fail with ErrInboxClosed. Funcs still queued are
// dropped with the inbox; a Post racing with close may still succeed and
// its func never run.
func (q *Inbox) close() { q.closed.Store(true) }
