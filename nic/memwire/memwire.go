package memwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/cpu"
	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
)

// Config sizes a wire. Zero values take the defaults.
type Config struct {
	// MTU is the largest IP packet the wire carries (default 1500, at least
	// 68, at most 65535). Frames may be MTU+14 bytes long.
	MTU int
	// Ring is the number of frames in flight per direction (default 1024,
	// at most 1<<20), rounded up to a power of two.
	Ring int
}

// Defaults.
const (
	DefaultMTU  = 1500
	DefaultRing = 1024
)

// EthHeaderLen is the Ethernet header that a frame carries on top of an
// MTU-sized packet.
const EthHeaderLen = 14

// ErrBadConfig reports a Config or slab that cannot work.
var ErrBadConfig = errors.New("memwire: bad configuration")

// slotHeader is the frame length (little-endian uint32) at the start of each
// slot, padded so that the frame bytes start 8-byte aligned.
const slotHeader = 8

// ring is one direction of the wire: a single-producer/single-consumer ring
// of fixed-size slots. head is written only by the producer, tail only by the
// consumer; each sits alone on its cache line, and each side keeps a cached
// copy of the other's index so that it touches the shared line only when its
// cache says the ring is full (producer) or empty (consumer).
//
// Ordering: Go's atomics are sequentially consistent. The producer fills a
// slot, then stores head (a release: the slot bytes happen before the store);
// the consumer loads head (an acquire), reads the slots below it, then stores
// tail, which hands the slots back to the producer the same way.
//
// Wakeups. armed is 1 when the consumer has found the ring empty and has not
// been signalled since; it starts at 1 (a consumer that has not polled yet
// may be asleep). The protocol:
//
//	producer, after storing head:   if armed == 1 && CAS(armed, 1, 0): signals++; write(eventfd, 1)
//	consumer, RxBurst on an empty ring:
//	    if signals != drained: drained += read(eventfd)      (non-blocking)
//	    if armed == 0: armed = 1
//	    reload head; if still empty: return 0
//
// No lost wakeup: a consumer goes to sleep only after an RxBurst that returned
// 0, i.e. after it saw armed == 1 (or set it) and then loaded head (call that
// load R) and found the ring empty. A frame pushed later is published by a
// head store P ordered after R (else R would have seen it). The producer's
// armed load C follows P, hence R, hence the point where armed was 1; nobody
// but the producer clears armed while the consumer sleeps, and an earlier
// producer CAS would have come after a head store that R would have seen. So
// C finds armed == 1, wins the CAS and writes the eventfd, and the counter
// stays non-zero until the consumer reads it: poll wakes. The read (drain) is
// ordered before R, so it can only consume signals for frames R saw.
//
// No stuck-readable fd: every eventfd write is preceded by signals++, and
// drained counts exactly the values read, so drained <= signals, and the
// counter is non-zero only while signals != drained. An empty RxBurst in that
// state reads the counter, so a spurious wakeup is cleared by the next
// RxBurst. When the consumer is slower than the producer the ring is never
// found empty, armed stays 0, and no system call is made at all.
//
// Closing: the consumer end owns the eventfd. writers counts eventfd writes in
// progress; a writer increments it and then checks closed, Close sets closed
// and then waits for writers to be 0 before closing the fd, so (again by the
// total order of atomics) no write can hit a closed, possibly reused, fd.
type ring struct {
	_    cpu.CacheLinePad
	head atomic.Uint64 // next slot to fill; written by the producer
	_    cpu.CacheLinePad
	tail atomic.Uint64 // next slot to read; written by the consumer
	_    cpu.CacheLinePad
	// armed and signals are written by both sides, but only around a sleep.
	armed   atomic.Uint32
	signals atomic.Uint64
	_       cpu.CacheLinePad
	closed  atomic.Bool  // the consumer end is closed
	writers atomic.Int32 // eventfd writes in progress
	_       cpu.CacheLinePad

	// Read-only after New.
	slots  []byte
	stride int
	mask   uint64
	efd    int // the consumer's eventfd
}

func (r *ring) slot(i uint64) []byte {
	off := int(i&r.mask) * r.stride
	return r.slots[off : off+r.stride : off+r.stride]
}

// signal writes 1 to the consumer's eventfd unless the consumer is closed.
func (r *ring) signal(one *[8]byte) {
	r.writers.Add(1)
	if !r.closed.Load() {
		r.signals.Add(1)
		// EAGAIN would need 2^64-1 pending signals; nothing else can fail
		// on a valid eventfd.
		_, _ = unix.Write(r.efd, one[:])
	}
	r.writers.Add(-1)
}

// Queue is one end of a wire. It implements nic.Queue.
type Queue struct {
	tx, rx   *ring
	slab     *buf.Slab
	caps     nic.Caps
	maxFrame int

	// Producer state for tx.
	txHead      uint64
	txTailCache uint64
	// Consumer state for rx.
	rxTail      uint64
	rxHeadCache uint64
	drained     uint64

	closed bool
	stats  nic.Stats
	one    [8]byte // the value 1, for eventfd writes
	efdBuf [8]byte // eventfd reads land here
	_      cpu.CacheLinePad
}

var _ nic.Queue = (*Queue)(nil)

// New makes a wire and returns its two ends: what a transmits, b receives,
// and the other way round. Each end receives into its own slab, whose frames
// must fit the slab's headroom plus MTU+14 bytes.
func New(cfg Config, slabA, slabB *buf.Slab) (a, b *Queue, err error) {
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.Ring == 0 {
		cfg.Ring = DefaultRing
	}
	if cfg.MTU < 68 || cfg.MTU > 65535 {
		return nil, nil, fmt.Errorf("%w: MTU %d (want 68..65535)", ErrBadConfig, cfg.MTU)
	}
	if cfg.Ring < 1 || cfg.Ring > 1<<20 {
		return nil, nil, fmt.Errorf("%w: ring of %d frames (want 1..%d)", ErrBadConfig, cfg.Ring, 1<<20)
	}
	maxFrame := cfg.MTU + EthHeaderLen
	for _, s := range []*buf.Slab{slabA, slabB} {
		if s == nil {
			return nil, nil, fmt.Errorf("%w: nil slab", ErrBadConfig)
		}
		if room := s.FrameSize() - s.Headroom(); room < maxFrame {
			return nil, nil, fmt.Errorf("%w: slab frames hold %d bytes after headroom, MTU %d needs %d",
				ErrBadConfig, room, cfg.MTU, maxFrame)
		}
	}
	size := 1
	for size < cfg.Ring {
		size <<= 1
	}
	ab, err := newRing(size, maxFrame)
	if err != nil {
		return nil, nil, err
	}
	ba, err := newRing(size, maxFrame)
	if err != nil {
		unix.Close(ab.efd)
		return nil, nil, err
	}
	a = newQueue(ab, ba, slabA, cfg.MTU, maxFrame)
	b = newQueue(ba, ab, slabB, cfg.MTU, maxFrame)
	return a, b, nil
}

func newRing(size, maxFrame int) (*ring, error) {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memwire: eventfd: %w", err)
	}
	stride := (slotHeader + maxFrame + 63) &^ 63
	r := &ring{
		slots:  make([]byte, size*stride),
		stride: stride,
		mask:   uint64(size - 1),
		efd:    efd,
	}
	r.armed.Store(1) // a consumer that has not polled yet may be asleep
	return r, nil
}

func newQueue(tx, rx *ring, slab *buf.Slab, mtu, maxFrame int) *Queue {
	q := &Queue{
		tx:       tx,
		rx:       rx,
		slab:     slab,
		caps:     nic.Caps{MTU: mtu},
		maxFrame: maxFrame,
	}
	binary.NativeEndian.PutUint64(q.one[:], 1)
	return q
}

// TxBurst copies pkts onto the wire in order and releases them. It stops at
// the first frame that finds the ring full (counting the refused frames in
// Stats.TxFull); those stay the caller's. A frame longer than MTU+14 bytes is
// released and counted in Stats.TxErrors, as is every frame once the peer end
// is closed.
func (q *Queue) TxBurst(pkts []*buf.Packet) int {
	if q.closed {
		return 0
	}
	r := q.tx
	if r.closed.Load() {
		for _, p := range pkts {
			q.stats.TxErrors++
			p.Release()
		}
		return len(pkts)
	}
	size := r.mask + 1
	head := q.txHead
	n := 0
	for ; n < len(pkts); n++ {
		p := pkts[n]
		l := p.Len()
		if l > q.maxFrame {
			q.stats.TxErrors++
			p.Release()
			continue
		}
		if head-q.txTailCache == size {
			q.txTailCache = r.tail.Load()
			if head-q.txTailCache == size {
				break
			}
		}
		s := r.slot(head)
		binary.LittleEndian.PutUint32(s, uint32(l))
		copy(s[slotHeader:], p.Data())
		head++
		q.stats.TxPackets++
		q.stats.TxBytes += uint64(l)
		p.Release()
	}
	if n < len(pkts) {
		q.stats.TxFull += uint64(len(pkts) - n)
	}
	if head != q.txHead {
		q.txHead = head
		r.head.Store(head)
		if r.armed.Load() == 1 && r.armed.CompareAndSwap(1, 0) {
			r.signal(&q.one)
		}
	}
	return n
}

// RxBurst fills pkts with frames from the wire, in order, each copied into
// a packet from the end's slab. It returns 0 if the wire is empty, or if the
// slab is exhausted (Stats.RxNoBuf; the frame stays on the wire and Fd stays
// readable).
func (q *Queue) RxBurst(pkts []*buf.Packet) int {
	if q.closed || len(pkts) == 0 {
		return 0
	}
	r := q.rx
	tail := q.rxTail
	if tail == q.rxHeadCache {
		q.rxHeadCache = r.head.Load()
		if tail == q.rxHeadCache {
			// Empty: clear a pending signal, arm, and look once more
			// (see ring for why this order loses no wakeup).
			if r.signals.Load() != q.drained {
				q.drain()
			}
			if r.armed.Load() == 0 {
				r.armed.Store(1)
			}
			q.rxHeadCache = r.head.Load()
			if tail == q.rxHeadCache {
				return 0
			}
			// A frame slipped in: we are awake after all, so spare
			// the producer a needless signal.
			r.armed.CompareAndSwap(1, 0)
		}
	}
	n := 0
	for n < len(pkts) {
		if tail == q.rxHeadCache {
			q.rxHeadCache = r.head.Load()
			if tail == q.rxHeadCache {
				break
			}
		}
		p := q.slab.Alloc()
		if p == nil {
			q.stats.RxNoBuf++
			if n == 0 && r.signals.Load() == q.drained {
				// Frames wait but we return 0: keep Fd readable so
				// that the shard does not sleep on them.
				r.signal(&q.one)
			}
			break
		}
		s := r.slot(tail)
		l := int(binary.LittleEndian.Uint32(s))
		copy(p.Append(l), s[slotHeader:slotHeader+l])
		pkts[n] = p
		n++
		tail++
		q.stats.RxPackets++
		q.stats.RxBytes += uint64(l)
	}
	if tail != q.rxTail {
		q.rxTail = tail
		r.tail.Store(tail)
	}
	return n
}

// drain reads the eventfd counter (non-blocking) and accounts for it.
func (q *Queue) drain() {
	n, err := unix.Read(q.rx.efd, q.efdBuf[:])
	if err == nil && n == 8 {
		q.drained += binary.NativeEndian.Uint64(q.efdBuf[:])
	}
}

// Kick does nothing: TxBurst publishes frames at once.
func (q *Queue) Kick() error {
	if q.closed {
		return nic.ErrClosed
	}
	return nil
}

// Fd is the end's eventfd: see the package doc for when it polls readable.
// It is -1 after Close.
func (q *Queue) Fd() int {
	if q.closed {
		return -1
	}
	return q.rx.efd
}

// Caps reports the MTU; the wire verifies and offloads no checksums.
func (q *Queue) Caps() nic.Caps { return q.caps }

// Stats returns a copy of the end's counters.
func (q *Queue) Stats() nic.Stats { return q.stats }

// Close closes the end's eventfd. Frames still on the wire towards this end
// are discarded (they are bytes, not packets: nothing leaks); the peer counts
// what it sends from now on in TxErrors. A second Close returns
// nic.ErrClosed.
func (q *Queue) Close() error {
	if q.closed {
		return nic.ErrClosed
	}
	q.closed = true
	r := q.rx
	r.closed.Store(true)
	for r.writers.Load() != 0 {
		runtime.Gosched()
	}
	return unix.Close(r.efd)
}
