//go:build linux

package afxdp

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/wire"
)

// Drops are a queue's counters beyond nic.Stats, owned by its shard. Those
// marked "drop" are also counted in RxErrors or TxErrors.
type Drops struct {
	RxBadDesc    uint64 // drop: an RX descriptor outside the UMEM or its frame (never expected)
	RxShort      uint64 // drop: shorter than an Ethernet header
	FillNoBuf    uint64 // the slab was empty when the fill ring wanted frames
	FillWakeups  uint64 // not a drop: recvfrom calls made because the fill ring asked
	TxForeign    uint64 // drop: a packet from another slab (not in this UMEM)
	TxBadLen     uint64 // drop: shorter than Ethernet or longer than MTU+14
	TxBadCsum    uint64 // drop: CsumPartial with offsets outside the packet
	TxCsumSoft   uint64 // not a drop: CsumPartial completed in software
	TxWakeups    uint64 // not a drop: sendto calls made by Kick
	TxDevDrop    uint64 // the device dropped frames (sendto EBUSY); they completed
	TxSendErr    uint64 // sendto failed otherwise (ENOBUFS, ENETDOWN, ...)
	CompBadAddr  uint64 // a completion outside the UMEM (never expected)
	KernelRxDrop uint64 // XDP_STATISTICS rx_dropped: no fill buffer (or too long)
	KernelRxFull uint64 // XDP_STATISTICS rx_ring_full: the RX ring was full
	KernelBadRx  uint64 // XDP_STATISTICS rx_invalid_descs
	KernelBadTx  uint64 // XDP_STATISTICS tx_invalid_descs
}

// Queue is one AF_XDP socket bound to one RX queue of the interface, with
// its shard's slab as UMEM. It implements nic.Queue and belongs to the
// shard that took it with Device.Queue: every method but Close's twin in
// Device.Close is called only from that shard's thread.
//
// Frame ownership: a frame is the kernel's from the moment its address is
// put in the fill ring (or its descriptor in the TX ring) until it comes
// back in the RX ring (or the completion ring); q.kernel marks those
// frames so Close can take them back. They stay allocated in the slab all
// that time.
type Queue struct {
	dev      *Device
	fd       int
	index    uint16
	slab     *buf.Slab
	mtu      int
	mac      [6]byte
	zeroCopy bool
	zcErr    error // why zero-copy was refused, if asked

	fill, comp, rx, tx *ring
	ringSize           uint32
	fillTarget         uint32 // frames kept in the kernel's hands for RX
	inFill             uint32 // frames in the fill ring or being received
	inTx               uint32 // frames in the TX ring or awaiting completion
	shift              uint   // log2(frame size)
	frameMask          uint64
	kernel             []bool // frame index → held by the kernel

	stats nic.Stats
	drops Drops

	// closed is set once, by Queue.Close or Device.Close (another
	// goroutine); the data path loads it once per call. closeMu orders the
	// two closes of the fd; it is never taken on the data path.
	closed  atomic.Bool
	closeMu sync.Mutex
	fdGone  bool
	torn    bool
}

var _ nic.Queue = (*Queue)(nil)

// refill tops the fill ring up to fillTarget frames from the slab, and
// wakes the kernel if it asked (need_wakeup).
func (q *Queue) refill() {
	if q.inFill >= q.fillTarget {
		return
	}
	n := q.fill.free(q.fillTarget - q.inFill)
	var k uint32
	for ; k < n; k++ {
		p := q.slab.Alloc()
		if p == nil {
			q.drops.FillNoBuf++
			break
		}
		idx := p.Index()
		q.kernel[idx] = true
		q.fill.addrs[(q.fill.local+k)&q.fill.mask] = uint64(idx) << q.shift
	}
	if k > 0 {
		q.fill.submit(k)
		q.inFill += k
	}
	if q.fill.needWakeup() {
		q.drops.FillWakeups++
		unix.Syscall6(unix.SYS_RECVFROM, uintptr(q.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	}
}

// RxBurst takes received frames from the RX ring: each descriptor names a
// frame of the slab and where in it the kernel wrote the frame (at
// max(headroom, 256)), so the packet is handed up with no copy. Then the
// fill ring is topped up.
func (q *Queue) RxBurst(pkts []*buf.Packet) int {
	if q.closed.Load() {
		return 0
	}
	n := q.rx.avail(uint32(len(pkts)))
	got := 0
	frames := uint64(len(q.kernel))
	for i := uint32(0); i < n; i++ {
		d := q.rx.descs[(q.rx.local+i)&q.rx.mask]
		idx := d.Addr >> q.shift
		if idx >= frames || !q.kernel[idx] {
			q.stats.RxErrors++
			q.drops.RxBadDesc++
			continue
		}
		q.kernel[idx] = false
		q.inFill--
		p := q.slab.Packet(uint32(idx))
		if d.Len < ethHdrLen || !p.SetData(int(d.Addr&q.frameMask), int(d.Len)) {
			q.stats.RxErrors++
			if d.Len < ethHdrLen {
				q.drops.RxShort++
			} else {
				q.drops.RxBadDesc++
			}
			p.Release()
			continue
		}
		p.Meta = buf.Meta{Queue: q.index}
		q.stats.RxPackets++
		q.stats.RxBytes += uint64(d.Len)
		pkts[got] = p
		got++
	}
	if n > 0 {
		q.rx.release(n)
	}
	q.refill()
	return got
}

// TxBurst puts a descriptor for each packet in the TX ring; the frames go
// out at the next Kick and return to the slab when the kernel completes
// them. It takes as many as the TX ring (and the completion ring's room)
// allows; the rest stay the caller's (TxFull).
func (q *Queue) TxBurst(pkts []*buf.Packet) int {
	if q.closed.Load() {
		return 0
	}
	q.reap()
	want := min(uint32(len(pkts)), q.ringSize-q.inTx)
	n := q.tx.free(want)
	var k uint32
	for _, p := range pkts[:n] {
		if p.Slab() != q.slab {
			q.txDrop(p, &q.drops.TxForeign)
			continue
		}
		l := p.Len()
		if l < ethHdrLen || l > q.mtu+ethHdrLen {
			q.txDrop(p, &q.drops.TxBadLen)
			continue
		}
		if p.Meta.CsumPartial {
			if !csumComplete(p.Data(), int(p.Meta.CsumStart), int(p.Meta.CsumOffset)) {
				q.txDrop(p, &q.drops.TxBadCsum)
				continue
			}
			p.Meta.CsumPartial = false
			q.drops.TxCsumSoft++
		}
		q.kernel[p.Index()] = true
		q.tx.descs[(q.tx.local+k)&q.tx.mask] = unix.XDPDesc{Addr: p.Addr(), Len: uint32(l)}
		k++
		q.stats.TxPackets++
		q.stats.TxBytes += uint64(l)
	}
	if k > 0 {
		q.tx.submit(k)
		q.inTx += k
	}
	if int(n) < len(pkts) {
		q.stats.TxFull++
	}
	return int(n)
}

func (q *Queue) txDrop(p *buf.Packet, reason *uint64) {
	*reason++
	q.stats.TxErrors++
	p.Release()
}

// csumComplete finishes a partial L4 checksum: the field at start+off
// holds the pseudo-header sum; the sum over data[start:] is folded in.
func csumComplete(data []byte, start, off int) bool {
	if start < 0 || off < 0 || start+off+2 > len(data) {
		return false
	}
	c := wire.Checksum(data[start:], 0)
	if c == 0 {
		c = 0xffff
	}
	data[start+off], data[start+off+1] = byte(c>>8), byte(c)
	return true
}

// reap takes completed TX frames back from the completion ring and
// releases them to the slab.
func (q *Queue) reap() {
	n := q.comp.avail(q.ringSize)
	if n == 0 {
		return
	}
	frames := uint64(len(q.kernel))
	for i := uint32(0); i < n; i++ {
		idx := q.comp.addrs[(q.comp.local+i)&q.comp.mask] >> q.shift
		if idx >= frames || !q.kernel[idx] {
			q.drops.CompBadAddr++
			continue
		}
		q.kernel[idx] = false
		q.inTx--
		q.slab.Packet(uint32(idx)).Release()
	}
	q.comp.release(n)
}

// maxKickRounds bounds the sendto calls of one Kick: copy mode sends at
// most 32 frames per call (the kernel's TX budget) and asks for another.
const maxKickRounds = 64

// Kick makes the kernel send what TxBurst queued, when it asked for a
// wakeup (need_wakeup; always so in copy mode), and reaps completions.
// Transient refusals (EAGAIN, EBUSY: the device dropped a frame, ENOBUFS)
// are counted, not returned; it returns nic.ErrClosed after Close, and the
// error of a sendto that cannot succeed later (ENETDOWN, ENXIO).
func (q *Queue) Kick() error {
	if q.closed.Load() {
		return nic.ErrClosed
	}
	var err error
	for round := 0; round < maxKickRounds && q.tx.outstanding() > 0 && q.tx.needWakeup(); round++ {
		q.drops.TxWakeups++
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(q.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		if e == 0 {
			continue
		}
		if e == unix.EAGAIN || e == unix.EINTR {
			q.reap() // the completion ring may be what is full
			continue
		}
		if e == unix.EBUSY {
			q.drops.TxDevDrop++
			q.stats.TxErrors++
			continue
		}
		q.drops.TxSendErr++
		if e != unix.ENOBUFS {
			err = e
			break
		}
	}
	q.reap()
	return err
}

// Fd is the socket: it polls readable when the RX ring has frames.
func (q *Queue) Fd() int { return q.fd }

// Index is the queue's number (the interface's RX queue).
func (q *Queue) Index() int { return int(q.index) }

// ZeroCopy reports whether the socket is bound in zero-copy mode.
func (q *Queue) ZeroCopy() bool { return q.zeroCopy }

// ZeroCopyErr is why zero-copy was refused, if Config.ZeroCopy asked for it.
func (q *Queue) ZeroCopyErr() error { return q.zcErr }

// Caps: the interface MTU and MAC (the stack shares the host's link
// address), no checksum offload either way.
func (q *Queue) Caps() nic.Caps { return nic.Caps{MTU: q.mtu, HWAddr: q.mac} }

// Stats returns the queue's counters, with RxNoBuf taken from the
// kernel's count of frames dropped for want of a fill-ring buffer (one
// getsockopt: control path).
func (q *Queue) Stats() nic.Stats {
	s := q.stats
	if st, ok := q.xdpStats(); ok {
		s.RxNoBuf = st.Rx_dropped
	}
	return s
}

// Drops returns the queue's drop-reason counters, with the kernel's
// XDP_STATISTICS (one getsockopt).
func (q *Queue) Drops() Drops {
	d := q.drops
	if st, ok := q.xdpStats(); ok {
		d.KernelRxDrop = st.Rx_dropped
		d.KernelRxFull = st.Rx_ring_full
		d.KernelBadRx = st.Rx_invalid_descs
		d.KernelBadTx = st.Tx_invalid_descs
	}
	return d
}

// InKernel reports how many of the slab's frames the kernel holds (fill
// ring and RX in flight, TX ring and completions pending).
func (q *Queue) InKernel() int { return int(q.inFill + q.inTx) }

// Close closes the socket (removing it from the XSKMAP), unmaps the rings
// and releases every frame the kernel held back to the slab. Call it on the
// shard's thread, before closing the slab. Closing twice returns nil.
func (q *Queue) Close() error {
	if q.torn {
		return nil
	}
	q.torn = true
	err := q.closeFd()
	// The mappings hold the socket open: it is released, and stops using
	// the UMEM, when the last of them goes.
	q.unmapRings()
	if q.slab.Arena() != nil {
		for idx, held := range q.kernel {
			if held {
				q.kernel[idx] = false
				q.slab.Packet(uint32(idx)).Release()
			}
		}
	}
	q.inFill, q.inTx = 0, 0
	return err
}

// closeFd marks the queue closed and closes its socket fd, once. Device.Close
// calls it from another goroutine: it touches no ring.
func (q *Queue) closeFd() error {
	q.closeMu.Lock()
	defer q.closeMu.Unlock()
	q.closed.Store(true)
	if q.fdGone || q.fd < 0 {
		return nil
	}
	q.fdGone = true
	return unix.Close(q.fd)
}

// Slab is the slab the queue's UMEM is.
func (q *Queue) Slab() *buf.Slab { return q.slab }
