package kstack

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
)

// Epoll tokens: EpollEvent.Fd holds a connection's index in Host.all (>= 0)
// or one of these; EpollEvent.Pad holds the connection's generation, so an
// event for a connection that was closed (and its object reused) in the
// same iteration is recognised as stale.
const (
	tokWaker     = -1
	tokListener0 = -2 // listener k is tokListener0-k
)

// ErrClosed reports a call on a Host that has been closed.
var ErrClosed = errors.New("kstack: host closed")

// Host is one shard's event loop over kernel sockets; it implements
// stream.Host. It belongs to the shard's thread (or, without a shard, to
// the one goroutine driving RunOnce).
type Host struct {
	cfg   Config
	sh    *shard.Shard // nil for a hand-driven host
	clock func() int64
	epfd  int
	wheel *timer.Wheel
	now   int64

	events  []unix.EpollEvent
	nev     int // events the last sleep returned, not yet dispatched
	scratch []byte

	lns  []*listener
	all  []*Conn // every connection object made, indexed by Conn.id
	free []*Conn

	// runq: connections to read in the next iteration; dirty: connections
	// to flush at the end of this one. spare* are the other halves of the
	// double buffers, so that the lists never allocate once grown.
	runq, spareRunq   []connRef
	dirty, spareDirty []connRef

	sa     unix.RawSockaddrInet4 // accept4's peer address
	salen  uint32
	iov    [2]unix.Iovec
	ctlEv  unix.EpollEvent
	linger unix.Linger

	stats  Stats
	closed bool
}

type listener struct {
	fd    int
	addr  netip.AddrPort
	h     stream.Handler
	retry timer.Timer // re-accept after a resource error (EMFILE …)
}

// connRef names one incarnation of a pooled connection.
type connRef struct {
	c   *Conn
	gen uint32
}

var _ stream.Host = (*Host)(nil)

// NewHost returns a Host without a shard, for driving by hand with
// RunOnce and Close on one goroutine (tests and benchmarks). cfg.Shards
// and cfg.CPUs are ignored; Run is not available.
func NewHost(cfg Config) (*Host, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return newHost(cfg, nil)
}

func newHost(cfg Config, sh *shard.Shard) (*Host, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("kstack: epoll_create1: %w", err)
	}
	h := &Host{
		cfg:     cfg,
		sh:      sh,
		clock:   cfg.Clock,
		epfd:    epfd,
		events:  make([]unix.EpollEvent, maxEvents),
		scratch: make([]byte, scratchSize),
		linger:  unix.Linger{Onoff: 1, Linger: 0},
	}
	h.now = cfg.Clock()
	h.wheel = timer.NewWheel(wheelTick, wheelSlots, h.now)
	if sh != nil {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: tokWaker}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, sh.Waker().Fd(), &ev); err != nil {
			unix.Close(epfd)
			return nil, fmt.Errorf("kstack: epoll_ctl (waker): %w", err)
		}
	}
	return h, nil
}

// Listen serves port on this shard with h: it creates the shard's
// listening socket for port on Config.Addr's address, with SO_REUSEPORT
// so that every shard listening on the port gets a share of the
// connections. Port 0 means Config.Addr's port (for a Group, the one Start
// resolved). Call it on the shard's thread, typically from Start's setup.
func (h *Host) Listen(port uint16, hd stream.Handler) error {
	if h.closed {
		return ErrClosed
	}
	if hd == nil {
		return fmt.Errorf("%w: Listen with a nil handler", ErrConfig)
	}
	if port == 0 {
		port = h.cfg.Addr.Port()
	}
	if port != 0 {
		for _, l := range h.lns {
			if l.fd >= 0 && l.addr.Port() == port {
				return fmt.Errorf("kstack: port %d: already listening on this shard", port)
			}
		}
	}
	fd, bound, err := listenSocket(h.cfg.Addr.Addr(), port, h.cfg.Backlog)
	if err != nil {
		return err
	}
	l := &listener{fd: fd, addr: bound, h: hd}
	l.retry.Init(func(now int64) { h.accept(l, now) })
	h.ctlEv = unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(tokListener0 - len(h.lns))}
	if err := unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, fd, &h.ctlEv); err != nil {
		unix.Close(fd)
		return fmt.Errorf("kstack: epoll_ctl (listener %s): %w", bound, err)
	}
	h.lns = append(h.lns, l)
	return nil
}

// ListenAddrs returns the addresses this host listens on, in Listen order.
func (h *Host) ListenAddrs() []netip.AddrPort {
	a := make([]netip.AddrPort, len(h.lns))
	for i, l := range h.lns {
		a[i] = l.addr
	}
	return a
}

// Wheel is the shard's timer wheel.
func (h *Host) Wheel() *timer.Wheel { return h.wheel }

// Now is the clock reading of the current (or last) iteration.
func (h *Host) Now() int64 { return h.now }

// Shard is the host's shard, or nil for a hand-driven host.
func (h *Host) Shard() *shard.Shard { return h.sh }

// Stats returns a copy of the host's counters. Shard thread only.
func (h *Host) Stats() Stats { return h.stats }

// RunOnce is one iteration of the loop at time now; it reports whether it
// found work. It never blocks.
func (h *Host) RunOnce(now int64) bool {
	if h.closed {
		return false
	}
	h.now = now
	h.stats.Iterations++
	n := h.nev
	h.nev = 0
	if n == 0 {
		n = h.wait(0)
	}
	h.dispatch(n, now)
	reads := len(h.runq)
	h.runReads(now)
	fired := h.wheel.Advance(now)
	h.stats.Timers += uint64(fired)
	msgs := 0
	if h.sh != nil {
		msgs = h.sh.Inbox().Drain(64)
		h.stats.Messages += uint64(msgs)
	}
	flushes := len(h.dirty)
	h.flushAll(now)
	return n > 0 || reads > 0 || fired > 0 || msgs > 0 || flushes > 0 || len(h.runq) > 0 || len(h.dirty) > 0
}

// Run drives the loop until the shard is told to stop, then closes the
// host (listeners closed, connections aborted). It needs a shard.
func (h *Host) Run() error {
	if h.sh == nil {
		return fmt.Errorf("%w: Run needs a shard (use RunOnce)", ErrConfig)
	}
	w := h.sh.Waker()
	idleSince := int64(-1)
	for !h.sh.Stopping() {
		now := h.clock()
		if h.RunOnce(now) {
			idleSince = -1
			continue
		}
		if idleSince < 0 {
			idleSince = now
		}
		if h.cfg.SpinIdle < 0 || now-idleSince < h.cfg.SpinIdle {
			continue
		}
		if !w.PrepareSleep() { // inbox and stop are re-checked
			continue
		}
		h.sleep(now)
		w.Awake()
		idleSince = -1
	}
	h.Close(h.clock())
	return nil
}

// wait collects ready events without blocking (timeout 0) or for up to
// timeout ms.
func (h *Host) wait(timeout int) int {
	h.stats.EpollWaits++
	n, err := unix.EpollWait(h.epfd, h.events, timeout)
	if err != nil { // EINTR; anything else is a bug on our own fd
		return 0
	}
	return n
}

// sleep blocks in epoll_wait until a socket or the waker is ready or the
// next timer is due; the events it returns are dispatched by the next
// RunOnce.
func (h *Host) sleep(now int64) {
	timeout := -1
	if d, ok := h.wheel.NextDeadline(); ok {
		timeout = msUntil(d, now)
	}
	h.stats.Sleeps++
	h.nev = h.wait(timeout)
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

// dispatch handles n events from h.events.
func (h *Host) dispatch(n int, now int64) {
	for i := 0; i < n; i++ {
		ev := &h.events[i]
		switch id := int(ev.Fd); {
		case id == tokWaker:
			// Nothing to do: the loop drains the eventfd (Waker.Awake)
			// and the inbox every iteration.
		case id <= tokListener0:
			h.accept(h.lns[tokListener0-id], now)
		default:
			c := h.all[id]
			if !c.open || c.gen != uint32(ev.Pad) {
				continue // closed since; maybe reused
			}
			h.event(c, ev.Events, now)
		}
	}
}

// event records what epoll said about c.
func (h *Host) event(c *Conn, e uint32, now int64) {
	if e&unix.EPOLLERR != 0 {
		if v, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && v != 0 {
			h.fail(c, unix.Errno(v), now)
			return
		}
	}
	if e&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && !c.peerClosed {
		if e&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
			c.rdhup = true // read until EOF, not just until a short read
		}
		c.readable = true
		h.enqueueRead(c)
	}
	if e&unix.EPOLLOUT != 0 {
		c.writeBlocked = false
		if c.slen > 0 || (c.closing && !c.finSent) {
			h.markDirty(c)
		}
	}
}

// accept takes every pending connection on l.
func (h *Host) accept(l *listener, now int64) {
	for !h.closed && l.fd >= 0 { // fd < 0: closed by Unlisten
		fd, e := accept4(l.fd, &h.sa, &h.salen)
		switch e {
		case 0:
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Out of a resource: edge-triggered epoll will not tell us
			// again, so try again shortly.
			h.stats.AcceptErrors++
			h.wheel.Schedule(&l.retry, now+10*int64(time.Millisecond))
			return
		default:
			h.stats.AcceptErrors++
			return
		}
		c := h.getConn()
		if c == nil {
			unix.Close(fd)
			h.stats.Refused++
			continue
		}
		if h.cfg.NoDelay {
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		}
		h.ctlEv = unix.EpollEvent{
			Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET,
			Fd:     c.id,
			Pad:    int32(c.gen),
		}
		if err := unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, fd, &h.ctlEv); err != nil {
			unix.Close(fd)
			h.free = append(h.free, c)
			h.stats.AcceptErrors++
			continue
		}
		c.start(fd, l.h, h.sa.Addr, port(&h.sa), h.cfg.NoDelay)
		h.stats.Accepted++
		h.stats.Open++
		l.h.OnOpen(c, now)
	}
}

// getConn takes a connection object from the pool, or makes one while
// under MaxConns; nil means the shard is at its cap.
func (h *Host) getConn() *Conn {
	if n := len(h.free); n > 0 {
		c := h.free[n-1]
		h.free[n-1] = nil
		h.free = h.free[:n-1]
		return c
	}
	if len(h.all) >= h.cfg.MaxConns {
		return nil
	}
	c := &Conn{h: h, id: int32(len(h.all)), fd: -1}
	h.all = append(h.all, c)
	return c
}

// enqueueRead puts c on the list of connections to read.
func (h *Host) enqueueRead(c *Conn) {
	if !c.inRunq {
		c.inRunq = true
		h.runq = append(h.runq, connRef{c, c.gen})
	}
}

// markDirty puts c on the list of connections to flush this iteration.
func (h *Host) markDirty(c *Conn) {
	if !c.inDirty {
		c.inDirty = true
		h.dirty = append(h.dirty, connRef{c, c.gen})
	}
}

// runReads reads each queued connection; connections that are still
// readable after their budget go on the queue for the next iteration.
func (h *Host) runReads(now int64) {
	if len(h.runq) == 0 {
		return
	}
	work := h.runq
	h.runq = h.spareRunq[:0]
	for i := range work {
		r := work[i]
		work[i] = connRef{}
		if r.c.gen != r.gen || !r.c.open {
			continue
		}
		r.c.inRunq = false
		h.read(r.c, now)
	}
	h.spareRunq = work[:0]
}

// flushAll flushes every connection written to in this iteration.
// Connections written to by OnWritable during the flush are flushed in
// the next iteration.
func (h *Host) flushAll(now int64) {
	if len(h.dirty) == 0 {
		return
	}
	work := h.dirty
	h.dirty = h.spareDirty[:0]
	for i := range work {
		r := work[i]
		work[i] = connRef{}
		if r.c.gen != r.gen || !r.c.open {
			continue
		}
		r.c.inDirty = false
		h.flush(r.c, now)
	}
	h.spareDirty = work[:0]
}

// Close closes the host: listeners are closed, every connection is
// aborted (RST; OnClose with CloseAborted), and the epoll instance is
// released. Run calls it when the shard stops; a hand-driven host's owner
// calls it. Shard thread only.
func (h *Host) Close(now int64) {
	if h.closed {
		return
	}
	h.now = now
	for _, l := range h.lns {
		h.wheel.Cancel(&l.retry)
		if l.fd >= 0 {
			unix.Close(l.fd)
		}
		l.fd = -1
	}
	h.closed = true // no more accepts
	for _, c := range h.all {
		if c.open {
			c.Abort(now)
		}
	}
	unix.Close(h.epfd)
	h.epfd = -1
}
