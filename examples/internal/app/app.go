// Package app is the start-up shared by the example programs: driver flags,
// the TAP device, one pinned shard per queue, signal handling and the
// per-shard report on exit.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/kstack"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/nic/afxdp"
	"github.com/shardnet/shardnet/nic/tap"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
	"github.com/shardnet/shardnet/tcp"
)

// Flags are the driver and address flags every example takes.
type Flags struct {
	Driver   string
	Iface    string
	Addr     string
	HostAddr string
	Shards   int
	CPUs     string
	VnetHdr  bool
	Frames   int
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Driver, "driver", "tap", "stack and driver: tap (shardnet over a TAP device it creates), afxdp (shardnet over AF_XDP on -iface), kernel (the same application on Linux's TCP stack)")
	fs.StringVar(&f.Iface, "iface", "shn0", "interface: the TAP device to create (tap) or the NIC to attach to (afxdp)")
	fs.StringVar(&f.Addr, "addr", "198.18.0.2/24", "the stack's IPv4 address/prefix (kernel: the address to listen on; a /prefix is ignored)")
	fs.StringVar(&f.HostAddr, "host-addr", "198.18.0.1/24", "address/prefix given to the host side of the TAP device")
	fs.IntVar(&f.Shards, "shards", 1, "number of shards (pinned threads, one NIC queue each)")
	fs.StringVar(&f.CPUs, "cpus", "", "CPUs for the shards, e.g. 0-1 (default: the process's allowed CPUs in order)")
	fs.BoolVar(&f.VnetHdr, "vnet-hdr", true, "TAP: use virtio-net headers (checksum offload)")
	fs.IntVar(&f.Frames, "frames", buf.DefaultFrames, "packet buffers per shard")
}

// device is what the shardnet drivers have in common.
type device interface {
	Queue(i int, slab *buf.Slab) (nic.Queue, error)
	Name() string
	Close() error
}

// Options say what the shards run.
type Options struct {
	// TCP, if not nil, runs shardnet TCP on each shard (ignored by the
	// kernel driver, which always has TCP).
	TCP *tcp.Config
	// Serve, if not nil, runs on each shard's thread once its stack is
	// up: the place to listen.
	Serve func(s *shard.Shard, h stream.Host) error
}

// Stack is a running set of shards.
type Stack struct {
	Log    *zap.Logger
	driver string
	dev    device
	kgroup *kstack.Group
	group  *shard.Group
	addr   netip.Prefix
	host   netip.Prefix
	report []shardReport
}

type shardReport struct {
	cpu   int
	queue nic.Stats
	loop  reactor.Stats
	ip    ip.Stats
	tcp   tcp.Stats
	slab  buf.Stats
	leak  int
}

// Start validates the flags, brings up the stack and starts the shards.
func Start(f *Flags, log *zap.Logger, opt Options) (*Stack, error) {
	addr, err := parseAddr(f)
	if err != nil {
		return nil, err
	}
	if f.Shards < 1 {
		return nil, fmt.Errorf("-shards %d: want at least 1", f.Shards)
	}
	var cpus []int
	if f.CPUs != "" {
		if cpus, err = shard.ParseCPUList(f.CPUs); err != nil {
			return nil, fmt.Errorf("-cpus: %w", err)
		}
	}
	st := &Stack{Log: log, driver: f.Driver, addr: addr, report: make([]shardReport, f.Shards)}
	var mac [6]byte
	switch f.Driver {
	case "kernel":
		return st, st.startKernel(f, cpus, opt)
	case "tap":
		host, err := netip.ParsePrefix(f.HostAddr)
		if err != nil || !host.Addr().Is4() {
			return nil, fmt.Errorf("-host-addr %q: want an IPv4 address/prefix such as 198.18.0.1/24", f.HostAddr)
		}
		if !addr.Masked().Contains(host.Addr()) || addr.Addr() == host.Addr() {
			return nil, fmt.Errorf("-host-addr %s must be another address in the stack's subnet %s", host, addr.Masked())
		}
		st.host = host
		if mac, err = randomMAC(); err != nil {
			return nil, err
		}
		dev, err := tap.Open(tap.Config{Name: f.Iface, Queues: f.Shards, VnetHdr: f.VnetHdr, HostAddr: host})
		if err != nil {
			return nil, err
		}
		st.dev = dev
		log.Info("tap device up", zap.String("iface", dev.Name()), zap.Int("queues", f.Shards),
			zap.Stringer("host_addr", host), zap.Bool("vnet_hdr", f.VnetHdr))
	case "afxdp":
		dev, err := afxdp.Open(afxdp.Config{Iface: f.Iface, Queues: f.Shards, Addr: addr.Addr().As4()})
		if err != nil {
			return nil, err
		}
		st.dev, mac = dev, dev.HWAddr()
		log.Info("XDP program attached", zap.String("iface", dev.Name()), zap.Int("queues", f.Shards),
			zap.Stringer("mode", dev.Mode()), zap.Uint32("prog_id", dev.ProgramID()))
	default:
		return nil, fmt.Errorf("-driver %q: want tap, afxdp or kernel", f.Driver)
	}
	tcpCfg := opt.TCP
	dev := st.dev
	ipcfg := ip.Config{MAC: mac, Addr: addr.Addr().As4(), PrefixLen: addr.Bits()}
	var fwd *reactor.Forwarder
	if tcpCfg != nil && f.Shards > 1 {
		if fwd, err = reactor.NewForwarder(f.Shards, 32768, 60999, 256, buf.DefaultFrameSize); err != nil {
			dev.Close()
			return nil, err
		}
	}
	st.group, err = shard.Start(shard.Config{Shards: f.Shards, CPUs: cpus}, func(s *shard.Shard) error {
		return st.runShard(s, f.Frames, ipcfg, tcpCfg, fwd, opt.Serve)
	})
	if err != nil {
		dev.Close()
		return nil, err
	}
	log.Info("shards started", zap.Int("shards", f.Shards), zap.Stringer("addr", addr),
		zap.String("mac", fmt.Sprintf("%02x", mac[:])))
	return st, nil
}

func (st *Stack) runShard(s *shard.Shard, frames int, ipcfg ip.Config, tcpCfg *tcp.Config, fwd *reactor.Forwarder, setup func(*shard.Shard, stream.Host) error) error {
	// The slab is mapped (and its pages touched) on the shard's own pinned
	// thread, so its memory is local to that CPU.
	slab, err := buf.NewSlab(frames, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		return err
	}
	q, err := st.dev.Queue(s.ID, slab)
	if err != nil {
		slab.Close()
		return err
	}
	l, err := reactor.New(reactor.Config{Queue: q, Slab: slab, IP: ipcfg, TCP: tcpCfg, Shard: s, Forwarder: fwd})
	if err == nil && setup != nil {
		err = setup(s, l)
	}
	if err == nil {
		err = l.Run()
	}
	r := &st.report[s.ID]
	r.cpu = s.CPU
	if l != nil {
		r.loop, r.ip = l.Stats(), l.IP().Stats()
		if l.TCP() != nil {
			r.tcp = l.TCP().Stats()
		}
	}
	r.queue = q.Stats()
	q.Close()
	r.slab, r.leak = slab.Stats(), slab.InUse()
	if cerr := slab.Close(); err == nil && r.leak == 0 {
		err = cerr
	}
	return err
}

// startKernel runs the application on Linux's TCP: one pinned epoll
// loop per shard, each with its own SO_REUSEPORT listener.
func (st *Stack) startKernel(f *Flags, cpus []int, opt Options) error {
	cfg := kstack.Config{Addr: netip.AddrPortFrom(st.addr.Addr(), 0), Shards: f.Shards, CPUs: cpus}
	if opt.TCP != nil {
		cfg.NoDelay = opt.TCP.NoDelay
	}
	g, err := kstack.Start(cfg, func(s *shard.Shard, h *kstack.Host) error {
		if opt.Serve == nil {
			return nil
		}
		return opt.Serve(s, h)
	})
	if err != nil {
		return err
	}
	st.kgroup, st.group = g, nil
	st.Log.Info("kernel-stack shards started", zap.Int("shards", f.Shards), zap.Stringer("addr", st.addr.Addr()))
	return nil
}

// parseAddr reads -addr; the kernel driver ignores a /prefix.
func parseAddr(f *Flags) (netip.Prefix, error) {
	if f.Driver == "kernel" && !strings.Contains(f.Addr, "/") {
		a, err := netip.ParseAddr(f.Addr)
		if err != nil || !a.Is4() {
			return netip.Prefix{}, fmt.Errorf("-addr %q: want an IPv4 address such as 127.0.0.1", f.Addr)
		}
		return netip.PrefixFrom(a, 32), nil
	}
	addr, err := netip.ParsePrefix(f.Addr)
	if err != nil || !addr.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("-addr %q: want an IPv4 address/prefix such as 198.18.0.2/24", f.Addr)
	}
	return addr, nil
}

// Banner says how to reach the stack; try is the command to suggest.
func (st *Stack) Banner(w io.Writer, what, try string) {
	switch st.driver {
	case "tap":
		fmt.Fprintf(w, "shardnet: %s on %s over TAP device %s (host side %s)\n", what, st.addr.Addr(), st.dev.Name(), st.host)
	case "afxdp":
		fmt.Fprintf(w, "shardnet: %s on %s over AF_XDP on %s\n", what, st.addr.Addr(), st.dev.Name())
	default:
		fmt.Fprintf(w, "shardnet: %s on %s on the kernel's TCP stack\n", what, st.addr.Addr())
	}
	fmt.Fprintf(w, "shardnet: try: %s    (Ctrl-C to stop)\n", try)
}

// Addr is the stack's address.
func (st *Stack) Addr() netip.Addr { return st.addr.Addr() }

// WaitSignal blocks until SIGINT or SIGTERM, or until a shard fails.
func (st *Stack) WaitSignal() error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	failed := make(chan error, 1)
	go func() {
		if st.kgroup != nil {
			failed <- st.kgroup.Wait()
		} else {
			failed <- st.group.Wait()
		}
	}()
	select {
	case s := <-sig:
		st.Log.Info("stopping", zap.Stringer("signal", s))
		return nil
	case err := <-failed:
		return err
	}
}

// Stop stops the shards, closes the device and writes one line per shard.
func (st *Stack) Stop(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st.kgroup != nil {
		err := st.kgroup.Stop(ctx)
		if werr := st.kgroup.Wait(); err == nil {
			err = werr
		}
		for i, r := range st.kgroup.Stats() {
			fmt.Fprintf(w, "shard %d kernel: accepted %d refused %d closed %d resets %d, bytes in/out %d/%d, reads %d writes %d epoll_waits %d\n",
				i, r.Accepted, r.Refused, r.Closed, r.Resets, r.BytesIn, r.BytesOut, r.Reads, r.Writes, r.EpollWaits)
		}
		return err
	}
	err := st.group.Stop(ctx)
	if werr := st.group.Wait(); err == nil {
		err = werr
	}
	if cerr := st.dev.Close(); err == nil {
		err = cerr
	}
	for i, r := range st.report {
		fmt.Fprintf(w, "shard %d cpu %d: rx %d frames %d bytes, tx %d frames %d bytes, arp req in/out %d/%d reply in/out %d/%d, echo %d, ipv4 in/out %d/%d, drops %d%s, slab allocfail %d in-use %d\n",
			i, r.cpu, r.queue.RxPackets, r.queue.RxBytes, r.queue.TxPackets, r.queue.TxBytes,
			r.ip.ARPRequestIn, r.ip.ARPRequestOut, r.ip.ARPReplyIn, r.ip.ARPReplyOut, r.ip.EchoIn,
			r.ip.IPv4In, r.ip.IPv4Out, r.ip.TotalDrops()+r.loop.TxDropped, dropDetail(&r.ip), r.slab.AllocFail, r.leak)
		if r.tcp != (tcp.Stats{}) {
			fmt.Fprintf(w, "shard %d tcp: %s; forwarded out/in %d/%d, forward drops %d\n", i, tcpSummary(&r.tcp),
				r.loop.Forwarded, r.loop.ForwardIn, r.loop.FwdDrops)
		}
		if r.leak != 0 && err == nil {
			err = fmt.Errorf("shard %d: %d packet buffers leaked", i, r.leak)
		}
	}
	return err
}

func dropDetail(s *ip.Stats) string {
	var b strings.Builder
	for r := 0; r < ip.NumDropReasons; r++ {
		if n := s.Drops[r]; n > 0 {
			if b.Len() == 0 {
				b.WriteString(" (")
			} else {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s=%d", ip.DropReason(r), n)
		}
	}
	if b.Len() > 0 {
		b.WriteString(")")
	}
	return b.String()
}

// randomMAC makes a locally administered unicast address.
func randomMAC() ([6]byte, error) {
	var m [6]byte
	if _, err := rand.Read(m[:]); err != nil {
		return m, err
	}
	m[0] = m[0]&^0x01 | 0x02
	return m, nil
}

// NeedRoot explains a permission failure.
func NeedRoot(err error) bool {
	return errors.Is(err, tap.ErrPermission)
}

func tcpSummary(s *tcp.Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "segs in/out %d/%d, opens passive/active %d/%d, established %d, retransmits %d (fast %d, rto %d), resets in/out %d/%d, syncookies %d, dropped %d",
		s.SegsIn, s.SegsOut, s.PassiveOpens, s.ActiveOpens, s.Established, s.Retransmits, s.FastRetransmits, s.RTOs,
		s.ResetsRecv, s.ResetsSent, s.SynCookiesSent, s.Dropped())
	first := true
	for r := 0; r < tcp.NumDropReasons; r++ {
		if n := s.Drops[r]; n > 0 {
			if first {
				b.WriteString(" (")
				first = false
			} else {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s=%d", tcp.DropReason(r), n)
		}
	}
	if !first {
		b.WriteString(")")
	}
	return b.String()
}

// NewLogger builds the examples' console logger at level.
func NewLogger(level zapcore.Level) (*zap.Logger, error) {
	zcfg := zap.NewProductionConfig()
	zcfg.Level = zap.NewAtomicLevelAt(level)
	zcfg.Encoding = "console"
	zcfg.EncoderConfig.TimeKey = ""
	return zcfg.Build()
}
