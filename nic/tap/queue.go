//go:build linux

package tap

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
)

// Drops are a queue's drop-reason counters beyond nic.Stats, owned by its
// shard. Each dropped frame is also counted in RxErrors or TxErrors.
type Drops struct {
	RxShort      uint64 // read returned fewer bytes than a virtio header
	RxOversize   uint64 // the frame filled the slab frame: truncated by the kernel
	RxGSO        uint64 // a GSO super-frame (never expected: no TUNSETOFFLOAD)
	RxBadCsum    uint64 // NEEDS_CSUM with offsets outside the frame
	RxReadErr    uint64 // read(2) failed with something other than EAGAIN
	RxCsumFixed  uint64 // not a drop: NEEDS_CSUM frames completed in software
	TxNoHeadroom uint64 // VnetHdr and the packet had < 12 bytes of headroom
	TxBadCsum    uint64 // CsumPartial with offsets outside the packet
	TxWriteErr   uint64 // write(2) failed (e.g. EINVAL: shorter than Ethernet)
	TxShort      uint64 // write(2) took part of the frame (never expected)
	TxCsumSoft   uint64 // not a drop: CsumPartial completed in software (no VnetHdr)
}

// Queue is one TAP queue: one non-blocking fd of the device. It implements
// nic.Queue. It belongs to the shard that took it with Device.Queue and is
// used only from that shard's thread.
type Queue struct {
	fd    int
	index uint16
	vnet  bool
	mtu   int
	slab  *buf.Slab
	rxOff int // where read(2) starts in a frame: headroom less the virtio header

	stats nic.Stats
	drops Drops
	pfd   [1]unix.PollFd // for the RxNoBuf check

	// closed is set once, by Queue.Close or Device.Close (which may run on
	// another goroutine); the data path loads it once per burst.
	closed atomic.Bool
}

var _ nic.Queue = (*Queue)(nil)

func (q *Queue) bind(slab *buf.Slab) {
	q.slab = slab
	q.rxOff = slab.Headroom()
	if q.vnet {
		q.rxOff -= vnetLen
	}
	q.pfd[0] = unix.PollFd{Fd: int32(q.fd), Events: unix.POLLIN}
}

// RxBurst reads frames until the fd is empty (EAGAIN) or pkts is full,
// each into a fresh packet from the slab with its Ethernet header at the
// slab's headroom. One read(2) per frame.
func (q *Queue) RxBurst(pkts []*buf.Packet) int {
	if q.closed.Load() {
		return 0
	}
	head := q.slab.Headroom()
	n := 0
	for n < len(pkts) {
		p := q.slab.Alloc()
		if p == nil {
			// Count only if a frame is actually waiting.
			if k, _ := unix.Poll(q.pfd[:], 0); k > 0 {
				q.stats.RxNoBuf++
			}
			break
		}
		rx := p.Frame()[q.rxOff:]
		m, err := unix.Read(q.fd, rx)
		if err != nil {
			p.Release()
			if err != unix.EAGAIN && err != unix.EINTR {
				q.stats.RxErrors++
				q.drops.RxReadErr++
			}
			break
		}
		if m >= len(rx) {
			// tun truncates a frame that does not fit, silently; Queue
			// leaves room for one byte more than the largest frame, so
			// a full buffer means a truncated frame.
			p.Release()
			q.stats.RxErrors++
			q.drops.RxOversize++
			continue
		}
		if q.vnet {
			if m < vnetLen {
				p.Release()
				q.stats.RxErrors++
				q.drops.RxShort++
				continue
			}
			m -= vnetLen
			switch parseVnetRx(rx[:vnetLen], rx[vnetLen:vnetLen+m]) {
			case rxVerified:
				p.Meta.CsumVerified = true
			case rxCsumFixed:
				p.Meta.CsumVerified = true
				q.drops.RxCsumFixed++
			case rxDropGSO:
				p.Release()
				q.stats.RxErrors++
				q.drops.RxGSO++
				continue
			case rxDropCsum:
				p.Release()
				q.stats.RxErrors++
				q.drops.RxBadCsum++
				continue
			}
		}
		p.SetData(head, m)
		p.Meta.Queue = q.index
		q.stats.RxPackets++
		q.stats.RxBytes += uint64(m)
		pkts[n] = p
		n++
	}
	return n
}

// TxBurst writes each packet with one write(2) and releases it. It stops
// at EAGAIN (the device's send buffer is full: counted in TxFull) and
// returns how many it took; those after stay the caller's, unchanged (but
// for a checksum already completed in software, without VnetHdr). A
// packet whose write fails otherwise is counted, released and skipped.
func (q *Queue) TxBurst(pkts []*buf.Packet) int {
	if q.closed.Load() {
		return 0
	}
	for i, p := range pkts {
		partial := p.Meta.CsumPartial
		if q.vnet {
			if p.Headroom() < vnetLen {
				q.txDrop(p, &q.drops.TxNoHeadroom)
				continue
			}
			putVnetTx(p.Prepend(vnetLen), partial, p.Meta.CsumStart, p.Meta.CsumOffset)
		} else if partial {
			if !csumComplete(p.Data(), int(p.Meta.CsumStart), int(p.Meta.CsumOffset)) {
				q.txDrop(p, &q.drops.TxBadCsum)
				continue
			}
			p.Meta.CsumPartial = false
			q.drops.TxCsumSoft++
		}
		data := p.Data()
		m, err := unix.Write(q.fd, data)
		if err == unix.EAGAIN {
			if q.vnet {
				p.TrimFront(vnetLen)
			}
			q.stats.TxFull++
			return i
		}
		switch {
		case err != nil:
			q.txDrop(p, &q.drops.TxWriteErr)
			continue
		case m != len(data):
			q.txDrop(p, &q.drops.TxShort)
			continue
		}
		if q.vnet {
			m -= vnetLen
		}
		q.stats.TxPackets++
		q.stats.TxBytes += uint64(m)
		p.Release()
	}
	return len(pkts)
}

func (q *Queue) txDrop(p *buf.Packet, reason *uint64) {
	*reason++
	q.stats.TxErrors++
	p.Release()
}

// Kick does nothing: a TAP has no doorbell, TxBurst's write(2) already
// handed each frame to the kernel. It returns nic.ErrClosed after Close.
func (q *Queue) Kick() error {
	if q.closed.Load() {
		return nic.ErrClosed
	}
	return nil
}

// Fd is the queue's fd: it polls readable when RxBurst has frames.
func (q *Queue) Fd() int { return q.fd }

// Index is the queue's number within its device.
func (q *Queue) Index() int { return int(q.index) }

// Caps: the link MTU; checksum offload both ways with VnetHdr. HWAddr is
// zero: the stack is its own host on the link and picks its MAC.
func (q *Queue) Caps() nic.Caps {
	return nic.Caps{MTU: q.mtu, RxCsum: q.vnet, TxCsumOffload: q.vnet}
}

// Stats returns a copy of the queue's counters.
func (q *Queue) Stats() nic.Stats { return q.stats }

// Drops returns a copy of the queue's drop-reason counters.
func (q *Queue) Drops() Drops { return q.drops }

// Close closes the queue's fd, detaching it from the device (the kernel
// then spreads flows over the remaining queues). The queue holds no
// frames. Closing twice returns nil.
func (q *Queue) Close() error { return q.closeFd() }

func (q *Queue) closeFd() error {
	if !q.closed.CompareAndSwap(false, true) {
		return nil
	}
	return unix.Close(q.fd)
}
