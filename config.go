package shardnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netns"
	"go.uber.org/zap"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/tcp"
)

// Driver names the stack and NIC driver the shards run on.
type Driver string

const (
	// DriverTAP runs shardnet's stack over a multiqueue TAP device that
	// the Stack creates (and removes on Stop): works on any Linux with
	// /dev/net/tun, for development and tests.
	DriverTAP Driver = "tap"
	// DriverAFXDP runs shardnet's stack over AF_XDP sockets on a real
	// NIC (Config.Iface): an XDP program steers the frames for
	// Config.Addr to the shards and leaves the rest to the kernel; Stop
	// detaches it.
	DriverAFXDP Driver = "afxdp"
	// DriverKernel runs the same applications on Linux's own TCP stack:
	// one pinned epoll loop per shard with SO_REUSEPORT listeners. For
	// comparison, and where no NIC can be given to the stack.
	DriverKernel Driver = "kernel"
)

// Defaults for the zero values of Config.
var (
	defaultIface    = "shn0"
	defaultAddr     = netip.MustParsePrefix("198.18.0.2/24") // tap
	defaultHostAddr = netip.MustParsePrefix("198.18.0.1/24") // tap, with defaultAddr
	defaultKernAddr = netip.MustParsePrefix("127.0.0.1/32")  // kernel
)

// ErrConfig is wrapped by every error that reports a Config (or Option)
// that cannot work; the message names the field and what to change.
var ErrConfig = errors.New("shardnet: invalid configuration")

// Config says how to run a Stack. Every field has a useful zero value;
// New validates the whole of it and reports every problem at once.
type Config struct {
	// Driver is the stack and NIC driver; zero means DriverTAP.
	Driver Driver

	// Iface is, for DriverTAP, the TAP device to create (default
	// "shn0"; at most 15 bytes) and, for DriverAFXDP, the NIC to attach
	// to (required). DriverKernel ignores it.
	Iface string

	// Addr is the stack's IPv4 address and prefix, e.g. 198.18.0.2/24.
	// Zero means 198.18.0.2/24 for DriverTAP and 127.0.0.1 for
	// DriverKernel (which listens on Addr's address; the prefix does not
	// matter); DriverAFXDP requires it.
	Addr netip.Prefix

	// HostAddr is, for DriverTAP only, the address/prefix given to the
	// kernel's side of the TAP device: another address in Addr's subnet.
	// Zero means the subnet's first host address (.1), or its second if
	// Addr is the first.
	HostAddr netip.Prefix

	// Shards is the number of shards: pinned threads, one NIC queue each.
	// Zero means one per CPU in CPUs. There must be no more than CPUs.
	Shards int
	// CPUs are the CPUs to pin to, shard i on CPUs[i]; nil means the
	// CPUs this process may run on, in order.
	CPUs []int

	// NoVnetHdr turns off virtio-net headers on the TAP device (they give
	// checksum offload; DriverTAP only).
	NoVnetHdr bool
	// NetNS, if open (> 0), is the network namespace the TAP device is
	// created in (DriverTAP) or the NIC lives in (DriverAFXDP); zero means
	// the process's own. The shards run in the process as usual: only the
	// device is elsewhere. The Stack does not close the handle.
	// DriverKernel does not support it.
	NetNS netns.NsHandle
	// XDPZeroCopy asks for zero-copy AF_XDP sockets where the NIC can
	// (DriverAFXDP only; copy mode otherwise).
	XDPZeroCopy bool

	// Frames is the number of 2 KiB packet buffers each shard maps
	// (default buf.DefaultFrames, 16 MiB). Not for DriverKernel.
	Frames int

	// MaxConns bounds each shard's connections, every state included
	// (default 1024 for shardnet's TCP, 16384 for DriverKernel).
	MaxConns int
	// SendBuf and RecvBuf are each connection's buffers, bytes (default
	// 256 KiB); RecvBuf is the largest receive window.
	SendBuf, RecvBuf int

	// Congestion is the congestion control of shardnet's TCP: "cubic"
	// (the default) or "newreno".
	Congestion string
	// Keepalive is the idle time before keepalive probes are sent;
	// zero turns keepalive off.
	Keepalive time.Duration
	// TimeWait is how long a closed connection stays in TIME-WAIT
	// (default 60 s). Stop does not wait for TIME-WAIT connections: they
	// are dropped silently when the shards stop.
	TimeWait time.Duration
	// NoDelay turns Nagle's algorithm off on every new connection.
	NoDelay bool
	// TCP, if not nil, adjusts shardnet's tcp.Config after the fields
	// above have been applied: for the options not named here (MSS,
	// RTO bounds, SYN backlog, cookies …). Its Addr, MSS ceiling, port
	// range and checksum offload are set by the stack afterwards.
	TCP func(*tcp.Config)

	// Logger receives control-plane events: start, driver attach and
	// detach, drain, limits hit, failures (never one per packet). Nil
	// means a console logger on standard error at the level named by the
	// SHARDNET_LOG environment variable: debug, info (the default), warn,
	// error, or off.
	Logger *zap.Logger

	// Admin, if not empty, is the address of the admin listener, e.g.
	// "127.0.0.1:9090" (port 0 picks one; see Stack.AdminAddr): it serves
	// Prometheus metrics on /metrics and pprof on /debug/pprof/, with
	// Go's net/http on the kernel's network stack.
	Admin string
}

// An Option changes a Config before New validates it. An Option that is
// given a value that cannot work returns an error saying so.
type Option func(*Config) error

// WithDriver sets Config.Driver.
func WithDriver(d Driver) Option {
	return func(c *Config) error { c.Driver = d; return nil }
}

// WithIface sets Config.Iface.
func WithIface(name string) Option {
	return func(c *Config) error { c.Iface = name; return nil }
}

// WithAddr sets Config.Addr from text such as "198.18.0.2/24" (or, for
// DriverKernel, a bare address such as "127.0.0.1").
func WithAddr(addr string) Option {
	return func(c *Config) error {
		p, err := parsePrefix(addr)
		if err != nil {
			return fmt.Errorf("%w: WithAddr(%q): want an IPv4 address/prefix such as 198.18.0.2/24", ErrConfig, addr)
		}
		c.Addr = p
		return nil
	}
}

// WithHostAddr sets Config.HostAddr from text such as "198.18.0.1/24".
func WithHostAddr(addr string) Option {
	return func(c *Config) error {
		p, err := netip.ParsePrefix(addr)
		if err != nil {
			return fmt.Errorf("%w: WithHostAddr(%q): want an IPv4 address/prefix such as 198.18.0.1/24", ErrConfig, addr)
		}
		c.HostAddr = p
		return nil
	}
}

// WithShards sets Config.Shards; n must be at least 1 (leave
// Config.Shards zero for one shard per CPU).
func WithShards(n int) Option {
	return func(c *Config) error {
		if n < 1 {
			return fmt.Errorf("%w: WithShards(%d): want at least 1 shard (or leave Config.Shards 0 for one per CPU)", ErrConfig, n)
		}
		c.Shards = n
		return nil
	}
}

// WithCPUs sets Config.CPUs from a list such as "0-3,6".
func WithCPUs(list string) Option {
	return func(c *Config) error {
		cpus, err := shard.ParseCPUList(list)
		if err != nil {
			return fmt.Errorf("%w: WithCPUs(%q): %v", ErrConfig, list, err)
		}
		c.CPUs = cpus
		return nil
	}
}

// WithFrames sets Config.Frames.
func WithFrames(n int) Option {
	return func(c *Config) error { c.Frames = n; return nil }
}

// WithLimits sets the per-shard connection limit and the per-connection
// buffer sizes (zero keeps a default).
func WithLimits(maxConns, sendBuf, recvBuf int) Option {
	return func(c *Config) error {
		c.MaxConns, c.SendBuf, c.RecvBuf = maxConns, sendBuf, recvBuf
		return nil
	}
}

// WithTCP adds fn to the adjustments of shardnet's tcp.Config (see
// Config.TCP); several are applied in order.
func WithTCP(fn func(*tcp.Config)) Option {
	return func(c *Config) error {
		if prev := c.TCP; prev != nil && fn != nil {
			c.TCP = func(t *tcp.Config) { prev(t); fn(t) }
		} else if fn != nil {
			c.TCP = fn
		}
		return nil
	}
}

// WithLogger sets Config.Logger.
func WithLogger(l *zap.Logger) Option {
	return func(c *Config) error { c.Logger = l; return nil }
}

// WithAdmin sets Config.Admin.
func WithAdmin(addr string) Option {
	return func(c *Config) error { c.Admin = addr; return nil }
}

// parsePrefix reads an address/prefix, or a bare IPv4 address as a /32.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, fmt.Errorf("not an IPv4 address")
	}
	return netip.PrefixFrom(a, 32), nil
}

// withDefaults checks cfg and fills in its zero fields; allowed lists the
// CPUs the process may run on. Every problem found is reported, each
// wrapping ErrConfig.
func (cfg Config) withDefaults(allowed []int) (Config, error) {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	if cfg.Driver == "" {
		cfg.Driver = DriverTAP
	}
	switch cfg.Driver {
	case DriverTAP:
		if cfg.Iface == "" {
			cfg.Iface = defaultIface
		}
		if len(cfg.Iface) > 15 || !validIfname(cfg.Iface) {
			bad("Iface %q: a TAP device name is 1 to 15 bytes of letters, digits, '-', '_' or '.'", cfg.Iface)
		}
		if !cfg.Addr.IsValid() {
			cfg.Addr = defaultAddr
			if !cfg.HostAddr.IsValid() {
				cfg.HostAddr = defaultHostAddr
			}
		}
	case DriverAFXDP:
		if cfg.Iface == "" {
			bad("Iface is required with Driver %q: name the NIC to attach the XDP program to, e.g. eth1", cfg.Driver)
		}
		if !cfg.Addr.IsValid() {
			bad("Addr is required with Driver %q: the stack's own address on that NIC's network, e.g. 10.0.0.5/24", cfg.Driver)
		}
	case DriverKernel:
		if !cfg.Addr.IsValid() {
			cfg.Addr = defaultKernAddr
		}
	default:
		bad("Driver %q: want %q, %q or %q", cfg.Driver, DriverTAP, DriverAFXDP, DriverKernel)
	}
	if cfg.Addr.IsValid() {
		a := cfg.Addr.Addr()
		switch {
		case !a.Is4():
			bad("Addr %s: want an IPv4 address/prefix such as 198.18.0.2/24", cfg.Addr)
		case cfg.Driver == DriverKernel:
			if a.IsMulticast() {
				bad("Addr %s: a multicast address cannot be listened on", a)
			}
			cfg.Addr = netip.PrefixFrom(a, 32)
		case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			bad("Addr %s: the stack needs a unicast address of its own (not 0.0.0.0, loopback, multicast or broadcast)", a)
		case cfg.Addr.Bits() < 1 || cfg.Addr.Bits() > 30:
			bad("Addr %s: want a prefix length from /1 to /30, so that the subnet has other hosts", cfg.Addr)
		case a == cfg.Addr.Masked().Addr() || a == lastAddr(cfg.Addr):
			bad("Addr %s is the subnet's network or broadcast address: choose a host address such as %s", cfg.Addr, nthAddr(cfg.Addr, 2))
		}
	}
	if cfg.NetNS > 0 && cfg.Driver == DriverKernel {
		bad("NetNS is not supported with Driver %q: run the process in that namespace instead", cfg.Driver)
	}
	if cfg.HostAddr.IsValid() && cfg.Driver != DriverTAP {
		bad("HostAddr %s is for Driver %q only: leave it zero", cfg.HostAddr, DriverTAP)
	}
	if cfg.Driver == DriverTAP && cfg.Addr.IsValid() && cfg.Addr.Addr().Is4() && cfg.Addr.Bits() >= 1 && cfg.Addr.Bits() <= 30 {
		if !cfg.HostAddr.IsValid() {
			cfg.HostAddr = netip.PrefixFrom(nthAddr(cfg.Addr, 1), cfg.Addr.Bits())
			if cfg.HostAddr.Addr() == cfg.Addr.Addr() {
				cfg.HostAddr = netip.PrefixFrom(nthAddr(cfg.Addr, 2), cfg.Addr.Bits())
			}
		}
		h := cfg.HostAddr.Addr()
		switch {
		case !h.Is4():
			bad("HostAddr %s: want an IPv4 address/prefix such as 198.18.0.1/24", cfg.HostAddr)
		case !cfg.Addr.Masked().Contains(h) || h == cfg.Addr.Masked().Addr() || h == lastAddr(cfg.Addr):
			bad("HostAddr %s is outside the stack's subnet %s: choose another host address in it, e.g. %s",
				cfg.HostAddr, cfg.Addr.Masked(), nthAddr(cfg.Addr, 1))
		case h == cfg.Addr.Addr():
			bad("HostAddr %s is the stack's own Addr: choose another address in %s", h, cfg.Addr.Masked())
		}
	}

	cpus := cfg.CPUs
	if cpus == nil {
		cpus = allowed
	}
	for _, c := range cfg.CPUs {
		if allowed != nil && !slices.Contains(allowed, c) {
			bad("CPUs: CPU %d is not one this process may run on (allowed: %v)", c, allowed)
			break
		}
	}
	switch {
	case cfg.Shards < 0:
		bad("Shards %d: want at least 1, or 0 for one per CPU", cfg.Shards)
	case cfg.Shards > len(cpus):
		bad("Shards %d: only %d CPUs are available (%v); lower Shards or list more CPUs", cfg.Shards, len(cpus), cpus)
	case cfg.Shards == 0:
		cfg.Shards = len(cpus)
		if cfg.Shards == 0 {
			bad("Shards: no CPUs to run shards on")
		}
	}

	switch {
	case cfg.Frames == 0:
		cfg.Frames = buf.DefaultFrames
	case cfg.Frames < 256 || cfg.Frames > 1<<24:
		bad("Frames %d: want 256 to %d packet buffers per shard (0 for %d)", cfg.Frames, 1<<24, buf.DefaultFrames)
	}
	if cfg.MaxConns < 0 || cfg.MaxConns > 1<<24 {
		bad("MaxConns %d: want 1 to %d connections per shard (0 for the default)", cfg.MaxConns, 1<<24)
	}
	if cfg.SendBuf < 0 || cfg.RecvBuf < 0 || cfg.SendBuf > 1<<30 || cfg.RecvBuf > 1<<30 {
		bad("SendBuf %d, RecvBuf %d: want 0 (256 KiB) or a positive size up to 1 GiB", cfg.SendBuf, cfg.RecvBuf)
	}
	switch cfg.Congestion {
	case "", "cubic", "newreno":
	default:
		bad("Congestion %q: want \"cubic\" or \"newreno\"", cfg.Congestion)
	}
	if cfg.Keepalive < 0 || cfg.TimeWait < 0 {
		bad("Keepalive %v, TimeWait %v: durations cannot be negative (0 means off / the default)", cfg.Keepalive, cfg.TimeWait)
	}
	if cfg.Admin != "" {
		if _, port, err := net.SplitHostPort(cfg.Admin); err != nil || port == "" {
			bad("Admin %q: want host:port, e.g. 127.0.0.1:9090 (port 0 picks a free one)", cfg.Admin)
		}
	}
	return cfg, errors.Join(errs...)
}

// tcpConfig is shardnet's tcp.Config for cfg.
func (cfg *Config) tcpConfig() *tcp.Config {
	t := &tcp.Config{
		MaxConns:   cfg.MaxConns,
		SendBuf:    cfg.SendBuf,
		RecvBuf:    cfg.RecvBuf,
		Congestion: cfg.Congestion,
		Keepalive:  int64(cfg.Keepalive),
		TimeWait:   int64(cfg.TimeWait),
		NoDelay:    cfg.NoDelay,
	}
	if cfg.TCP != nil {
		cfg.TCP(t)
	}
	return t
}

func validIfname(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// nthAddr is the n-th address of p's subnet (0: the network address).
func nthAddr(p netip.Prefix, n uint32) netip.Addr {
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// lastAddr is the broadcast address of p's subnet.
func lastAddr(p netip.Prefix) netip.Addr {
	return nthAddr(p, uint32(1)<<(32-p.Bits())-1)
}
