//go:build linux

package interop

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/internal/xfer"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic/afxdp"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/tcp"
)

// TestInteropAFXDP is TestInteropTwoShards over AF_XDP: two pinned shards
// on a two-queue veth in driver mode (the peer's TX queue choice spreads
// flows over both RX queues). Kernel clients in the peer namespace open
// connections to the stack, each shard dials the kernel, every byte is
// verified, both shards must own connections and no frame may be lost to
// steering. While the program is attached, the host's own address on the
// same interface must keep answering; after Close no program is left.
//
// It runs twice. "fixed-hash": the peer keeps each socket's TX hash
// (net.core.txrehash=0), as a NIC's RSS would, so passive flows stay on
// the shard that got the SYN. "rehash-loss": Linux's default
// (txrehash=1) with 2 % of the frames each way dropped by nftables in the
// peer namespace: every RTO or spurious retransmission makes the kernel
// draw a new TX hash and move the flow to the other RX queue, and the
// shard that does not own it must pass its segments on (Stats.
// MissForwarded) instead of answering with a RST. The rings have the
// library's default size there.
func TestInteropAFXDP(t *testing.T) {
	for _, c := range []struct {
		name   string
		rehash bool
	}{{"fixed-hash", false}, {"rehash-loss", true}} {
		t.Run(c.name, func(t *testing.T) { interopAFXDP(t, c.rehash) })
	}
}

func interopAFXDP(t *testing.T, rehash bool) {
	nstest.RequireRoot(t, "ping", "ethtool")
	const shards = 2
	if cpus, _ := shard.AllowedCPUs(); len(cpus) < shards {
		t.Skipf("needs %d CPUs, has %d", shards, len(cpus))
	}
	subnet := byte(1 + rand.IntN(250))
	snNS := nstest.New(t, "shn-xdp-sn")                     // the interface shardnet drives
	peerNS := nstest.New(t, "shn-xdp-pr")                   // the kernel peer
	hostIP := netip.AddrFrom4([4]byte{198, 18, subnet, 1})  // peer's kernel
	stackIP := netip.AddrFrom4([4]byte{198, 18, subnet, 2}) // shardnet
	ownIP := netip.AddrFrom4([4]byte{198, 18, subnet, 3})   // sn's kernel, same interface
	snIf, peerIf := fmt.Sprintf("xs%x", rand.Uint32()), fmt.Sprintf("xp%x", rand.Uint32())

	nh, err := netlink.NewHandleAt(snNS.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	if err := nh.LinkAdd(&netlink.Veth{
		LinkAttrs:       netlink.LinkAttrs{Name: snIf, NumTxQueues: shards, NumRxQueues: shards, MTU: 1500},
		PeerName:        peerIf,
		PeerNamespace:   netlink.NsFd(int(peerNS.Handle)),
		PeerNumTxQueues: shards,
		PeerNumRxQueues: shards,
	}); err != nil {
		t.Fatalf("creating veth pair: %v", err)
	}
	for _, c := range []struct {
		ns   *nstest.NS
		name string
		addr netip.Addr
	}{{snNS, snIf, ownIP}, {peerNS, peerIf, hostIP}} {
		c.ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
		c.ns.MustRun(t, "ip", "addr", "add", netip.PrefixFrom(c.addr, 24).String(), "dev", c.name)
		c.ns.MustRun(t, "ip", "link", "set", c.name, "up")
	}
	// No checksum offload toward the driver: AF_XDP sees the frame as sent.
	peerNS.MustRun(t, "ethtool", "-K", peerIf, "tx", "off")
	// On veth the peer's TX queue is the RX queue, chosen by the socket's
	// tx hash; by default the kernel draws a new one after an RTO or a
	// spurious retransmit (net.core.txrehash), which moves a flow to the
	// other shard. A NIC's RSS hashes the 4-tuple and never does.
	if !rehash {
		peerNS.MustRun(t, "sysctl", "-qw", "net.core.txrehash=0")
	} else {
		nstest.RequireRoot(t, "nft")
		peerNS.MustRun(t, "sysctl", "-qw", "net.core.txrehash=1")
		// Real loss both ways, past the kernel's TCP: dropped on the
		// peer's egress after TCP sent it, and on its ingress before TCP
		// sees it. ARP is left alone.
		peerNS.MustRun(t, "nft", "add", "table", "netdev", "shnloss")
		for _, r := range []struct{ chain, hook, match string }{
			{"out", "egress", "daddr"}, {"in", "ingress", "saddr"},
		} {
			peerNS.MustRun(t, "nft", "add", "chain", "netdev", "shnloss", r.chain,
				fmt.Sprintf("{ type filter hook %s device %s priority 0; }", r.hook, peerIf))
			peerNS.MustRun(t, "nft", "add", "rule", "netdev", "shnloss", r.chain,
				"ip", r.match, stackIP.String(), "numgen", "random", "mod", "100", "<", "2", "drop")
		}
	}

	dev, err := afxdp.Open(afxdp.Config{Iface: snIf, Queues: shards, Addr: stackIP.As4(), NetNS: snNS.Handle})
	if errors.Is(err, afxdp.ErrUnsupported) {
		t.Skipf("AF_XDP unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	if dev.Mode() != afxdp.ModeDriver {
		t.Fatalf("attached in %v mode; veth spreads flows over queues only in driver mode", dev.Mode())
	}
	xdpProg := func() *netlink.LinkXdp {
		t.Helper()
		l, err := nh.LinkByName(snIf)
		if err != nil {
			t.Fatal(err)
		}
		if x := l.Attrs().Xdp; x != nil && x.Attached {
			return x
		}
		return nil
	}
	if x := xdpProg(); x == nil || x.ProgId != dev.ProgramID() {
		t.Fatalf("interface XDP %+v, want program %d", x, dev.ProgramID())
	}

	// On veth the peer's tx hash, not the port, picks the queue, so about
	// half of what the kernel sends on each shard's dialed flows arrives at
	// the other shard (on TAP the kernel follows the flow's last TX queue
	// and almost nothing is forwarded). The rings hold what the kernel can
	// have in flight to one shard's dialed flows: 32 receive windows of
	// 256 KiB (about 5.7k segments) and their ACKs.
	slots := 8192
	if rehash {
		slots = 0 // the library default
	}
	fwd, err := reactor.NewForwarder(shards, 32768, 60999, slots, buf.DefaultFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan xfer.Result, 1024)
	handlers := [shards]*xfer.Handler{{Results: results}, {Results: results}}
	type started struct {
		id   int
		loop *reactor.Loop
	}
	loops := make(chan started, shards)
	type final struct {
		id   int
		loop reactor.Stats
		tcp  tcp.Stats
		leak int
	}
	finals := make(chan final, shards)
	mac := dev.HWAddr() // host and stack share the link address
	group, err := shard.Start(shard.Config{Shards: shards}, func(s *shard.Shard) error {
		slab, err := buf.NewSlab(buf.DefaultFrames, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			loops <- started{s.ID, nil}
			return err
		}
		q, err := dev.Queue(s.ID, slab)
		if err != nil {
			slab.Close()
			loops <- started{s.ID, nil}
			return err
		}
		l, err := reactor.New(reactor.Config{Queue: q, Slab: slab, Shard: s, TCP: &tcp.Config{}, Forwarder: fwd,
			IP: ip.Config{MAC: mac, Addr: stackIP.As4(), PrefixLen: 24}})
		if err == nil {
			err = l.TCP().Listen(shardPort, handlers[s.ID])
		}
		if err != nil {
			q.Close()
			slab.Close()
			loops <- started{s.ID, nil}
			return err
		}
		loops <- started{s.ID, l}
		err = l.Run()
		ts := l.TCP().Stats()
		q.Close()
		finals <- final{s.ID, l.Stats(), ts, slab.InUse()}
		slab.Close()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := group.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := group.Wait(); err != nil {
			t.Errorf("shard: %v", err)
		}
	}
	t.Cleanup(stop)
	var byID [shards]*reactor.Loop
	for i := 0; i < shards; i++ {
		select {
		case s := <-loops:
			if s.loop == nil {
				t.Fatalf("shard %d failed to start", s.id)
			}
			byID[s.id] = s.loop
		case <-time.After(10 * time.Second):
			t.Fatal("shards did not start")
		}
	}
	onShard := func(id int, f func()) {
		done := make(chan struct{})
		if err := group.Shards()[id].Inbox().Post(func() { f(); close(done) }); err != nil {
			t.Fatal(err)
		}
		<-done
	}

	deadline := time.Now().Add(90 * time.Second)
	errs := make(chan error, 256)
	// Kernel → shards: 64 connections, data both ways.
	const kernelConns = 64
	for i := 0; i < kernelConns; i++ {
		var c *net.TCPConn
		if err := peerNS.Do(func() error {
			d := net.Dialer{Deadline: deadline}
			nc, err := d.Dial("tcp4", netip.AddrPortFrom(stackIP, shardPort).String())
			if err == nil {
				c = nc.(*net.TCPConn)
			}
			return err
		}); err != nil {
			t.Fatalf("kernel dial %d: %v", i, err)
		}
		hdr := xfer.Header{Up: uint64(rand.IntN(256 << 10)), Down: uint64(rand.IntN(256 << 10)), Seed: rand.Uint64()}
		go func() { errs <- xfer.KernelClient(c, hdr, deadline) }()
	}
	// Shards → kernel: 32 connections from each shard.
	const perShard = 32
	var ln *net.TCPListener
	if err := peerNS.Do(func() error {
		l, err := net.Listen("tcp4", netip.AddrPortFrom(hostIP, kernelPort).String())
		if err == nil {
			ln = l.(*net.TCPListener)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go xfer.KernelListen(ln, deadline, errs)
	for id := 0; id < shards; id++ {
		l, h := byID[id], handlers[id]
		onShard(id, func() {
			for i := 0; i < perShard; i++ {
				hdr := xfer.Header{Up: uint64(rand.IntN(256 << 10)), Down: uint64(rand.IntN(256 << 10)), Seed: rand.Uint64()}
				if err := h.DialWith(l.TCP(), hostIP.As4(), kernelPort, hdr, l.Now()); err != nil {
					errs <- fmt.Errorf("shard %d dial: %w", id, err)
				}
			}
		})
	}
	// The host's own address on the driven interface, program attached,
	// transfers in flight: its traffic must still reach the kernel.
	if out, err := peerNS.Run(20*time.Second, "ping", "-n", "-c", "3", "-w", "10", ownIP.String()); err != nil {
		t.Errorf("ping %v (the host's own address on %s) with XDP attached: %v\n%s", ownIP, snIf, err, out)
	}
	total := kernelConns + shards*perShard
	var failed []string
	timeout := time.After(time.Until(deadline) + 5*time.Second)
	for k, s := 0, 0; k < total || s < total; {
		select {
		case err := <-errs:
			k++
			if err != nil {
				failed = append(failed, err.Error())
			}
		case r := <-results:
			s++
			if r.Err != nil {
				failed = append(failed, fmt.Sprintf("shard side %v up %d down %d: %v", r.Remote, r.Header.Up, r.Header.Down, r.Err))
			}
		case <-timeout:
			t.Fatalf("deadline: %d/%d kernel and %d/%d shard outcomes; failures: %v", k, total, s, total, failed)
		}
	}
	if len(failed) > 0 {
		t.Fatalf("%d transfer sides failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	if x := xdpProg(); x == nil || x.ProgId != dev.ProgramID() {
		t.Errorf("after the transfers, interface XDP %+v, want program %d", x, dev.ProgramID())
	}
	stop()
	var passive [shards]uint64
	var missed uint64
	for i := 0; i < shards; i++ {
		f := <-finals
		passive[f.id] = f.tcp.PassiveOpens
		missed += f.loop.MissForwarded
		t.Logf("shard %d: passive %d active %d established %d, forwarded out/in %d/%d, forward drops %d, retransmits %d (rto %d), "+
			"no-flow segments asked/found/returned %d/%d/%d, resets sent %d",
			f.id, f.tcp.PassiveOpens, f.tcp.ActiveOpens, f.tcp.Established, f.loop.Forwarded, f.loop.ForwardIn, f.loop.FwdDrops,
			f.tcp.Retransmits, f.tcp.RTOs, f.loop.MissForwarded, f.loop.MissFound, f.loop.MissReturned, f.tcp.ResetsSent)
		if f.leak != 0 {
			t.Errorf("shard %d: %d slab frames leaked", f.id, f.leak)
		}
		if f.loop.FwdDrops != 0 {
			t.Errorf("shard %d lost %d frames to steering", f.id, f.loop.FwdDrops)
		}
		if f.tcp.ActiveOpens != perShard {
			t.Errorf("shard %d made %d active opens, want %d", f.id, f.tcp.ActiveOpens, perShard)
		}
	}
	if rehash && missed == 0 {
		t.Errorf("no segment of a moved flow was passed on: the loss did not make the kernel rehash")
	}
	if passive[0] == 0 || passive[1] == 0 || passive[0]+passive[1] != kernelConns {
		t.Errorf("kernel connections per shard %v: both shards must own some, %d in all", passive, kernelConns)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if x := xdpProg(); x != nil {
		t.Errorf("XDP program %d still attached after Close", x.ProgId)
	}
}
