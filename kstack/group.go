package kstack

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/shard"
)

// Group is a set of running shards, each serving with its own Host. Its
// methods may be called from any goroutine.
type Group struct {
	sg    *shard.Group
	addr  netip.AddrPort
	stats []Stats // stats[i]: shard i's final counters, written as its run returns
}

// Start starts the shards and, on each shard's thread, builds its Host
// and calls setup(s, host), which typically calls host.Listen. Start
// returns once every setup has returned, so a listener exists on every
// shard when it does; if any setup (or any shard) fails, every shard is
// stopped and Start returns the errors. When cfg.Addr's port is 0, one
// free port is chosen first and becomes every shard's default (Addr).
func Start(cfg Config, setup func(s *shard.Shard, h *Host) error) (*Group, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if setup == nil {
		return nil, fmt.Errorf("%w: Start needs a setup func", ErrConfig)
	}
	n := cfg.Shards
	if n == 0 {
		if cfg.CPUs != nil {
			n = len(cfg.CPUs)
		} else {
			cpus, err := shard.AllowedCPUs()
			if err != nil {
				return nil, err
			}
			n = len(cpus)
		}
	}
	if cfg.Addr.Port() == 0 {
		// Bind (without listening) a SO_REUSEPORT socket to learn a free
		// port; the shards bind beside it, and it is closed once they
		// all have. A bound socket that does not listen gets no
		// connections.
		fd, bound, err := reusePortSocket(cfg.Addr.Addr(), 0)
		if err != nil {
			return nil, err
		}
		defer unix.Close(fd)
		cfg.Addr = bound
	}
	g := &Group{addr: cfg.Addr, stats: make([]Stats, n)}
	ready := make(chan error, n)
	g.sg, err = shard.Start(shard.Config{Shards: n, CPUs: cfg.CPUs}, func(s *shard.Shard) error {
		h, err := newHost(cfg, s)
		if err != nil {
			ready <- err
			return err
		}
		if err := setup(s, h); err != nil {
			h.Close(h.clock())
			g.stats[s.ID] = h.stats
			ready <- err
			return err
		}
		ready <- nil
		err = h.Run()
		g.stats[s.ID] = h.stats
		return err
	})
	if err != nil {
		return nil, err
	}
	var errs []error
	for range n {
		if err := <-ready; err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		g.sg.Stop(context.Background())
		return nil, fmt.Errorf("kstack: setup: %w", errors.Join(errs...))
	}
	return g, nil
}

// Addr is the address the shards listen on by default (Config.Addr, with
// the port Start chose if it was 0).
func (g *Group) Addr() netip.AddrPort { return g.addr }

// Shards returns the shards, indexed by ID.
func (g *Group) Shards() []*shard.Shard { return g.sg.Shards() }

// Stop asks every shard to stop and waits, until ctx is done, for them to
// return. A stopping shard closes its listeners and aborts its
// connections (RST, OnClose with CloseAborted) before it returns.
func (g *Group) Stop(ctx context.Context) error { return g.sg.Stop(ctx) }

// Wait blocks until every shard has returned and returns the first error
// one returned.
func (g *Group) Wait() error { return g.sg.Wait() }

// Done is closed once every shard has returned.
func (g *Group) Done() <-chan struct{} { return g.sg.Done() }

// Stats returns each shard's final counters, indexed by shard ID, once
// every shard has returned (after Stop or Wait); before that, nil.
func (g *Group) Stats() []Stats {
	select {
	case <-g.sg.Done():
		return append([]Stats(nil), g.stats...)
	default:
		return nil
	}
}
