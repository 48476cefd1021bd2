package reactor

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/wire"
)

// Config configures one shard's loop.
type Config struct {
	Queue nic.Queue
	Slab  *buf.Slab
	IP    ip.Config
	// TCP, if not nil, runs a TCP stack on the shard. Its Addr is taken
	// from IP, its MSS is clamped to the queue's MTU, and TX checksum
	// offload is used when the queue offers it.
	TCP *tcp.Config
	// Shard gives the loop its inbox, waker and stop flag. Without one
	// (tests that drive RunOnce by hand) Run cannot sleep or be stopped.
	Shard *shard.Shard
	// Forwarder, with several shards, steers segments of this shard's
	// active opens that the NIC delivered to another shard's queue (see
	// Forwarder). It sets the TCP ephemeral port range. Needs Shard.
	Forwarder *Forwarder
	// Burst is the most frames received per iteration (32).
	Burst int
	// TxBatch is the most frames gathered before a TxBurst (64).
	TxBatch int
	// SpinIdle is how long the loop keeps polling with nothing to do
	// before it sleeps, ns (50 µs). Negative: never sleep.
	SpinIdle int64
	// Tick and Slots size the timer wheel (1 ms × 4096).
	Tick  int64
	Slots int
	// Clock returns monotonic nanoseconds (default: Go's monotonic clock).
	Clock func() int64
}

// Stats count what the loop did.
type Stats struct {
	Iterations uint64
	RxFrames   uint64
	TxFrames   uint64
	TxDropped  uint64 // TX batch full and the queue refusing: dropped
	Sleeps     uint64
	Timers     uint64 // timer callbacks fired
	Messages   uint64 // inbox funcs and mailbox messages handled
	MailFull   uint64 // a message to another shard was dropped: its mailbox was full
	Forwarded  uint64 // frames passed to the shard owning their flow (by port)
	ForwardIn  uint64 // frames received from other shards and processed here
	FwdDrops   uint64 // frames that could not be forwarded (ring full; SYNs excepted) or taken in (slab empty)
	// Segments that matched no flow here (passive flows a peer moved to
	// another queue; see Forwarder):
	MissForwarded uint64 // passed on to ask the next shard (first asks and relays)
	MissFound     uint64 // asked for by another shard and owned here: processed
	MissReturned  uint64 // owned by no other shard: handed back to the shard that first got them
	SynLocal      uint64 // SYNs answered here because the next shard's ring was full
}

// Message kinds between shards' loops.
const (
	// msgNeighbor: A = IPv4 address (big-endian in the low 32 bits),
	// B = MAC (the low 48 bits). An ARP packet for us arrived on the
	// sender's queue; every shard learns the mapping, because the kernel
	// (or NIC) may steer the ARP reply a shard waits for to another queue.
	msgNeighbor uint16 = 1 + iota
	// msgDoorbell: a frame waits in the forwarder ring from the sender.
	msgDoorbell
)

// Loop is one shard's reactor.
type Loop struct {
	q     nic.Queue
	slab  *buf.Slab
	sh    *shard.Shard
	ip    *ip.Stack
	tcp   *tcp.Stack
	wheel *timer.Wheel
	clock func() int64

	rx       []*buf.Packet
	tx       []*buf.Packet
	spinIdle int64
	pollfds  [2]unix.PollFd
	dueer    interface{ NextDue() (int64, bool) }
	flusher  interface{ Flush() error } // a capture wrapper: flushed before sleeping
	fwd      *Forwarder
	addr     [4]byte
	now      int64
	started  bool
	stats    Stats
}

var epoch = time.Now()

// Monotonic is the default clock: nanoseconds since process start on Go's
// monotonic clock.
func Monotonic() int64 { return int64(time.Since(epoch)) }

// ErrConfig reports a loop configuration that cannot work.
var ErrConfig = errors.New("reactor: invalid configuration")

// New builds a loop and its ip stack. It sends nothing until Start or Run.
func New(cfg Config) (*Loop, error) {
	if cfg.Queue == nil || cfg.Slab == nil {
		return nil, fmt.Errorf("%w: Queue and Slab are required", ErrConfig)
	}
	if cfg.Burst == 0 {
		cfg.Burst = 32
	}
	if cfg.TxBatch == 0 {
		cfg.TxBatch = 64
	}
	if cfg.SpinIdle == 0 {
		cfg.SpinIdle = 50_000
	}
	if cfg.Tick == 0 {
		cfg.Tick = int64(time.Millisecond)
	}
	if cfg.Slots == 0 {
		cfg.Slots = 4096
	}
	if cfg.Clock == nil {
		cfg.Clock = Monotonic
	}
	caps := cfg.Queue.Caps()
	if cfg.IP.MTU == 0 || cfg.IP.MTU > caps.MTU {
		cfg.IP.MTU = caps.MTU
	}
	if caps.HWAddr != ([6]byte{}) {
		cfg.IP.MAC = caps.HWAddr
	}
	l := &Loop{
		q:        cfg.Queue,
		slab:     cfg.Slab,
		sh:       cfg.Shard,
		clock:    cfg.Clock,
		rx:       make([]*buf.Packet, cfg.Burst),
		tx:       make([]*buf.Packet, 0, cfg.TxBatch),
		spinIdle: cfg.SpinIdle,
	}
	l.now = cfg.Clock()
	l.wheel = timer.NewWheel(cfg.Tick, cfg.Slots, l.now)
	st, err := ip.New(cfg.IP, cfg.Slab, l, l.wheel)
	if err != nil {
		return nil, err
	}
	l.ip = st
	l.addr = st.Config().Addr
	if cfg.TCP != nil {
		tc := *cfg.TCP
		tc.Addr = cfg.IP.Addr
		if max := st.Config().MTU - wire.IPv4MinHeaderLen - wire.TCPMinHeaderLen; tc.MSS == 0 || int(tc.MSS) > max {
			tc.MSS = uint16(max)
		}
		tc.TxCsumOffload = caps.TxCsumOffload
		if cfg.Forwarder != nil {
			if cfg.Shard == nil || cfg.Forwarder.n != cfg.Shard.NumShards() {
				return nil, fmt.Errorf("%w: a Forwarder needs a Shard of a group of the same size", ErrConfig)
			}
			tc.EphemeralLow, tc.EphemeralHigh = cfg.Forwarder.Ports(cfg.Shard.ID)
			l.fwd = cfg.Forwarder
		}
		if l.tcp, err = tcp.New(tc, cfg.Slab, st, l.wheel); err != nil {
			return nil, err
		}
		st.Register(wire.ProtoTCP, l.tcp)
	}
	if sh := cfg.Shard; sh != nil && sh.NumShards() > 1 {
		st.OnLearn(func(ip [4]byte, mac [6]byte) {
			m := shard.Message{Kind: msgNeighbor, A: uint64(be32(ip)), B: mac48(mac)}
			for to := 0; to < sh.NumShards(); to++ {
				if to != sh.ID && !sh.Send(to, m) {
					l.stats.MailFull++
				}
			}
		})
	}
	if d, ok := cfg.Queue.(interface{ NextDue() (int64, bool) }); ok {
		l.dueer = d
	}
	if f, ok := cfg.Queue.(interface{ Flush() error }); ok {
		l.flusher = f
	}
	return l, nil
}

// IP is the loop's network layer.
func (l *Loop) IP() *ip.Stack { return l.ip }

// TCP is the loop's TCP stack, or nil if Config.TCP was nil.
func (l *Loop) TCP() *tcp.Stack { return l.tcp }

// Listen serves port with a stream handler on this shard's TCP (the loop
// is a stream.Host). It fails if the loop runs no TCP.
func (l *Loop) Listen(port uint16, h stream.Handler) error {
	if l.tcp == nil {
		return fmt.Errorf("%w: Listen needs Config.TCP", ErrConfig)
	}
	return l.tcp.Listen(port, stream.FromTCP(h))
}

var _ stream.Host = (*Loop)(nil)

// Wheel is the loop's timer wheel.
func (l *Loop) Wheel() *timer.Wheel { return l.wheel }

// Queue is the loop's NIC queue.
func (l *Loop) Queue() nic.Queue { return l.q }

// Slab is the loop's packet memory.
func (l *Loop) Slab() *buf.Slab { return l.slab }

// Now is the clock reading of the current (or last) iteration.
func (l *Loop) Now() int64 { return l.now }

// Stats returns a copy of the loop's counters.
func (l *Loop) Stats() Stats { return l.stats }

// Transmit queues a frame for the end-of-iteration flush (ip.Transmitter).
// A full batch is flushed at once; if the queue refuses it too, the frame
// is dropped and counted.
func (l *Loop) Transmit(p *buf.Packet) {
	if len(l.tx) == cap(l.tx) {
		l.flush()
		if len(l.tx) == cap(l.tx) {
			l.stats.TxDropped++
			p.Release()
			return
		}
	}
	l.tx = append(l.tx, p)
}

// flush hands the batch to the queue; whatever it refuses stays queued for
// the next iteration.
func (l *Loop) flush() {
	if len(l.tx) == 0 {
		return
	}
	n := l.q.TxBurst(l.tx)
	l.stats.TxFrames += uint64(n)
	rest := copy(l.tx, l.tx[n:])
	clear(l.tx[rest:len(l.tx)])
	l.tx = l.tx[:rest]
}

// Start announces the stack (gratuitous ARP) at time now.
func (l *Loop) Start(now int64) {
	if !l.started {
		l.started = true
		l.now = now
		l.ip.Start(now)
	}
}

// RunOnce is one iteration at time now. It reports whether it found work.
func (l *Loop) RunOnce(now int64) bool {
	l.now = now
	l.stats.Iterations++
	n := l.q.RxBurst(l.rx)
	for i := 0; i < n; i++ {
		p := l.rx[i]
		l.rx[i] = nil
		if l.fwd != nil {
			if o, hops := l.fwd.route(p.Data(), l.addr, l.sh.ID, l.tcp); o >= 0 {
				if l.forward(p.Data(), o, hops) {
					if hops == hopDeliver {
						l.stats.Forwarded++
					} else {
						l.stats.MissForwarded++
					}
					p.Release()
					continue
				}
				if hops == hopDeliver || !pureSYN(p.Data(), l.addr) {
					l.stats.FwdDrops++
					p.Release()
					continue
				}
				l.stats.SynLocal++ // cannot ask: answer it here
			}
		}
		l.ip.Input(p, now)
	}
	l.stats.RxFrames += uint64(n)
	if l.fwd != nil {
		n += l.takeForwarded(now)
	}
	fired := l.wheel.Advance(now)
	l.stats.Timers += uint64(fired)
	msgs := 0
	if l.sh != nil {
		msgs = l.sh.Inbox().Drain(64) + l.drainMail(now)
		l.stats.Messages += uint64(msgs)
	}
	work := n > 0 || fired > 0 || msgs > 0 || len(l.tx) > 0
	l.flush()
	if err := l.q.Kick(); err != nil {
		l.stats.TxDropped++ // counted; the driver counts the detail
	}
	return work
}

// Run drives the loop until the shard is told to stop, then stops the
// stack and releases everything the loop holds. It needs a Shard.
func (l *Loop) Run() error {
	if l.sh == nil {
		return fmt.Errorf("%w: Run needs a Shard", ErrConfig)
	}
	l.Start(l.clock())
	w := l.sh.Waker()
	l.pollfds[0] = unix.PollFd{Fd: int32(l.q.Fd()), Events: unix.POLLIN}
	l.pollfds[1] = unix.PollFd{Fd: int32(w.Fd()), Events: unix.POLLIN}
	idleSince := int64(-1)
	for !l.sh.Stopping() {
		now := l.clock()
		if l.RunOnce(now) {
			idleSince = -1
			continue
		}
		if idleSince < 0 {
			idleSince = now
		}
		if l.spinIdle < 0 || now-idleSince < l.spinIdle {
			continue
		}
		if !w.PrepareSleep() { // inbox, mailboxes and stop are re-checked
			continue
		}
		l.sleep(now)
		w.Awake()
		idleSince = -1
	}
	l.close()
	return nil
}

// drainMail handles up to 64 messages from each other shard.
func (l *Loop) drainMail(now int64) int {
	n := 0
	for from := 0; from < l.sh.NumShards(); from++ {
		mb := l.sh.Mailbox(from)
		for k := 0; k < 64; k++ {
			m, ok := mb.Pop()
			if !ok {
				break
			}
			n++
			switch m.Kind {
			case msgNeighbor:
				l.ip.LearnNeighbor(fromBE32(uint32(m.A)), fromMAC48(m.B), now)
			case msgDoorbell: // the rings are drained every iteration
			}
		}
	}
	return n
}

// forward copies frame to shard o's ring with mark hops and rings its
// doorbell. It is false if the ring is full. The caller keeps (and
// releases) frame and counts what happened to it.
func (l *Loop) forward(frame []byte, o int, hops uint8) bool {
	if !l.fwd.rings[l.sh.ID][o].push(frame, hops) {
		return false
	}
	if !l.sh.Send(o, shard.Message{Kind: msgDoorbell}) {
		l.stats.MailFull++ // the owner is busy with mail: it will see the ring
	}
	return true
}

// takeForwarded handles up to 64 frames from each other shard's ring:
// each is processed here (copied into our slab) or, if it asks for a flow
// we do not have, passed on without copying it here (see Forwarder).
func (l *Loop) takeForwarded(now int64) int {
	n := 0
	for from := 0; from < l.fwd.n; from++ {
		r := l.fwd.rings[from][l.sh.ID]
		if r == nil {
			continue
		}
		for k := 0; k < 64; k++ {
			b, hops, ok := r.peek()
			if !ok {
				break
			}
			n++
			if to, next := l.fwd.relay(b, l.addr, l.sh.ID, hops, l.tcp); to >= 0 {
				if l.forward(b, to, next) {
					if next == hopDeliver {
						l.stats.MissReturned++
					} else {
						l.stats.MissForwarded++
					}
					r.advance()
					continue
				}
				if !pureSYN(b, l.addr) {
					l.stats.FwdDrops++
					r.advance()
					continue
				}
				l.stats.SynLocal++ // cannot pass it on: answer it here
			} else if hops != hopDeliver {
				l.stats.MissFound++
			}
			if p := l.slab.Alloc(); p == nil {
				l.stats.FwdDrops++
			} else if d := p.Append(len(b)); d == nil {
				l.stats.FwdDrops++
				p.Release()
			} else {
				copy(d, b)
				l.stats.ForwardIn++
				l.ip.Input(p, now)
			}
			r.advance()
		}
	}
	return n
}

func be32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

func fromBE32(v uint32) [4]byte { return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func mac48(m [6]byte) uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
}

func fromMAC48(v uint64) [6]byte {
	return [6]byte{byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// sleep blocks in poll(2) until the queue or the waker is readable or the
// next timer is due.
func (l *Loop) sleep(now int64) {
	timeout := -1
	if d, ok := l.wheel.NextDeadline(); ok {
		timeout = msUntil(d, now)
	}
	if l.dueer != nil {
		if d, ok := l.dueer.NextDue(); ok {
			if t := msUntil(d, now); timeout < 0 || t < timeout {
				timeout = t
			}
		}
	}
	if l.flusher != nil {
		l.flusher.Flush() // errors are counted by the wrapper
	}
	fds := l.pollfds[:]
	if l.pollfds[0].Fd < 0 {
		fds = l.pollfds[1:]
	}
	l.stats.Sleeps++
	_, err := unix.Poll(fds, timeout)
	if err != nil && err != unix.EINTR {
		// poll on our own fds fails only on a bug; do not spin hot on it.
		time.Sleep(time.Millisecond)
	}
}

func msUntil(deadline, now int64) int {
	if deadline <= now {
		return 0
	}
	ms := (deadline - now + 999_999) / 1_000_000
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return int(ms)
}

// close stops the stack and releases held frames; the queue stays open
// (its owner closes it).
func (l *Loop) close() {
	if l.tcp != nil {
		l.tcp.Shutdown(l.now)
	}
	l.ip.Stop()
	l.flush()
	for i, p := range l.tx {
		p.Release()
		l.tx[i] = nil
		l.stats.TxDropped++
	}
	l.tx = l.tx[:0]
}

// Close stops a loop that was driven by hand with RunOnce.
func (l *Loop) Close() { l.close() }
