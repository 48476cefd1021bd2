package reactor_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic/tap"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
)

// tapStack is one shard of shardnet on a TAP device inside a namespace.
type tapStack struct {
	ns      *nstest.NS
	dev     *tap.Device
	group   *shard.Group
	loop    *reactor.Loop
	mac     [6]byte
	stack   netip.Addr
	host    netip.Addr
	replies chan uint16 // seq of each echo reply the stack receives
	final   chan ip.Stats
	leak    chan int
}

func startTapStack(t *testing.T, vnet bool) *tapStack {
	t.Helper()
	nstest.RequireRoot(t, "ping")
	subnet := 1 + rand.IntN(250)
	ts := &tapStack{
		ns:      nstest.New(t, "shn-rx"),
		mac:     [6]byte{0x02, 0x5e, 0, 0, byte(subnet), 2},
		stack:   netip.AddrFrom4([4]byte{198, 18, byte(subnet), 2}),
		host:    netip.AddrFrom4([4]byte{198, 18, byte(subnet), 1}),
		replies: make(chan uint16, 64),
		final:   make(chan ip.Stats, 1),
		leak:    make(chan int, 1),
	}
	var err error
	ts.dev, err = tap.Open(tap.Config{
		Name:     fmt.Sprintf("shn%x", rand.Uint32()),
		Queues:   1,
		VnetHdr:  vnet,
		HostAddr: netip.PrefixFrom(ts.host, 24),
		NetNS:    ts.ns.Handle,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.dev.Close() })
	ready := make(chan *reactor.Loop, 1)
	ts.group, err = shard.Start(shard.Config{Shards: 1}, func(s *shard.Shard) error {
		slab, err := buf.NewSlab(1024, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			return err
		}
		q, err := ts.dev.Queue(0, slab)
		if err != nil {
			return err
		}
		l, err := reactor.New(reactor.Config{
			Queue: q, Slab: slab, Shard: s,
			IP: ip.Config{MAC: ts.mac, Addr: ts.stack.As4(), PrefixLen: 24},
		})
		if err != nil {
			return err
		}
		l.IP().OnEchoReply(func(src [4]byte, id, seq uint16, payload []byte, now int64) {
			if src == ts.host.As4() && string(payload) == "shardnet ping" {
				ts.replies <- seq
			}
		})
		ready <- l
		err = l.Run()
		ts.final <- l.IP().Stats()
		q.Close()
		ts.leak <- slab.InUse()
		if cerr := slab.Close(); err == nil && slab.InUse() == 0 {
			err = cerr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ts.loop = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("shard did not start")
	}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop stops the shard once and checks it released every buffer.
func (ts *tapStack) stop(t *testing.T) ip.Stats {
	t.Helper()
	if ts.group == nil {
		return ip.Stats{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.group.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := ts.group.Wait(); err != nil {
		t.Fatalf("shard: %v", err)
	}
	ts.group = nil
	st := <-ts.final
	if n := <-ts.leak; n != 0 {
		t.Errorf("slab leak: %d frames in use after stop", n)
	}
	return st
}

// post runs f on the shard's thread.
func (ts *tapStack) post(t *testing.T, f func()) {
	t.Helper()
	if err := ts.group.Shards()[0].Inbox().Post(f); err != nil {
		t.Fatal(err)
	}
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// kernelPing pings the stack from the namespace and checks every reply
// arrived with the pattern intact (ping reports "wrong data byte" otherwise).
// -w makes ping wait for all count replies (up to the deadline) instead of
// giving up ~2×RTT after its last request, which a loaded machine misses.
func (ts *tapStack) kernelPing(t *testing.T, count, size int) {
	t.Helper()
	out, err := ts.ns.Run(30*time.Second, "ping", "-n", "-c", fmt.Sprint(count), "-i", "0.05", "-w", "20",
		"-s", fmt.Sprint(size), "-p", "5a17c0de", ts.stack.String())
	m := pingSummary.FindStringSubmatch(out)
	if err != nil || m == nil || m[1] != fmt.Sprint(count) || m[2] != fmt.Sprint(count) {
		t.Fatalf("ping %s: %v\n%s", ts.stack, err, out)
	}
	if strings.Contains(out, "wrong data") || strings.Contains(out, "DUP") {
		t.Fatalf("ping saw corrupted or duplicate replies:\n%s", out)
	}
}

func TestKernelPingsShardOverTAP(t *testing.T) {
	for _, vnet := range []bool{false, true} {
		t.Run(fmt.Sprintf("vnethdr=%v", vnet), func(t *testing.T) {
			ts := startTapStack(t, vnet)
			ts.kernelPing(t, 5, 56)
			ts.kernelPing(t, 3, 1472) // a full 1500-byte datagram
			ts.kernelPing(t, 3, 0)    // the smallest: padded to 60 bytes on the wire
			// The kernel resolved us over ARP: its neighbour entry has our MAC.
			neigh := ts.ns.MustRun(t, "ip", "neigh", "show", ts.stack.String())
			if !strings.Contains(neigh, fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", ts.mac[0], ts.mac[1], ts.mac[2], ts.mac[3], ts.mac[4], ts.mac[5])) {
				t.Fatalf("kernel neighbour entry for %s lacks our MAC %x: %q", ts.stack, ts.mac, neigh)
			}
			st := ts.stop(t)
			if st.EchoIn != 11 {
				t.Errorf("stack answered %d echo requests, want 11", st.EchoIn)
			}
			if st.ARPRequestIn == 0 || st.ARPReplyOut == 0 {
				t.Errorf("no ARP exchange counted: %+v", st)
			}
			bad := st.TotalDrops() - st.Drops[ip.DropEthUnknownType] - st.Drops[ip.DropEthNotForUs] - st.Drops[ip.DropIPv4NotForUs]
			if bad != 0 {
				t.Errorf("unexpected drops (kernel IPv6 chatter aside): %+v", st.Drops)
			}
		})
	}
}

func TestShardResolvesAndPingsKernel(t *testing.T) {
	ts := startTapStack(t, true)
	// The stack speaks first: it must ARP for the host, queue the echo
	// requests meanwhile, and send them when the kernel answers.
	for seq := uint16(1); seq <= 3; seq++ {
		ts.post(t, func() { ts.loop.IP().Ping(ts.host.As4(), 42, seq, []byte("shardnet ping"), ts.loop.Now()) })
	}
	got := map[uint16]bool{}
	deadline := time.After(10 * time.Second)
	for len(got) < 3 {
		select {
		case seq := <-ts.replies:
			got[seq] = true
		case <-deadline:
			t.Fatalf("stack got echo replies %v from the kernel, want seq 1..3", got)
		}
	}
	st := ts.stop(t)
	if st.ARPReplyIn == 0 || st.ARPRequestOut < 2 { // announcement + resolution
		t.Errorf("ARP from the stack not counted: %+v", st)
	}
	if st.EchoOut != 3 || st.EchoReplyIn != 3 {
		t.Errorf("echo out %d replies in %d, want 3/3", st.EchoOut, st.EchoReplyIn)
	}
}
