package shard

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Defaults for Config.
const (
	DefaultInboxSize   = 4096
	DefaultMailboxSize = 1024
)

// ErrConfig reports a Config that cannot work, such as more shards than
// CPUs.
var ErrConfig = errors.New("shard: bad config")

// Config says how many shards to start and where.
type Config struct {
	// Shards is the number of shards. Zero means one per CPU in CPUs.
	Shards int
	// CPUs are the CPUs to pin to: shard i runs on CPUs[i]. Nil means
	// AllowedCPUs(). There must be at least Shards of them. A CPU listed
	// twice puts two shards on one CPU (useful only for tests).
	CPUs []int
	// InboxSize is each shard's inbox capacity (rounded up to a power of
	// two). Zero means DefaultInboxSize.
	InboxSize int
	// MailboxSize is the capacity of each shard-to-shard ring (rounded up
	// to a power of two). Zero means DefaultMailboxSize. There are
	// Shards² rings of MailboxSize Messages (32 bytes each).
	MailboxSize int
}

// Message is what one shard sends another through a mailbox: a small,
// pointer-carrying value copied into the ring, so sending allocates
// nothing. The shard package does not interpret it; Kind values and the
// meaning of A, B and P are defined by the code on both ends (the
// reactor), for example:
//
//   - an ARP update broadcast to every shard: A = the IPv4 address,
//     B = the MAC address in the low 48 bits, P = nil;
//   - a mis-steered packet forwarded to the shard that owns its flow:
//     P = the *buf.Packet, A = the sending shard's ID. A packet must be
//     released on the shard whose slab it came from, so such a Kind's
//     contract says the receiver sends P back (under another Kind) when
//     done with it.
//
// Whoever defines a Kind documents who owns what P points to after the
// send; the sender must not touch it after a successful Send unless that
// contract says so.
// P is an unsafe.Pointer rather than an interface so that no conversion
// can allocate and the message stays 32 bytes; the garbage collector
// still sees it. Kind 0 is reserved for "no message".
type Message struct {
	Kind uint16
	A, B uint64
	P    unsafe.Pointer
}

// Shard is one pinned thread's handle on the group: its identity, its
// inbox, its waker and its mailboxes. The handle is shared, but each
// method says which thread may call it.
type Shard struct {
	ID  int // index in Group.Shards(), 0..n-1
	CPU int // the CPU the shard's thread is pinned to

	group *Group
	inbox *Inbox
	waker *Waker
	in    []*SPSC[Message] // in[from]: messages from shard from to this one
	stop  atomic.Bool
}

// Inbox returns the queue through which any goroutine hands the shard a
// func to run. Drain it on the shard's thread.
func (s *Shard) Inbox() *Inbox { return s.inbox }

// Waker returns the shard's waker; its loop sleeps with it.
func (s *Shard) Waker() *Waker { return s.waker }

// Stopping reports whether Group.Stop has asked the shard to return from
// its run func. Any thread.
func (s *Shard) Stopping() bool { return s.stop.Load() }

// NumShards returns how many shards the group has.
func (s *Shard) NumShards() int { return len(s.group.shards) }

// Mailbox returns the receive side of the ring carrying messages sent to
// this shard by shard from. Pop from it on this shard's thread only.
func (s *Shard) Mailbox(from int) *SPSC[Message] { return s.in[from] }

// Send puts m in shard to's mailbox from this shard and wakes shard to if
// it sleeps. It returns false, sending nothing, when that mailbox is full:
// the caller counts the drop (or keeps m and retries). Call it on this
// shard's thread only (each ring has one producer). Sending to itself is
// allowed.
func (s *Shard) Send(to int, m Message) bool {
	dst := s.group.shards[to]
	if !dst.in[s.ID].Push(m) {
		return false
	}
	dst.waker.Wake()
	return true
}

// Pending reports whether posted work is waiting for the shard: a
// published inbox func, a message in any mailbox, or a stop request. It is
// the check PrepareSleep makes after raising the sleeping flag. Shard
// thread only.
func (s *Shard) Pending() bool {
	if s.stop.Load() || s.inbox.Ready() {
		return true
	}
	for _, q := range s.in {
		if q.Len() != 0 {
			return true
		}
	}
	return false
}

// Group is a set of started shards.
type Group struct {
	shards []*Shard
	done   chan struct{} // closed when every run has returned and wakers are closed
	mu     sync.Mutex
	err    error // first non-nil error from a run
}

// Start starts cfg.Shards shards. For each it starts a goroutine that
// locks itself to its OS thread for good (the thread exits with the
// goroutine), pins the thread to the shard's CPU, and — once every shard
// has pinned — calls run(s) on it. If any shard fails to pin, no run is
// called, everything is released, and Start returns the pinning errors.
// The shards' run funcs should return when s.Stopping(); see Group.Stop.
// A run that returns an error stops the whole group (see Wait).
func Start(cfg Config, run func(s *Shard) error) (*Group, error) {
	cpus := cfg.CPUs
	if cpus == nil {
		var err error
		if cpus, err = AllowedCPUs(); err != nil {
			return nil, err
		}
	}
	n := cfg.Shards
	if n == 0 {
		n = len(cpus)
	}
	switch {
	case n < 0:
		return nil, fmt.Errorf("%w: %d shards", ErrConfig, n)
	case n == 0:
		return nil, fmt.Errorf("%w: no CPUs to run shards on", ErrConfig)
	case len(cpus) < n:
		return nil, fmt.Errorf("%w: %d shards need %d CPUs, but only %d are available (%v); lower Shards or list more CPUs",
			ErrConfig, n, n, len(cpus), cpus)
	case cfg.InboxSize < 0 || cfg.MailboxSize < 0:
		return nil, fmt.Errorf("%w: negative queue size", ErrConfig)
	}
	for _, c := range cpus[:n] {
		if c < 0 || c >= maxCPU {
			return nil, fmt.Errorf("%w: CPU %d out of range", ErrConfig, c)
		}
	}
	inboxSize := cmpOr(cfg.InboxSize, DefaultInboxSize)
	mailboxSize := cmpOr(cfg.MailboxSize, DefaultMailboxSize)

	g := &Group{shards: make([]*Shard, n), done: make(chan struct{})}
	for i := range g.shards {
		s := &Shard{ID: i, CPU: cpus[i], group: g, in: make([]*SPSC[Message], n)}
		w, err := NewWaker(s.Pending)
		if err != nil {
			g.closeWakers()
			return nil, err
		}
		s.waker = w
		s.inbox = NewInbox(inboxSize, w)
		for from := range s.in {
			s.in[from] = NewSPSC[Message](mailboxSize)
		}
		g.shards[i] = s
	}

	pinned := make(chan error, n)
	gate := make(chan struct{})
	var abort bool // written before close(gate), read after <-gate
	var wg sync.WaitGroup
	for _, s := range g.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // never unlocked: the thread dies with us
			pinned <- PinCurrentThread(s.CPU)
			<-gate
			if abort {
				return
			}
			err := run(s)
			s.inbox.close()
			if err != nil {
				g.setErr(fmt.Errorf("shard %d (CPU %d): %w", s.ID, s.CPU, err))
				g.requestStop() // one failed shard stops the group
			}
		}()
	}
	var errs []error
	for range n {
		if err := <-pinned; err != nil {
			errs = append(errs, err)
		}
	}
	abort = len(errs) > 0
	close(gate)
	if abort {
		wg.Wait()
		g.closeWakers()
		return nil, errors.Join(errs...)
	}
	go func() {
		wg.Wait()
		g.closeWakers()
		close(g.done)
	}()
	return g, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (g *Group) closeWakers() {
	for _, s := range g.shards {
		if s != nil && s.waker != nil {
			s.inbox.close()
			s.waker.Close()
		}
	}
}

func (g *Group) setErr(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
}

// Shards returns the shards, indexed by ID. The slice must not be changed.
func (g *Group) Shards() []*Shard { return g.shards }

// Stop asks every shard to stop (sets its stop flag and wakes it) and
// waits until every run func has returned, or ctx is done. It returns
// ctx's error if ctx ended first (the shards keep their stop flags and may
// still return later; Wait waits for them), and otherwise what Wait
// returns. Safe to call more than once, from any goroutine.
func (g *Group) Stop(ctx context.Context) error {
	g.requestStop()
	select {
	case <-g.done:
		return g.Wait()
	case <-ctx.Done():
		return fmt.Errorf("shard: stop: %w", ctx.Err())
	}
}

func (g *Group) requestStop() {
	for _, s := range g.shards {
		s.stop.Store(true) // before Wake: the flag is the published work
		s.waker.Wake()
	}
}

// Wait blocks until every run func has returned and returns the first
// non-nil error one returned (wrapped with the shard's ID), or nil. A run
// that returns an error asks every other shard to stop, as Stop does.
func (g *Group) Wait() error {
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Done returns a channel closed once every run func has returned.
func (g *Group) Done() <-chan struct{} { return g.done }
