package interop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/internal/xfer"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic/tap"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/tcp"
)

// TestInteropTwoShards runs two pinned shards on a two-queue TAP device:
// kernel clients open connections (the kernel spreads them over the
// queues), and each shard dials the kernel (its SYN-ACKs may come back on
// the other queue and must be forwarded to it). Every byte is verified,
// both shards must own connections, and no frame may be lost to steering.
func TestInteropTwoShards(t *testing.T) {
	nstest.RequireRoot(t)
	const shards = 2
	if cpus, _ := shard.AllowedCPUs(); len(cpus) < shards {
		t.Skipf("needs %d CPUs, has %d", shards, len(cpus))
	}
	subnet := byte(1 + rand.IntN(250))
	ns := nstest.New(t, "shn-2sh")
	stackIP := netip.AddrFrom4([4]byte{198, 18, subnet, 2})
	hostIP := netip.AddrFrom4([4]byte{198, 18, subnet, 1})
	dev, err := tap.Open(tap.Config{Name: fmt.Sprintf("shn%x", rand.Uint32()), Queues: shards, VnetHdr: true,
		HostAddr: netip.PrefixFrom(hostIP, 24), NetNS: ns.Handle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	fwd, err := reactor.NewForwarder(shards, 32768, 60999, 256, buf.DefaultFrameSize)
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
	group, err := shard.Start(shard.Config{Shards: shards}, func(s *shard.Shard) error {
		slab, err := buf.NewSlab(buf.DefaultFrames, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			return err
		}
		q, err := dev.Queue(s.ID, slab)
		if err != nil {
			return err
		}
		l, err := reactor.New(reactor.Config{Queue: q, Slab: slab, Shard: s, TCP: &tcp.Config{}, Forwarder: fwd,
			IP: ip.Config{MAC: [6]byte{0x02, 0x5e, 0, 0, subnet, 2}, Addr: stackIP.As4(), PrefixLen: 24}})
		if err != nil {
			return err
		}
		if err := l.TCP().Listen(shardPort, handlers[s.ID]); err != nil {
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
	var byID [shards]*reactor.Loop
	for i := 0; i < shards; i++ {
		s := <-loops
		byID[s.id] = s.loop
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
		if err := ns.Do(func() error {
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
	if err := ns.Do(func() error {
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
	stop()
	var passive, active [shards]uint64
	for i := 0; i < shards; i++ {
		f := <-finals
		passive[f.id], active[f.id] = f.tcp.PassiveOpens, f.tcp.ActiveOpens
		t.Logf("shard %d: passive %d active %d established %d, forwarded out/in %d/%d, forward drops %d, retransmits %d",
			f.id, f.tcp.PassiveOpens, f.tcp.ActiveOpens, f.tcp.Established, f.loop.Forwarded, f.loop.ForwardIn, f.loop.FwdDrops, f.tcp.Retransmits)
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
	if passive[0] == 0 || passive[1] == 0 || passive[0]+passive[1] != kernelConns {
		t.Errorf("kernel connections per shard %v: both shards must own some, %d in all", passive, kernelConns)
	}
}
