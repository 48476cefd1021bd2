package shard

import "sync/atomic"

// cacheLine is the padding unit that keeps indexes written by different
// threads on different cache lines. 128 rather than 64: the adjacent-line
// prefetcher of recent x86 cores pulls lines in pairs.
const cacheLine = 128

// SPSC is a bounded lock-free ring for exactly one producer thread and one
// consumer thread (Lamport's ring with cached indexes). Push is called only
// by the producer and Pop, PopBurst by the consumer; Len by anyone.
//
// Each side owns one cache line: the producer writes tail and keeps a
// private copy of head, refreshed only when the ring looks full; the
// consumer writes head and keeps a private copy of tail, refreshed only
// when the ring looks empty. In steady state a Push touches the consumer's
// line once per lap, not once per message. The tail store is an atomic
// (sequentially consistent) store, which publishes the slot written before
// it and is what the Waker protocol relies on.
type SPSC[T any] struct {
	mask uint64
	ring []T
	_    [cacheLine - 32]byte

	tail      atomic.Uint64 // next slot to write; written by the producer
	headCache uint64        // producer's last view of head
	_         [cacheLine - 16]byte

	head      atomic.Uint64 // next slot to read; written by the consumer
	tailCache uint64        // consumer's last view of tail
	_         [cacheLine - 16]byte
}

// NewSPSC returns a ring holding up to size values; size is rounded up to a
// power of two (at least 2).
func NewSPSC[T any](size int) *SPSC[T] {
	n := ceilPow2(size)
	return &SPSC[T]{mask: uint64(n - 1), ring: make([]T, n)}
}

// Cap returns the ring's capacity.
func (q *SPSC[T]) Cap() int { return len(q.ring) }

// Push appends v and reports whether there was room. Producer only.
func (q *SPSC[T]) Push(v T) bool {
	t := q.tail.Load() // our own index: a plain load on the producer's line
	if t-q.headCache > q.mask {
		q.headCache = q.head.Load()
		if t-q.headCache > q.mask {
			return false
		}
	}
	q.ring[t&q.mask] = v
	q.tail.Store(t + 1)
	return true
}

// Pop removes and returns the oldest value, or false if the ring is empty.
// Consumer only.
func (q *SPSC[T]) Pop() (T, bool) {
	var zero T
	h := q.head.Load()
	if h == q.tailCache {
		q.tailCache = q.tail.Load()
		if h == q.tailCache {
			return zero, false
		}
	}
	slot := &q.ring[h&q.mask]
	v := *slot
	*slot = zero // drop references for the GC
	q.head.Store(h + 1)
	return v, true
}

// PopBurst moves up to len(dst) of the oldest values into dst and returns
// how many it moved, publishing the new head once. Consumer only.
func (q *SPSC[T]) PopBurst(dst []T) int {
	h := q.head.Load()
	avail := q.tailCache - h
	if avail < uint64(len(dst)) {
		q.tailCache = q.tail.Load()
		avail = q.tailCache - h
	}
	n := min(avail, uint64(len(dst)))
	if n == 0 {
		return 0
	}
	var zero T
	for i := range n {
		slot := &q.ring[(h+i)&q.mask]
		dst[i] = *slot
		*slot = zero
	}
	q.head.Store(h + n)
	return int(n)
}

// Len returns the number of values in the ring. From any thread it is a
// snapshot that may be stale by the time it is used; on the consumer's
// thread a non-zero Len means Pop will succeed.
func (q *SPSC[T]) Len() int {
	h := q.head.Load()
	t := q.tail.Load()
	if t < h { // head moved past our stale tail between the loads
		return 0
	}
	return int(t - h)
}

// ceilPow2 rounds n up to a power of two, at least 2.
func ceilPow2(n int) int {
	p := 2
	for p < n {
		p <<= 1
	}
	return p
}
