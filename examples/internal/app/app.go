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
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/nic/tap"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
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
	fs.StringVar(&f.Driver, "driver", "tap", "NIC driver: tap")
	fs.StringVar(&f.Iface, "iface", "shn0", "interface: the TAP device to create")
	fs.StringVar(&f.Addr, "addr", "198.18.0.2/24", "the stack's IPv4 address/prefix")
	fs.StringVar(&f.HostAddr, "host-addr", "198.18.0.1/24", "address/prefix given to the host side of the TAP device")
	fs.IntVar(&f.Shards, "shards", 1, "number of shards (pinned threads, one NIC queue each)")
	fs.StringVar(&f.CPUs, "cpus", "", "CPUs for the shards, e.g. 0-1 (default: the process's allowed CPUs in order)")
	fs.BoolVar(&f.VnetHdr, "vnet-hdr", true, "TAP: use virtio-net headers (checksum offload)")
	fs.IntVar(&f.Frames, "frames", buf.DefaultFrames, "packet buffers per shard")
}

// Stack is a running set of shards.
type Stack struct {
	Log    *zap.Logger
	dev    *tap.Device
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

// Start validates the flags, creates the device and starts the shards.
// With tcpCfg, each shard runs TCP. setup, if not nil, runs on each
// shard's thread once its loop exists (the place to listen).
func Start(f *Flags, log *zap.Logger, tcpCfg *tcp.Config, setup func(s *shard.Shard, l *reactor.Loop) error) (*Stack, error) {
	if f.Driver != "tap" {
		return nil, fmt.Errorf("-driver %q: this build supports only \"tap\"", f.Driver)
	}
	addr, err := netip.ParsePrefix(f.Addr)
	if err != nil || !addr.Addr().Is4() {
		return nil, fmt.Errorf("-addr %q: want an IPv4 address/prefix such as 198.18.0.2/24", f.Addr)
	}
	host, err := netip.ParsePrefix(f.HostAddr)
	if err != nil || !host.Addr().Is4() {
		return nil, fmt.Errorf("-host-addr %q: want an IPv4 address/prefix such as 198.18.0.1/24", f.HostAddr)
	}
	if !addr.Masked().Contains(host.Addr()) || addr.Addr() == host.Addr() {
		return nil, fmt.Errorf("-host-addr %s must be another address in the stack's subnet %s", host, addr.Masked())
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
	mac, err := randomMAC()
	if err != nil {
		return nil, err
	}
	dev, err := tap.Open(tap.Config{Name: f.Iface, Queues: f.Shards, VnetHdr: f.VnetHdr, HostAddr: host})
	if err != nil {
		return nil, err
	}
	log.Info("tap device up", zap.String("iface", dev.Name()), zap.Int("queues", f.Shards),
		zap.Stringer("host_addr", host), zap.Bool("vnet_hdr", f.VnetHdr))
	st := &Stack{Log: log, dev: dev, addr: addr, host: host, report: make([]shardReport, f.Shards)}
	ipcfg := ip.Config{MAC: mac, Addr: addr.Addr().As4(), PrefixLen: addr.Bits()}
	var fwd *reactor.Forwarder
	if tcpCfg != nil && f.Shards > 1 {
		if fwd, err = reactor.NewForwarder(f.Shards, 32768, 60999, 256, buf.DefaultFrameSize); err != nil {
			dev.Close()
			return nil, err
		}
	}
	st.group, err = shard.Start(shard.Config{Shards: f.Shards, CPUs: cpus}, func(s *shard.Shard) error {
		return st.runShard(s, f.Frames, ipcfg, tcpCfg, fwd, setup)
	})
	if err != nil {
		dev.Close()
		return nil, err
	}
	log.Info("shards started", zap.Int("shards", f.Shards), zap.Stringer("addr", addr),
		zap.String("mac", fmt.Sprintf("%02x", mac[:])))
	return st, nil
}

func (st *Stack) runShard(s *shard.Shard, frames int, ipcfg ip.Config, tcpCfg *tcp.Config, fwd *reactor.Forwarder, setup func(*shard.Shard, *reactor.Loop) error) error {
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

// Banner says how to reach the stack; try is the command to suggest.
func (st *Stack) Banner(w io.Writer, what, try string) {
	fmt.Fprintf(w, "shardnet: %s on %s over TAP device %s (host side %s)\n", what, st.addr.Addr(), st.dev.Name(), st.host)
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
	go func() { failed <- st.group.Wait() }()
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
