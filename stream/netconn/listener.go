package netconn

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
)

// Config configures a Listener. Zero fields take the defaults shown.
type Config struct {
	// Addr is the stack's IPv4 address, for Listener.Addr and each
	// Conn's LocalAddr. Zero means: learn it from the first Attach (a
	// *reactor.Loop's IP address, or the address a kstack.Host listens
	// on); until then Addr reports 0.0.0.0.
	Addr netip.Addr
	// Backlog bounds the connections established on the shards and not
	// yet returned by Accept: 128. Beyond it a new connection is aborted
	// (RST) and counted in Stats.Overflow.
	Backlog int
	// ReadBuffer is each connection's buffer between the shard and Read,
	// bytes: 64 KiB. When it is full the rest stays in the stack's
	// receive buffer and the TCP window closes.
	ReadBuffer int
	// Nagle keeps Nagle's algorithm on for accepted connections; by
	// default it is off, as for the standard library's TCP connections.
	Nagle bool
}

// Stats counts what a Listener did, over all shards.
type Stats struct {
	Accepted  uint64 // connections handed to Accept
	Overflow  uint64 // connections aborted because the backlog was full
	Refused   uint64 // connections aborted because the Listener was closed
	InboxFull uint64 // posts to a shard's inbox retried because it was full
}

// Listener is a net.Listener for one TCP port served by shardnet shards
// (or by the kernel backend, kstack — anything that is a stream.Host).
// Create it with NewListener, call Attach on each shard's thread, then
// hand it to any standard server (net/http.Serve, …).
//
// Ownership: the Listener is shared by every shard it is attached to and
// by the goroutines calling Accept; its state is guarded by a mutex and
// channels. Each accepted Conn belongs to the shard that accepted it.
type Listener struct {
	port    uint16
	cfg     Config
	backlog chan *Conn
	done    chan struct{}

	mu       sync.Mutex
	closed   bool
	addr     *net.TCPAddr
	attached []attachment

	accepted, overflow, refused, inboxFull atomic.Uint64
}

type attachment struct {
	inbox *shard.Inbox
	host  stream.Host
}

// NewListener returns a Listener for port; it accepts nothing until it is
// attached to at least one shard.
func NewListener(port uint16, cfg Config) *Listener {
	if cfg.Backlog <= 0 {
		cfg.Backlog = 128
	}
	if cfg.ReadBuffer <= 0 {
		cfg.ReadBuffer = 64 << 10
	}
	ip := net.IPv4zero.To4()
	if cfg.Addr.Is4() {
		a := cfg.Addr.As4()
		ip = net.IP(a[:])
	}
	return &Listener{
		port:    port,
		cfg:     cfg,
		backlog: make(chan *Conn, cfg.Backlog),
		done:    make(chan struct{}),
		addr:    &net.TCPAddr{IP: ip, Port: int(port)},
	}
}

// Attach listens on the Listener's port on shard s, whose stream.Host is
// h, with a handler that queues every connection established there for
// Accept. Call it on s's thread (shardnet.Stack.Do takes it as is:
// st.Do(ctx, ln.Attach)). It fails once the Listener is closed.
func (ln *Listener) Attach(s *shard.Shard, h stream.Host) error {
	if s == nil || h == nil {
		return errors.New("netconn: Attach needs the shard and its stream.Host")
	}
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		return net.ErrClosed
	}
	ln.mu.Unlock()
	sh := &shardHandler{ln: ln, inbox: s.Inbox(), host: h}
	if err := h.Listen(ln.port, sh); err != nil {
		return err
	}
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.closed { // Close ran meanwhile, without knowing of this shard
		if u, ok := h.(unlistener); ok {
			u.Unlisten(ln.port)
		}
		return net.ErrClosed
	}
	if !ln.cfg.Addr.IsValid() && ln.addr.IP.IsUnspecified() {
		if a, ok := hostAddr(h, ln.port); ok {
			b := a.As4()
			ln.addr = &net.TCPAddr{IP: net.IP(b[:]), Port: int(ln.port)}
		}
	}
	sh.local = ln.addr
	ln.attached = append(ln.attached, attachment{s.Inbox(), h})
	return nil
}

// unlistener is a stream.Host that can stop listening on a port
// (reactor.Loop and kstack.Host can).
type unlistener interface{ Unlisten(port uint16) error }

// hostAddr finds the IPv4 address h serves.
func hostAddr(h stream.Host, port uint16) (netip.Addr, bool) {
	switch v := h.(type) {
	case *reactor.Loop:
		return netip.AddrFrom4(v.IP().Config().Addr), true
	case interface{ ListenAddrs() []netip.AddrPort }: // kstack.Host
		for _, a := range v.ListenAddrs() {
			if a.Port() == port && a.Addr().Is4() {
				return a.Addr(), true
			}
		}
	}
	return netip.Addr{}, false
}

// Accept waits for the next connection and returns it (a *Conn). After
// Close it returns an error wrapping net.ErrClosed.
func (ln *Listener) Accept() (net.Conn, error) {
	select {
	case <-ln.done:
		return nil, ln.closedErr()
	default:
	}
	select {
	case c := <-ln.backlog:
		ln.accepted.Add(1)
		return c, nil
	case <-ln.done:
		return nil, ln.closedErr()
	}
}

func (ln *Listener) closedErr() error {
	return &net.OpError{Op: "accept", Net: "tcp", Addr: ln.Addr(), Err: net.ErrClosed}
}

// Close stops accepting: Accept returns net.ErrClosed, each attached
// shard is asked (through its inbox) to Unlisten the port, and
// connections waiting in the backlog are aborted. Both of shardnet's
// stacks (reactor.Loop, kstack.Host) have Unlisten: later SYNs are
// refused. A stream.Host without it keeps listening; every connection it
// establishes is then aborted (RST). Close returns at once: a connection
// a shard establishes before its Unlisten runs is aborted too; both are
// counted in Stats.Refused. Connections already accepted go on.
func (ln *Listener) Close() error {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		return &net.OpError{Op: "close", Net: "tcp", Addr: ln.Addr(), Err: net.ErrClosed}
	}
	ln.closed = true
	close(ln.done)
	att := ln.attached
	ln.mu.Unlock()
	port := ln.port
	for _, a := range att {
		if u, ok := a.host.(unlistener); ok {
			ln.post(a.inbox, func() { u.Unlisten(port) }) // fails only once the shard has stopped
		}
	}
	for {
		select {
		case c := <-ln.backlog:
			ln.refused.Add(1)
			c.post(c.abortFn)
		default:
			return nil
		}
	}
}

// Addr is the stack's address and the port.
func (ln *Listener) Addr() net.Addr {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return ln.addr
}

// Stats returns the Listener's counters. Any goroutine.
func (ln *Listener) Stats() Stats {
	return Stats{
		Accepted:  ln.accepted.Load(),
		Overflow:  ln.overflow.Load(),
		Refused:   ln.refused.Load(),
		InboxFull: ln.inboxFull.Load(),
	}
}

// enqueue offers c to Accept; false means it must be aborted. Shard
// thread; it never blocks.
func (ln *Listener) enqueue(c *Conn) bool {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.closed {
		ln.refused.Add(1)
		return false
	}
	select {
	case ln.backlog <- c:
		return true
	default:
		ln.overflow.Add(1)
		return false
	}
}

// post puts fn in inbox, retrying with a short back-off while it is full.
// It fails only once the shard has stopped. Not for the shard thread.
func (ln *Listener) post(inbox *shard.Inbox, fn func()) error {
	backoff := 10 * time.Microsecond
	for {
		err := inbox.Post(fn)
		if err == nil {
			return nil
		}
		if !errors.Is(err, shard.ErrInboxFull) {
			return ErrShardStopped
		}
		ln.inboxFull.Add(1)
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Millisecond)
	}
}

// shardHandler is the stream.Handler the Listener installs on one shard.
// It and its callbacks run on that shard's thread.
type shardHandler struct {
	ln    *Listener
	inbox *shard.Inbox
	host  stream.Host
	local *net.TCPAddr
}

func (h *shardHandler) OnOpen(sc stream.Conn, now int64) {
	c := newConn(h, sc)
	sc.SetContext(c)
	if !h.ln.cfg.Nagle {
		sc.SetNoDelay(true)
	}
	if !h.ln.enqueue(c) {
		sc.Abort(now)
	}
}

func (h *shardHandler) OnData(sc stream.Conn, data []byte, now int64) int {
	if c, ok := sc.Context().(*Conn); ok {
		return c.onData(data)
	}
	return len(data)
}

func (h *shardHandler) OnWritable(sc stream.Conn, now int64) {
	if c, ok := sc.Context().(*Conn); ok {
		c.shardFlush()
	}
}

func (h *shardHandler) OnPeerClosed(sc stream.Conn, now int64) {
	if c, ok := sc.Context().(*Conn); ok {
		c.onPeerClosed()
	}
}

func (h *shardHandler) OnClose(sc stream.Conn, reason stream.CloseReason, now int64) {
	if c, ok := sc.Context().(*Conn); ok {
		c.onClose(reason)
	}
	sc.SetContext(nil)
}
