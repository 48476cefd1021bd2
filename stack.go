package shardnet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/metrics"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/kstack"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/nic/afxdp"
	"github.com/shardnet/shardnet/nic/tap"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
)

// Errors of the Stack's lifecycle.
var (
	// ErrNotRunning: the call needs a started Stack that is not stopping.
	ErrNotRunning = errors.New("shardnet: stack is not running")
	// ErrStarted: the call is only allowed before Start.
	ErrStarted = errors.New("shardnet: stack already started")
)

// stopTimeout bounds how long Stop waits for shards to return once it has
// told them to (after the drain): they return at their next iteration.
const stopTimeout = 10 * time.Second

type lifecycle uint8

const (
	stConfigured lifecycle = iota // New returned; services may be added
	stStarting                    // Start is running
	stRunning
	stStopping // Stop is draining
	stStopped  // Stop returned, or Start failed
)

// device is what the shardnet drivers (tap, afxdp) have in common.
type device interface {
	Queue(i int, slab *buf.Slab) (nic.Queue, error)
	Name() string
	Close() error
}

// Stack is a set of shards running one network stack, and the services
// on it. New makes one, services are added (HandleHTTP, HandleStream,
// Do), Start brings the driver and the shards up, Stop drains and tears
// everything down. A Stack is started at most once.
//
// Ownership: the Stack's methods are for the control plane and safe from
// any goroutine, except from a shard's own thread (a handler, a timer, a
// func run by Do): Do, the Handle methods, Samples and Stop wait for the
// shards and would wait for themselves there. Everything on a shard —
// its loop, its connections, the servers HandleHTTP made for it —
// belongs to that shard's thread and is reached only through Do.
type Stack struct {
	cfg    Config
	log    *zap.Logger
	ownLog bool // we built log: Sync it on Stop

	mu     sync.Mutex // guards state, setups and ports
	state  lifecycle
	setups []func(ss *shardState) error
	ports  map[uint16]string // port → what serves it

	// Set by Start, read-only afterwards.
	dev     device
	devName string
	group   *shard.Group  // shardnet drivers
	kgroup  *kstack.Group // DriverKernel
	shards  []*shardState
	admin   *metrics.Admin
	started time.Time

	quit    chan struct{} // closed when Stop begins: ends watchLimits
	stopped chan struct{} // closed when Stop has finished
	stopErr error
	final   []Sample // the shards' last counters, once stopped
}

// Sample is one shard's counters, copied on the shard's own thread (see
// Stack.Samples): queue, loop, slab, IP, TCP (with a census of the
// connections by state), HTTP (summed over the shard's servers) and, for
// DriverKernel, the kernel backend's counters.
type Sample = metrics.Sample

// New checks cfg, with opts applied to it in order, and returns a Stack
// that is not started yet. Every problem with the configuration is
// reported at once, each wrapping ErrConfig and saying what to change.
func New(cfg Config, opts ...Option) (*Stack, error) {
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	allowed, err := shard.AllowedCPUs()
	if err != nil {
		errs = append(errs, fmt.Errorf("shardnet: reading the CPUs this process may use: %w", err))
	}
	cfg, err = cfg.withDefaults(allowed)
	if err != nil {
		errs = append(errs, err)
	}
	st := &Stack{cfg: cfg, log: cfg.Logger, ports: map[uint16]string{}, stopped: make(chan struct{})}
	if st.log == nil {
		l, err := envLogger()
		if err != nil {
			errs = append(errs, err)
		}
		st.log, st.ownLog = l, true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return st, nil
}

// Config returns the configuration in force, defaults filled in.
func (st *Stack) Config() Config { return st.cfg }

// Logger returns the Stack's control-plane logger.
func (st *Stack) Logger() *zap.Logger { return st.log }

// Addr is the stack's IPv4 address.
func (st *Stack) Addr() netip.Addr { return st.cfg.Addr.Addr() }

// Iface is the name of the interface the stack runs on (the TAP device
// or the NIC), or "" for DriverKernel or before Start.
func (st *Stack) Iface() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.devName
}

// AdminAddr is the admin listener's address, or nil when there is none.
func (st *Stack) AdminAddr() net.Addr {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.admin == nil {
		return nil
	}
	return st.admin.Addr()
}

// Done is closed once every shard has returned: after Stop, or early if
// a shard failed (Wait says why).
func (st *Stack) Done() <-chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.group != nil:
		return st.group.Done()
	case st.kgroup != nil:
		return st.kgroup.Done()
	}
	return st.stopped
}

// Wait blocks until every shard has returned and returns the first error
// a shard failed with, or nil.
func (st *Stack) Wait() error {
	<-st.Done()
	return st.groupErr()
}

func (st *Stack) groupErr() error {
	switch {
	case st.group != nil:
		return st.group.Wait()
	case st.kgroup != nil:
		return st.kgroup.Wait()
	}
	return nil
}

// Start opens the driver (creates the TAP device, or attaches the XDP
// program, or nothing for the kernel), starts one pinned shard per queue
// and runs every registered service's set-up on each shard's thread. It
// returns once every shard is serving, or with the errors that stopped
// it, in which case everything is torn down again.
func (st *Stack) Start() error {
	st.mu.Lock()
	if st.state != stConfigured {
		st.mu.Unlock()
		return ErrStarted
	}
	st.state = stStarting
	setups := st.setups
	st.mu.Unlock()

	st.started = time.Now()
	st.shards = make([]*shardState, st.cfg.Shards)
	for i := range st.shards {
		st.shards[i] = newShardState(i, st)
	}
	var err error
	if st.cfg.Driver == DriverKernel {
		err = st.startKernel(setups)
	} else {
		err = st.startShardnet(setups)
	}
	if err == nil && st.cfg.Admin != "" {
		var a *metrics.Admin
		if a, err = metrics.NewAdmin(st.cfg.Admin, st.gather, st.log); err == nil {
			st.mu.Lock()
			st.admin = a
			st.mu.Unlock()
		} else {
			st.teardown()
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err != nil {
		st.state = stStopped
		close(st.stopped)
		st.log.Error("start failed", zap.Error(err))
		return err
	}
	st.state = stRunning
	st.quit = make(chan struct{})
	go st.watch()
	go st.watchLimits(st.quit)
	return nil
}

// startShardnet brings up a TAP or AF_XDP device and one reactor loop per
// queue.
func (st *Stack) startShardnet(setups []func(*shardState) error) error {
	cfg := &st.cfg
	var mac [6]byte
	switch cfg.Driver {
	case DriverTAP:
		if _, err := rand.Read(mac[:]); err != nil {
			return err
		}
		mac[0] = mac[0]&^0x01 | 0x02 // locally administered, unicast
		dev, err := tap.Open(tap.Config{Name: cfg.Iface, Queues: cfg.Shards, VnetHdr: !cfg.NoVnetHdr, HostAddr: cfg.HostAddr, NetNS: cfg.NetNS})
		if err != nil {
			return fmt.Errorf("shardnet: driver %s: %w", cfg.Driver, err)
		}
		st.dev = dev
		st.log.Info("TAP device up", zap.String("iface", dev.Name()), zap.Int("queues", cfg.Shards),
			zap.Stringer("host_addr", cfg.HostAddr), zap.Bool("vnet_hdr", !cfg.NoVnetHdr))
	case DriverAFXDP:
		dev, err := afxdp.Open(afxdp.Config{Iface: cfg.Iface, Queues: cfg.Shards, Addr: cfg.Addr.Addr().As4(), ZeroCopy: cfg.XDPZeroCopy, NetNS: cfg.NetNS})
		if err != nil {
			return fmt.Errorf("shardnet: driver %s: %w", cfg.Driver, err)
		}
		st.dev, mac = dev, dev.HWAddr()
		fields := []zap.Field{zap.String("iface", dev.Name()), zap.Int("queues", cfg.Shards),
			zap.Stringer("mode", dev.Mode()), zap.Uint32("prog_id", dev.ProgramID())}
		if r := dev.Replaced(); r != "" {
			fields = append(fields, zap.String("replaced", r))
		}
		st.log.Info("XDP program attached", fields...)
		if hw := dev.HWQueues(); hw > cfg.Shards {
			st.log.Warn("the interface has more queues than shards: flows the NIC hashes to the others reach the kernel, not the stack; run one shard per queue or lower the queue count",
				zap.String("iface", dev.Name()), zap.Int("queues", hw), zap.Int("shards", cfg.Shards),
				zap.String("fix", fmt.Sprintf("ethtool -L %s combined %d", dev.Name(), cfg.Shards)))
		}
	}
	st.mu.Lock()
	st.devName = st.dev.Name()
	st.mu.Unlock()

	tcpCfg := cfg.tcpConfig()
	ipcfg := ip.Config{MAC: mac, Addr: cfg.Addr.Addr().As4(), PrefixLen: cfg.Addr.Bits()}
	var fwd *reactor.Forwarder
	if cfg.Shards > 1 {
		var err error
		if fwd, err = reactor.NewForwarder(cfg.Shards, 32768, 60999, 256, buf.DefaultFrameSize); err != nil {
			st.closeDevice()
			return err
		}
	}
	ready := make(chan error, cfg.Shards)
	g, err := shard.Start(shard.Config{Shards: cfg.Shards, CPUs: cfg.CPUs}, func(s *shard.Shard) error {
		return st.shards[s.ID].run(s, ipcfg, tcpCfg, fwd, setups, ready)
	})
	if err != nil {
		st.closeDevice()
		return fmt.Errorf("shardnet: starting shards: %w", err)
	}
	st.mu.Lock()
	st.group = g
	st.mu.Unlock()
	var errs []error
	for range cfg.Shards {
		if err := <-ready; err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		st.teardown()
		return fmt.Errorf("shardnet: start: %w", errors.Join(errs...))
	}
	st.log.Info("shards started", zap.String("driver", string(cfg.Driver)), zap.Int("shards", cfg.Shards),
		zap.Stringer("addr", cfg.Addr), zap.String("mac", fmt.Sprintf("%02x", mac[:])),
		zap.Duration("took", time.Since(st.started)))
	return nil
}

// startKernel runs the shards on Linux's TCP (kstack).
func (st *Stack) startKernel(setups []func(*shardState) error) error {
	cfg := &st.cfg
	kcfg := kstack.Config{
		Addr: netip.AddrPortFrom(cfg.Addr.Addr(), 0), Shards: cfg.Shards, CPUs: cfg.CPUs,
		SendBuf: cfg.SendBuf, RecvBuf: cfg.RecvBuf, MaxConns: cfg.MaxConns, NoDelay: cfg.NoDelay,
	}
	g, err := kstack.Start(kcfg, func(s *shard.Shard, h *kstack.Host) error {
		ss := st.shards[s.ID]
		ss.sh, ss.kh, ss.host = s, h, h
		return ss.setup(setups)
	})
	if err != nil {
		return fmt.Errorf("shardnet: driver %s: %w", cfg.Driver, err)
	}
	st.mu.Lock()
	st.kgroup = g
	st.mu.Unlock()
	st.log.Info("kernel-stack shards started", zap.Int("shards", cfg.Shards), zap.Stringer("addr", cfg.Addr.Addr()),
		zap.Duration("took", time.Since(st.started)))
	return nil
}

// watch logs a shard failure that stops the group while it runs.
func (st *Stack) watch() {
	<-st.Done()
	st.mu.Lock()
	stopping := st.state >= stStopping
	st.mu.Unlock()
	if err := st.groupErr(); err != nil && !stopping {
		st.log.Error("shard failed: the stack has stopped; call Stop to release it", zap.Error(err))
	}
}

// Do runs fn on every shard's thread, with the shard and its stream.Host
// (a *reactor.Loop for shardnet's drivers, a *kstack.Host for the
// kernel's). Before Start it records fn, which then runs on each shard as
// it starts (after the services registered before it), and an error from
// it fails Start. Once the stack runs, Do posts fn to every shard's inbox
// and waits until each has run it, or until ctx ends (funcs already
// posted still run later); it returns the shards' errors joined. fn must
// not block: it runs between packets.
func (st *Stack) Do(ctx context.Context, fn func(s *shard.Shard, h stream.Host) error) error {
	if fn == nil {
		return nil
	}
	f := func(ss *shardState) error { return fn(ss.sh, ss.host) }
	st.mu.Lock()
	switch st.state {
	case stConfigured:
		st.setups = append(st.setups, f)
		st.mu.Unlock()
		return nil
	case stRunning:
		st.mu.Unlock()
		return st.onEach(ctx, f)
	}
	st.mu.Unlock()
	return ErrNotRunning
}

// onEach runs f on every shard's thread and waits for all, or for ctx.
func (st *Stack) onEach(ctx context.Context, f func(ss *shardState) error) error {
	type result struct {
		id  int
		err error
	}
	res := make(chan result, len(st.shards))
	for _, ss := range st.shards {
		if err := post(ctx, ss.sh, func() { res <- result{ss.id, f(ss)} }); err != nil {
			return fmt.Errorf("shard %d: %w", ss.id, err)
		}
	}
	var errs []error
	done := st.Done()
	for got := 0; got < len(st.shards); got++ {
		var r result
		select {
		case r = <-res:
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			// The shards have stopped: a func posted just before may
			// never run. Take what has arrived.
			select {
			case r = <-res:
			default:
				return fmt.Errorf("%w: the shards stopped", ErrNotRunning)
			}
		}
		if r.err != nil {
			errs = append(errs, fmt.Errorf("shard %d: %w", r.id, r.err))
		}
	}
	return errors.Join(errs...)
}

// post puts fn in s's inbox, retrying while it is full until ctx ends.
func post(ctx context.Context, s *shard.Shard, fn func()) error {
	for {
		err := s.Inbox().Post(fn)
		if !errors.Is(err, shard.ErrInboxFull) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (inbox full)", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// Samples copies every shard's counters on its own thread (a func posted
// to each inbox; no lock or atomic on the data path) and returns them,
// indexed by shard. It waits until ctx ends at most. After Stop it
// returns the counters each shard had when it stopped.
func (st *Stack) Samples(ctx context.Context) ([]Sample, error) {
	st.mu.Lock()
	state := st.state
	st.mu.Unlock()
	switch state {
	case stRunning, stStopping:
		return st.gather(ctx)
	case stStopped:
		<-st.stopped
		if st.final == nil {
			return nil, ErrNotRunning
		}
		return append([]Sample(nil), st.final...), nil
	}
	return nil, ErrNotRunning
}

// gather is Samples while the shards run (and the admin listener's
// gather function).
func (st *Stack) gather(ctx context.Context) ([]Sample, error) {
	out := make([]Sample, len(st.shards))
	if err := st.onEach(ctx, func(ss *shardState) error { ss.sample(&out[ss.id]); return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// teardown stops the shards and closes the device after a failed Start.
func (st *Stack) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	switch {
	case st.group != nil:
		st.group.Stop(ctx)
	case st.kgroup != nil:
		st.kgroup.Stop(ctx)
	}
	st.closeDevice()
}

// closeDevice closes the TAP device (removing it) or detaches the XDP
// program.
func (st *Stack) closeDevice() error {
	if st.dev == nil {
		return nil
	}
	err := st.dev.Close()
	switch {
	case err != nil:
		st.log.Error("closing the device", zap.String("iface", st.dev.Name()), zap.Error(err))
	case st.cfg.Driver == DriverAFXDP:
		st.log.Info("XDP program detached", zap.String("iface", st.dev.Name()))
	default:
		st.log.Info("TAP device removed", zap.String("iface", st.dev.Name()))
	}
	st.dev = nil
	return err
}
