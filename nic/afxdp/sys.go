//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func unsafePointer[T any](p *T) unsafe.Pointer { return unsafe.Pointer(p) }

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

func setsockopt(fd, level, opt int, p unsafe.Pointer, n uintptr) error {
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), n, 0); e != 0 {
		return e
	}
	return nil
}

func getsockopt(fd, level, opt int, p unsafe.Pointer, n *uint32) error {
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), uintptr(unsafe.Pointer(n)), 0); e != 0 {
		return e
	}
	return nil
}

// open makes the queue's AF_XDP socket: registers the slab's arena as the
// UMEM, creates and maps the four rings, and binds to (ifindex, queue).
// With zc it asks for zero-copy and falls back to a fresh copy-mode socket
// if the driver refuses. It runs in the interface's namespace.
func (q *Queue) open(ifindex int, ringSize, umemHead uint32, zc bool) error {
	if zc {
		err := q.socket(ifindex, ringSize, umemHead, unix.XDP_ZEROCOPY)
		if err == nil {
			q.zeroCopy = true
			return nil
		}
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPROTONOSUPPORT) {
			return err
		}
		q.zcErr = err
	}
	return q.socket(ifindex, ringSize, umemHead, unix.XDP_COPY)
}

func (q *Queue) socket(ifindex int, ringSize, umemHead uint32, mode uint16) (err error) {
	name, qi := q.dev.name, int(q.index)
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return sockErr("socket(AF_XDP)", name, qi, err)
	}
	q.fd = fd
	defer func() {
		if err != nil {
			q.unmapRings()
			unix.Close(fd)
			q.fd = -1
		}
	}()
	arena := q.slab.Arena()
	reg := unix.XDPUmemReg{
		Addr:     uint64(uintptr(unsafe.Pointer(&arena[0]))),
		Len:      uint64(len(arena)),
		Size:     uint32(q.slab.FrameSize()),
		Headroom: umemHead,
	}
	if err := setsockopt(fd, unix.SOL_XDP, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return sockErr("registering the slab as UMEM (XDP_UMEM_REG)", name, qi, err)
	}
	for _, o := range [...]struct {
		opt  int
		what string
	}{
		{unix.XDP_UMEM_FILL_RING, "XDP_UMEM_FILL_RING"},
		{unix.XDP_UMEM_COMPLETION_RING, "XDP_UMEM_COMPLETION_RING"},
		{unix.XDP_RX_RING, "XDP_RX_RING"},
		{unix.XDP_TX_RING, "XDP_TX_RING"},
	} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, o.opt, int(ringSize)); err != nil {
			return sockErr("sizing "+o.what, name, qi, err)
		}
	}
	var off unix.XDPMmapOffsets
	n := uint32(unsafe.Sizeof(off))
	if err := getsockopt(fd, unix.SOL_XDP, unix.XDP_MMAP_OFFSETS, unsafe.Pointer(&off), &n); err != nil {
		return sockErr("XDP_MMAP_OFFSETS", name, qi, err)
	}
	descSize, addrSize := unsafe.Sizeof(unix.XDPDesc{}), unsafe.Sizeof(uint64(0))
	if q.fill, err = mapRing(fd, &off.Fr, ringSize, addrSize, unix.XDP_UMEM_PGOFF_FILL_RING, false); err != nil {
		return sockErr("mapping the fill ring", name, qi, err)
	}
	if q.comp, err = mapRing(fd, &off.Cr, ringSize, addrSize, unix.XDP_UMEM_PGOFF_COMPLETION_RING, false); err != nil {
		return sockErr("mapping the completion ring", name, qi, err)
	}
	if q.rx, err = mapRing(fd, &off.Rx, ringSize, descSize, unix.XDP_PGOFF_RX_RING, true); err != nil {
		return sockErr("mapping the RX ring", name, qi, err)
	}
	if q.tx, err = mapRing(fd, &off.Tx, ringSize, descSize, unix.XDP_PGOFF_TX_RING, true); err != nil {
		return sockErr("mapping the TX ring", name, qi, err)
	}
	sa := &unix.SockaddrXDP{Flags: mode | unix.XDP_USE_NEED_WAKEUP, Ifindex: uint32(ifindex), QueueID: uint32(q.index)}
	// A socket of a process that just died frees its queue from a kernel
	// work item, a moment after the process is gone: a restart after a
	// crash may see EBUSY for that moment. Retry for up to bindRetry.
	err = unix.Bind(fd, sa)
	for end := time.Now().Add(bindRetry); err == unix.EBUSY && time.Now().Before(end); {
		time.Sleep(bindRetry / 20)
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		what := "binding in copy mode"
		if mode == unix.XDP_ZEROCOPY {
			what = "binding in zero-copy mode"
		}
		if errors.Is(err, unix.EINVAL) && mode != unix.XDP_ZEROCOPY {
			return fmt.Errorf("%w: %s queue %d: %s: the queue does not exist, or the interface is down (ip link set dev %s up): %v",
				ErrQueues, name, qi, what, name, err)
		}
		return sockErr(what, name, qi, err)
	}
	q.fill.initProducer()
	q.tx.initProducer()
	q.rx.initConsumer()
	q.comp.initConsumer()
	q.ringSize = ringSize
	q.fillTarget = min(ringSize, uint32(q.slab.Frames()/2))
	q.shift = uint(log2(q.slab.FrameSize()))
	q.frameMask = uint64(q.slab.FrameSize() - 1)
	q.kernel = make([]bool, q.slab.Frames())
	return nil
}

// bindRetry is how long bind retries EBUSY (see socket).
const bindRetry = time.Second

func log2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}

func (q *Queue) unmapRings() {
	q.fill.unmap()
	q.comp.unmap()
	q.rx.unmap()
	q.tx.unmap()
}

// xdpStats reads the socket's XDP_STATISTICS.
func (q *Queue) xdpStats() (unix.XDPStatistics, bool) {
	var st unix.XDPStatistics
	if q.closed.Load() {
		return st, false
	}
	n := uint32(unsafe.Sizeof(st))
	if err := getsockopt(q.fd, unix.SOL_XDP, unix.XDP_STATISTICS, unsafe.Pointer(&st), &n); err != nil {
		return st, false
	}
	return st, true
}
