package shardnet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/shardnet/shardnet/tcp"
)

// Stop drains the stack and tears it down:
//
//  1. every shard stops accepting on its ports: shardnet's TCP answers
//     new SYNs with a RST, the kernel backend closes its listening
//     sockets (after accepting what the kernel had completed);
//  2. every service is told to drain (http.Server.Drain: idle keep-alive
//     connections are closed at once, a request in progress is answered
//     with "Connection: close" and its connection closed after it; a
//     stream handler that is a Drainer decides for itself);
//  3. the shards keep running until each has no connection left other
//     than TIME-WAIT (each checks on its own thread and reports once),
//     or until ctx ends;
//  4. the admin listener closes; the shards stop, aborting what is still
//     open (RST) and dropping TIME-WAIT connections silently; the device
//     is closed: the TAP device removed, the XDP program detached.
//
// Stop returns nil after a complete drain, ctx's error if it had to abort
// connections still open when ctx ended, and otherwise the first error a
// shard failed with, or a device, teardown or leak error. A Stack that
// was never started just stops. Concurrent and later calls wait for the
// first and return its result.
func (st *Stack) Stop(ctx context.Context) error {
	st.mu.Lock()
	switch st.state {
	case stConfigured:
		st.state = stStopped
		close(st.stopped)
		st.mu.Unlock()
		return nil
	case stStarting:
		st.mu.Unlock()
		return fmt.Errorf("%w: Start has not returned", ErrNotRunning)
	case stStopping, stStopped:
		st.mu.Unlock()
		<-st.stopped
		return st.stopErr
	}
	st.state = stStopping
	st.mu.Unlock()

	st.stopErr = st.stop(ctx)
	st.mu.Lock()
	st.state = stStopped
	st.mu.Unlock()
	close(st.stopped)
	if st.ownLog {
		st.log.Sync()
	}
	return st.stopErr
}

func (st *Stack) stop(ctx context.Context) error {
	t0 := time.Now()
	close(st.quit)
	n := len(st.shards)
	done := st.Done()
	drained := make(chan int, n)
	left := n
	st.log.Info("draining", zap.Int("shards", n))
	for _, ss := range st.shards {
		if err := post(ctx, ss.sh, func() { ss.beginDrain(drained) }); err != nil {
			break // stopped (a shard failed) or ctx ended: nothing to wait for
		}
	}
wait:
	for left > 0 {
		select {
		case <-drained:
			left--
		case <-ctx.Done():
			break wait
		case <-done:
			break wait
		}
	}
	var errs []error
	aborting := left > 0 && ctx.Err() != nil
	if aborting {
		st.log.Warn("drain did not finish: aborting the connections still open",
			zap.Int("shards_not_drained", left), zap.Duration("after", time.Since(t0)), zap.Error(ctx.Err()))
		errs = append(errs, ctx.Err())
	} else if left == 0 {
		st.log.Info("drained", zap.Duration("took", time.Since(t0)))
	}

	// The kernel backend keeps no counters past its run: take them now.
	var final []Sample
	if st.kgroup != nil {
		sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		final, _ = st.gather(sctx)
		cancel()
	}
	st.mu.Lock()
	admin := st.admin
	st.mu.Unlock()
	if admin != nil {
		if err := admin.Close(); err != nil {
			st.log.Warn("closing the admin listener", zap.Error(err))
		}
	}

	sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var gerr error
	if st.kgroup != nil {
		gerr = st.kgroup.Stop(sctx)
	} else {
		gerr = st.group.Stop(sctx)
	}
	if errors.Is(gerr, context.DeadlineExceeded) && sctx.Err() != nil {
		// Shards that do not return still use their queues: leave the
		// device alone.
		st.log.Error("shards did not stop", zap.Duration("waited", stopTimeout))
		return errors.Join(append(errs, fmt.Errorf("shardnet: stop: shards did not return within %v", stopTimeout))...)
	}
	if gerr != nil {
		errs = append(errs, gerr)
	}
	if err := st.closeDevice(); err != nil {
		errs = append(errs, err)
	}

	if st.kgroup != nil {
		ks := st.kgroup.Stats()
		if len(final) != len(ks) {
			final = make([]Sample, len(ks))
			for i := range final {
				final[i] = Sample{Shard: i, Driver: string(DriverKernel)}
			}
		}
		for i := range final {
			final[i].Kernel = ks[i]
		}
	} else {
		final = make([]Sample, n)
		for i, ss := range st.shards {
			final[i] = ss.final
			if ss.leak != 0 {
				errs = append(errs, fmt.Errorf("shardnet: shard %d: %d packet buffers leaked", i, ss.leak))
				st.log.Error("packet buffers leaked", zap.Int("shard", i), zap.Int("frames", ss.leak))
			}
		}
	}
	st.final = final
	st.logLimits(nil, final)
	st.log.Info("stopped", zap.Duration("took", time.Since(t0)), zap.Duration("uptime", time.Since(st.started)))
	if len(errs) == 1 {
		return errs[0] // ctx.Err() itself, when that is all
	}
	return errors.Join(errs...)
}

// limitsInterval is how often a running Stack looks at its counters for
// limits hit (one func posted to each shard).
const limitsInterval = 10 * time.Second

// watchLimits logs the limits hit since the last look, every
// limitsInterval, until quit is closed.
func (st *Stack) watchLimits(quit <-chan struct{}) {
	tk := time.NewTicker(limitsInterval)
	defer tk.Stop()
	var prev []Sample
	for {
		select {
		case <-quit:
			return
		case <-tk.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), limitsInterval)
		cur, err := st.gather(ctx)
		cancel()
		if err != nil {
			continue // stopping, or a shard too busy to answer: look again later
		}
		st.logLimits(prev, cur)
		prev = cur
	}
}

// logLimits warns about the limits the shards hit between samples prev
// (nil: since start) and cur: counted drops an operator can do something
// about.
func (st *Stack) logLimits(prev, cur []Sample) {
	for i := range cur {
		s := &cur[i]
		var p Sample
		if i < len(prev) {
			p = prev[i]
		}
		var f []zap.Field
		add := func(name string, now, before uint64) {
			if now > before {
				f = append(f, zap.Uint64(name, now-before))
			}
		}
		add("conn_limit", s.TCP.Drops[tcp.DropConnLimit], p.TCP.Drops[tcp.DropConnLimit])
		add("syn_cookies", s.TCP.SynCookiesSent, p.TCP.SynCookiesSent)
		add("slab_alloc_fail", s.Slab.AllocFail, p.Slab.AllocFail)
		add("tx_dropped", s.Loop.TxDropped, p.Loop.TxDropped)
		add("forward_drops", s.Loop.FwdDrops, p.Loop.FwdDrops)
		add("mailbox_full", s.Loop.MailFull, p.Loop.MailFull)
		add("kernel_refused", s.Kernel.Refused, p.Kernel.Refused)
		add("kernel_accept_errors", s.Kernel.AcceptErrors, p.Kernel.AcceptErrors)
		add("http_linger_aborts", s.HTTP.LingerAborts, p.HTTP.LingerAborts)
		if len(f) > 0 {
			st.log.Warn("limits hit (raise Config.MaxConns, Frames or the buffers if they matter)",
				append([]zap.Field{zap.Int("shard", s.Shard)}, f...)...)
		}
	}
}
