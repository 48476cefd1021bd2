//go:build linux

package afxdp_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
)

// stacks runs one shard of shardnet per queue of dev, each with its own
// slab, until stopped; stop reports each shard's ip and queue stats and
// fails the test on a slab leak.
type stacks struct {
	group *shard.Group
	loops []*reactor.Loop
	final chan result
	n     int
}

type result struct {
	id   int
	ip   ip.Stats
	q    nic.Stats
	leak int
}

func startStacks(t testing.TB, r *rig, queue func(i int, slab *buf.Slab) (nic.Queue, error), shards int, mac [6]byte) *stacks {
	t.Helper()
	s := &stacks{final: make(chan result, shards), n: shards, loops: make([]*reactor.Loop, shards)}
	ready := make(chan *reactor.Loop, shards)
	var err error
	s.group, err = shard.Start(shard.Config{Shards: shards}, func(sh *shard.Shard) error {
		slab, err := buf.NewSlab(2048, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			return err
		}
		q, err := queue(sh.ID, slab)
		if err != nil {
			ready <- nil
			return err
		}
		l, err := reactor.New(reactor.Config{
			Queue: q, Slab: slab, Shard: sh,
			IP: ip.Config{MAC: mac, Addr: r.stack, PrefixLen: 24},
		})
		if err != nil {
			ready <- nil
			return err
		}
		ready <- l
		err = l.Run()
		res := result{id: sh.ID, ip: l.IP().Stats(), q: q.Stats()}
		q.Close()
		res.leak = slab.InUse()
		s.final <- res
		if cerr := slab.Close(); err == nil && res.leak == 0 {
			err = cerr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < shards; i++ {
		select {
		case l := <-ready:
			if l == nil {
				s.stop(t)
				t.Fatal("a shard failed to start")
			}
			s.loops[i] = l
		case <-time.After(10 * time.Second):
			t.Fatal("shards did not start")
		}
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *stacks) stop(t testing.TB) []result {
	t.Helper()
	if s.group == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.group.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := s.group.Wait(); err != nil {
		t.Errorf("shard: %v", err)
	}
	s.group = nil
	out := make([]result, s.n)
	for i := 0; i < s.n; i++ {
		select {
		case res := <-s.final:
			out[res.id] = res
			if res.leak != 0 {
				t.Errorf("shard %d: slab leak: %d frames in use after stop", res.id, res.leak)
			}
		default:
		}
	}
	return out
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// ping pings dst from ns b and requires every reply, intact.
func (r *rig) ping(t testing.TB, dst [4]byte, count, size int) int {
	t.Helper()
	out, err := r.b.Run(30*time.Second, "ping", "-n", "-c", fmt.Sprint(count), "-i", "0.02", "-w", "20",
		"-s", fmt.Sprint(size), "-p", "5a17c0de", ip4(dst))
	// With -w, ping sends until count replies are in: a reply slower than
	// the interval (the first waits for ARP) makes it send one more. So:
	// at least count replies, and one for every request.
	m := pingSummary.FindStringSubmatch(out)
	if err != nil || m == nil || m[1] != m[2] || atoi(m[2]) < count {
		t.Fatalf("ping %s: %v\n%s", ip4(dst), err, out)
	}
	if strings.Contains(out, "wrong data") || strings.Contains(out, "DUP") {
		t.Fatalf("ping saw corrupted or duplicate replies:\n%s", out)
	}
	return atoi(m[2])
}

// TestKernelPingsShardOverAFXDP runs the real reactor on the queue: the
// peer's kernel resolves the stack's address over ARP and pings it, while
// the host's own address on the same interface keeps answering (its
// traffic is passed to the kernel). After Close, no program is left.
func TestKernelPingsShardOverAFXDP(t *testing.T) {
	for _, mode := range []afxdpMode{modeDriver, modeGeneric} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newRig(t, 1)
			d := r.open(t, mode.config())
			if d.Mode() != mode.want() {
				t.Fatalf("attached in %v mode, want %v", d.Mode(), mode.want())
			}
			if x := xdpOn(t, r.a, r.ifA); x == nil || x.ProgId != d.ProgramID() {
				t.Fatalf("interface XDP %+v, want program %d", x, d.ProgramID())
			}
			s := startStacks(t, r, d.Queue, 1, d.HWAddr())
			stackEchoes := uint64(r.ping(t, r.stack, 5, 56))
			r.ping(t, r.host, 3, 56) // the host itself, same interface
			stackEchoes += uint64(r.ping(t, r.stack, 3, 1472))
			stackEchoes += uint64(r.ping(t, r.stack, 3, 0))
			r.ping(t, r.host, 3, 1472)
			neigh := r.b.MustRun(t, "ip", "neigh", "show", ip4(r.stack))
			if !strings.Contains(neigh, mac(r.macA)) {
				t.Fatalf("peer's neighbour entry for the stack lacks the interface MAC %s: %q", mac(r.macA), neigh)
			}
			res := s.stop(t)[0]
			if res.ip.EchoIn != stackEchoes {
				t.Errorf("stack answered %d echo requests, want %d (host pings must not reach it)", res.ip.EchoIn, stackEchoes)
			}
			if res.ip.ARPRequestIn == 0 || res.ip.ARPReplyOut == 0 {
				t.Errorf("no ARP exchange counted: %+v", res.ip)
			}
			if res.q.RxErrors != 0 || res.q.TxErrors != 0 {
				t.Errorf("queue stats %+v", res.q)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if x := xdpOn(t, r.a, r.ifA); x != nil {
				t.Fatalf("XDP program %d still attached after Close", x.ProgId)
			}
			if err := d.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			r.ping(t, r.host, 2, 56)
		})
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
