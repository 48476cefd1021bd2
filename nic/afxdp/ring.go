//go:build linux

package afxdp

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ring is one of a socket's four single-producer single-consumer rings,
// mapped from the kernel. The kernel owns one index and the queue the
// other; each side publishes its own index with a store that the other
// reads with a load (sync/atomic: sequentially consistent, which is at
// least the acquire/release pairing the kernel's side uses), after writing
// (producer) or before reusing (consumer) the slots it covers.
//
// Each side keeps a cached copy of the other's index and re-reads the
// shared one only when the cache says there is no room or nothing to take.
type ring struct {
	mem    []byte  // the whole mapping
	prod   *uint32 // producer index, free-running
	cons   *uint32 // consumer index, free-running
	flags  *uint32 // XDP_RING_NEED_WAKEUP
	mask   uint32
	size   uint32
	local  uint32 // our own index (prod for a producer ring, cons for a consumer ring)
	cached uint32 // last value read of the other side's index

	addrs []uint64       // fill and completion rings
	descs []unix.XDPDesc // rx and tx rings
}

// mapRing maps a ring of size entries of entSize bytes at page offset pgoff.
func mapRing(fd int, off *unix.XDPRingOffset, size uint32, entSize uintptr, pgoff int64, descs bool) (*ring, error) {
	length := int(off.Desc) + int(size)*int(entSize)
	mem, err := unix.Mmap(fd, pgoff, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, err
	}
	r := &ring{
		mem:   mem,
		prod:  (*uint32)(unsafe.Pointer(&mem[off.Producer])),
		cons:  (*uint32)(unsafe.Pointer(&mem[off.Consumer])),
		flags: (*uint32)(unsafe.Pointer(&mem[off.Flags])),
		mask:  size - 1,
		size:  size,
	}
	if descs {
		r.descs = unsafe.Slice((*unix.XDPDesc)(unsafe.Pointer(&mem[off.Desc])), size)
	} else {
		r.addrs = unsafe.Slice((*uint64)(unsafe.Pointer(&mem[off.Desc])), size)
	}
	return r, nil
}

func (r *ring) unmap() {
	if r != nil && r.mem != nil {
		unix.Munmap(r.mem)
		r.mem, r.descs, r.addrs = nil, nil, nil
	}
}

// --- producer side (fill, tx): local = prod, cached = kernel's cons ---

// initProducer reads the indices as the kernel left them (zero on a new
// socket).
func (r *ring) initProducer() {
	r.local = atomic.LoadUint32(r.prod)
	r.cached = atomic.LoadUint32(r.cons)
}

// free returns how many slots (up to want) the producer may fill.
func (r *ring) free(want uint32) uint32 {
	n := r.size - (r.local - r.cached)
	if n < want {
		r.cached = atomic.LoadUint32(r.cons)
		n = r.size - (r.local - r.cached)
	}
	return min(n, want)
}

// submit publishes n filled slots to the kernel.
func (r *ring) submit(n uint32) {
	r.local += n
	atomic.StoreUint32(r.prod, r.local)
}

// outstanding is how many published slots the kernel has not consumed.
func (r *ring) outstanding() uint32 {
	r.cached = atomic.LoadUint32(r.cons)
	return r.local - r.cached
}

// --- consumer side (rx, completion): local = cons, cached = kernel's prod ---

func (r *ring) initConsumer() {
	r.local = atomic.LoadUint32(r.cons)
	r.cached = atomic.LoadUint32(r.prod)
}

// avail returns how many entries (up to want) are ready to take.
func (r *ring) avail(want uint32) uint32 {
	n := r.cached - r.local
	if n < want {
		r.cached = atomic.LoadUint32(r.prod)
		n = r.cached - r.local
	}
	return min(n, want)
}

// release hands n consumed slots back to the kernel.
func (r *ring) release(n uint32) {
	r.local += n
	atomic.StoreUint32(r.cons, r.local)
}

// needWakeup reports whether the kernel asked to be woken (by sendto for
// TX, recvfrom or poll for the fill ring) before it looks at the ring again.
func (r *ring) needWakeup() bool { return atomic.LoadUint32(r.flags)&unix.XDP_RING_NEED_WAKEUP != 0 }
