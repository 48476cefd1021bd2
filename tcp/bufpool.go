package tcp

import "sort"

// bufPool hands out the byte slices of connections' send and receive
// buffers on demand, for one Stack (so for one shard; nothing here locks).
// A connection holds a buffer only while it has bytes in it: the send
// buffer while data is written and not yet acknowledged, the receive
// buffer while data has arrived that the application has not consumed.
// An idle connection holds none.
//
// Buffers come in size classes: powers of two from minClass up, plus
// Config.SendBuf and Config.RecvBuf themselves (so a full-size buffer is
// never rounded up). A buffer that must grow moves to a larger class (a
// copy; the size at least doubles, so the cost is amortised). Every byte
// taken counts against Config.MaxBufferBytes; a request over it is refused
// (the caller then buffers less: a short Write, a smaller receive window,
// or a counted drop). Freed buffers go to per-class free lists for reuse,
// which keep at most maxFree bytes in all; the rest is left to the garbage
// collector.
type bufPool struct {
	sizes []int      // class sizes, ascending
	free  [][][]byte // free buffers per class

	limit     int64 // Config.MaxBufferBytes
	inUse     int64 // bytes held by connections (gauge)
	high      int64 // high-water mark of inUse
	freeBytes int64 // bytes on the free lists
	maxFree   int64 // bound on freeBytes
	refusals  uint64

	// released says bytes were given back since the Stack last looked:
	// connections whose Write came up short for lack of budget
	// (Stack.memWait) may get OnWritable.
	released bool
}

// minClass is the smallest buffer taken for more than a few bytes: one
// page, which holds two full-size segments' payload.
const minClass = 4 << 10

func (p *bufPool) init(sendBuf, recvBuf int, limit int64) {
	top := max(sendBuf, recvBuf)
	p.sizes = p.sizes[:0]
	for sz := minClass; sz < top; sz <<= 1 {
		p.sizes = append(p.sizes, sz)
	}
	p.sizes = append(p.sizes, sendBuf, recvBuf)
	sort.Ints(p.sizes)
	n := 0
	for i, sz := range p.sizes {
		if i == 0 || sz != p.sizes[n-1] {
			p.sizes[n] = sz
			n++
		}
	}
	p.sizes = p.sizes[:n]
	p.free = make([][][]byte, n)
	p.limit = limit
	p.maxFree = max(limit/16, 2*int64(sendBuf+recvBuf))
}

// class returns the index of the smallest class of at least want bytes
// (want is at most the largest class).
func (p *bufPool) class(want int) int {
	for i, sz := range p.sizes {
		if sz >= want {
			return i
		}
	}
	return len(p.sizes) - 1
}

// avail is how many more bytes connections may take.
func (p *bufPool) avail() int64 {
	if a := p.limit - p.inUse; a > 0 {
		return a
	}
	return 0
}

// grow returns a buffer of at least want bytes and at most limit (want ≤
// limit, both within the classes) to replace old, which the caller copies
// from and then gives back with recycle (the budget already counts the
// swap: the new size replaces the old). When the budget does not allow the
// class for want it settles for the largest class that fits in the budget
// and is larger than old; it returns nil (and counts a refusal) when there
// is none.
func (p *bufPool) grow(old []byte, want, limit int) []byte {
	hi := p.class(want)
	for i := hi; i >= 0; i-- {
		sz := p.sizes[i]
		if sz <= len(old) {
			break
		}
		if sz > limit {
			continue
		}
		if int64(sz-len(old))+p.inUse > p.limit {
			continue
		}
		return p.take(i, len(old))
	}
	p.refusals++
	return nil
}

func (p *bufPool) take(i, oldLen int) []byte {
	sz := p.sizes[i]
	p.inUse += int64(sz - oldLen)
	if p.inUse > p.high {
		p.high = p.inUse
	}
	if fl := p.free[i]; len(fl) > 0 {
		b := fl[len(fl)-1]
		fl[len(fl)-1] = nil
		p.free[i] = fl[:len(fl)-1]
		p.freeBytes -= int64(sz)
		return b
	}
	return make([]byte, sz)
}

// put gives back a buffer taken with grow. b must not be used afterwards.
func (p *bufPool) put(b []byte) {
	if b == nil {
		return
	}
	p.inUse -= int64(cap(b))
	p.released = true
	p.recycle(b)
}

// recycle keeps b, no longer counted in use, on its class's free list if
// the lists have room.
func (p *bufPool) recycle(b []byte) {
	if b == nil {
		return
	}
	b = b[:cap(b)]
	sz := len(b)
	if p.freeBytes+int64(sz) > p.maxFree {
		return
	}
	i := p.class(sz)
	if p.sizes[i] != sz {
		return
	}
	p.free[i] = append(p.free[i], b)
	p.freeBytes += int64(sz)
}
