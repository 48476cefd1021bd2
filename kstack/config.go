package kstack

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Defaults for Config.
const (
	DefaultBufSize  = 256 << 10 // SendBuf and RecvBuf, like shardnet's tcp
	DefaultMaxConns = 16384
	DefaultBacklog  = 4096   // the kernel caps it at net.core.somaxconn
	DefaultSpinIdle = 50_000 // ns, as reactor's loop

	scratchSize = 64 << 10 // per-shard read buffer
	initialBuf  = 16 << 10 // first size of a growing connection buffer
	readBudget  = 256 << 10
	maxEvents   = 256
	wheelTick   = int64(time.Millisecond)
	wheelSlots  = 4096
)

// ErrConfig reports a configuration that cannot work.
var ErrConfig = errors.New("kstack: invalid configuration")

// Config configures a Group (Start) or a single Host (NewHost).
type Config struct {
	// Addr is the IPv4 address to listen on and the default port for
	// Listen(0, …), e.g. 127.0.0.1:8080 or 198.18.0.2:8080. Port 0 lets
	// Start pick one free port for every shard (Group.Addr).
	Addr netip.AddrPort
	// Shards is the number of shards; zero means one per CPU in CPUs.
	Shards int
	// CPUs are the CPUs to pin shards to (shard i on CPUs[i]); nil means
	// the process's allowed CPUs.
	CPUs []int
	// SendBuf and RecvBuf are each connection's user-space buffers, bytes
	// (DefaultBufSize). They grow on demand up to these sizes.
	SendBuf, RecvBuf int
	// MaxConns bounds each shard's connections (DefaultMaxConns).
	MaxConns int
	// Backlog is each listening socket's accept queue (DefaultBacklog).
	Backlog int
	// NoDelay sets TCP_NODELAY on every accepted connection.
	NoDelay bool
	// SpinIdle is how long the loop keeps polling with nothing to do
	// before it sleeps, ns (DefaultSpinIdle). Negative: never sleep.
	SpinIdle int64
	// Clock returns monotonic nanoseconds (default: Go's monotonic clock).
	Clock func() int64
}

// Stats count what one shard did. Fields are updated on the shard's
// thread; read them there (Host.Stats) or after the group has stopped
// (Group.Stats).
type Stats struct {
	Accepted     uint64 // connections accepted and served
	Refused      uint64 // accepted over MaxConns and closed at once
	AcceptErrors uint64 // accept4 or set-up failures (e.g. EMFILE)
	Closed       uint64 // connections ended (OnClose ran)
	Resets       uint64 // … of which by the peer's RST or a socket error
	Aborted      uint64 // … of which by Abort or shutdown
	Open         int    // connections live now
	BytesIn      uint64 // bytes read from sockets
	BytesOut     uint64 // bytes written to sockets
	Reads        uint64 // read(2) calls
	Writes       uint64 // write(2) and writev(2) calls
	EpollWaits   uint64 // epoll_wait(2) calls
	Iterations   uint64 // loop iterations (RunOnce)
	Sleeps       uint64 // blocking epoll_waits
	Timers       uint64 // timer callbacks fired
	Messages     uint64 // inbox funcs run
}

var epoch = time.Now()

// Monotonic is the default clock: nanoseconds since process start on Go's
// monotonic clock.
func Monotonic() int64 { return int64(time.Since(epoch)) }

// withDefaults validates cfg and fills in its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	if !cfg.Addr.IsValid() {
		return cfg, fmt.Errorf("%w: Addr is required (an IPv4 address and port)", ErrConfig)
	}
	if a := cfg.Addr.Addr().Unmap(); a.Is4() {
		cfg.Addr = netip.AddrPortFrom(a, cfg.Addr.Port())
	} else {
		return cfg, fmt.Errorf("%w: Addr %s is not IPv4", ErrConfig, cfg.Addr)
	}
	if cfg.SendBuf == 0 {
		cfg.SendBuf = DefaultBufSize
	}
	if cfg.RecvBuf == 0 {
		cfg.RecvBuf = DefaultBufSize
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Backlog == 0 {
		cfg.Backlog = DefaultBacklog
	}
	if cfg.SpinIdle == 0 {
		cfg.SpinIdle = DefaultSpinIdle
	}
	if cfg.Clock == nil {
		cfg.Clock = Monotonic
	}
	switch {
	case cfg.SendBuf < 2 || cfg.RecvBuf < 1:
		return cfg, fmt.Errorf("%w: SendBuf %d, RecvBuf %d: want at least 2 and 1 bytes", ErrConfig, cfg.SendBuf, cfg.RecvBuf)
	case cfg.MaxConns < 0 || cfg.MaxConns >= 1<<31:
		return cfg, fmt.Errorf("%w: MaxConns %d", ErrConfig, cfg.MaxConns)
	case cfg.Backlog < 0:
		return cfg, fmt.Errorf("%w: Backlog %d", ErrConfig, cfg.Backlog)
	case cfg.Shards < 0:
		return cfg, fmt.Errorf("%w: Shards %d", ErrConfig, cfg.Shards)
	}
	return cfg, nil
}
