package idle

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic/tap"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/tcp"
)

var conns = flag.Int("idle.conns", 0, "idle connections to hold (default 100000; 10000 under -race)")

const (
	port = 7070
	// maxPerConn bounds what one idle established connection may cost
	// the shard in Go heap: the Conn object (720 bytes; no SACK
	// scoreboard, reassembly queue or buffer while idle), its congestion
	// controller (a 128-byte allocation), its share of the flow table
	// (2–4 slots of 12 bytes) and of the pool's index slices (8 bytes):
	// about 900 bytes; measured 960 at 100k. The bound leaves room for
	// allocator rounding and noise and is still half of what Linux spends
	// in slab per idle client socket (about 3.7 KiB: TCP sock, socket
	// inode, file, dentry).
	maxPerConn  = 2048
	clientAddrs = 3 // source addresses: ~64k ports each
)

// echo writes every byte back and consumes it.
type echo struct{}

func (echo) OnOpen(c *tcp.Conn, now int64) {}
func (echo) OnData(c *tcp.Conn, d []byte, now int64) int {
	return c.Write(d, now)
}
func (echo) OnWritable(c *tcp.Conn, now int64)                 {}
func (echo) OnPeerClosed(c *tcp.Conn, now int64)               { c.Close(now) }
func (echo) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) {}

type memSnap struct {
	heap, sys, rss uint64 // Go heap in use, Go runtime total from the OS, process RSS
}

func snapshot(t *testing.T) memSnap {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnap{heap: ms.HeapInuse, sys: ms.Sys, rss: statusKB(t, "/proc/self/status", "VmRSS:") << 10}
}

// statusKB reads a "Name:   123 kB" line.
func statusKB(t *testing.T, path, key string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			return v
		}
	}
	t.Fatalf("%s: no %s", path, key)
	return 0
}

// slabBytes sums num_objs·objsize of the slab caches an idle TCP socket
// with a file descriptor uses. /proc/slabinfo is machine-wide: other
// processes add noise, which 100k sockets dwarf.
func slabBytes(t *testing.T) map[string]int64 {
	f, err := os.Open("/proc/slabinfo")
	if err != nil {
		t.Logf("no slabinfo: %v", err)
		return nil
	}
	defer f.Close()
	want := map[string]bool{"TCP": true, "sock_inode_cache": true, "filp": true, "dentry": true, "tcp_bind_bucket": true, "tcp_bind2_bucket": true, "inet_peer_cache": false}
	m := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || !want[fs[0]] {
			continue
		}
		n, _ := strconv.ParseInt(fs[2], 10, 64)
		sz, _ := strconv.ParseInt(fs[3], 10, 64)
		m[fs[0]] = n * sz
	}
	return m
}

// sockstatMem returns the TCP "mem" pages of /proc/net/sockstat in ns.
func sockstatMem(t *testing.T, ns *nstest.NS) (inuse, pages int64) {
	out := ns.MustRun(t, "cat", "/proc/net/sockstat")
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseInt(f[i+1], 10, 64)
			switch f[i] {
			case "inuse":
				inuse = v
			case "mem":
				pages = v
			}
		}
	}
	return
}

func TestIdleConnections(t *testing.T) {
	nstest.RequireRoot(t)
	n := *conns
	if n == 0 {
		n = 100000
		if raceEnabled {
			n = 10000
		}
	}

	before := snapshot(t)

	subnet := byte(1 + rand.IntN(250))
	stackAddr := netip.AddrFrom4([4]byte{198, 18, subnet, 2})
	host := netip.AddrFrom4([4]byte{198, 18, subnet, 1})
	ns := nstest.New(t, "shn-idle")
	devName := fmt.Sprintf("shn%x", rand.Uint32())
	dev, err := tap.Open(tap.Config{Name: devName, Queues: 1, VnetHdr: true,
		HostAddr: netip.PrefixFrom(host, 24), NetNS: ns.Handle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	srcs := [clientAddrs][4]byte{host.As4()}
	for i := 1; i < clientAddrs; i++ {
		srcs[i] = [4]byte{198, 18, subnet, byte(10 + i)}
		ns.MustRun(t, "ip", "addr", "add", netip.AddrFrom4(srcs[i]).String()+"/24", "dev", devName)
	}
	ns.MustRun(t, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535")

	type result struct {
		st   tcp.Stats
		leak int
	}
	final := make(chan result, 1)
	ready := make(chan *reactor.Loop, 1)
	tc := tcp.Config{MaxConns: n + 1024, SynBacklog: 1024}
	group, err := shard.Start(shard.Config{Shards: 1}, func(s *shard.Shard) error {
		slab, err := buf.NewSlab(buf.DefaultFrames, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			return err
		}
		q, err := dev.Queue(0, slab)
		if err != nil {
			return err
		}
		l, err := reactor.New(reactor.Config{Queue: q, Slab: slab, Shard: s, TCP: &tc,
			IP: ip.Config{MAC: [6]byte{0x02, 0x5e, 0, 0, subnet, 2}, Addr: stackAddr.As4(), PrefixLen: 24}})
		if err != nil {
			return err
		}
		if err := l.TCP().Listen(port, echo{}); err != nil {
			return err
		}
		ready <- l
		err = l.Run()
		st := l.TCP().Stats()
		q.Close()
		final <- result{st, slab.InUse()}
		slab.Close()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	loop := <-ready
	onShard := func(f func()) {
		done := make(chan struct{})
		if err := group.Shards()[0].Inbox().Post(func() { f(); close(done) }); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("shard did not run a posted func within 10 s")
		}
	}
	stats := func() (st tcp.Stats) {
		onShard(func() { st = loop.TCP().Stats() })
		return
	}
	stopped := false
	stop := func() result {
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := group.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := group.Wait(); err != nil {
			t.Errorf("shard: %v", err)
		}
		return <-final
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})

	slabBefore := slabBytes(t)
	_, memBefore := sockstatMem(t, ns)
	start := time.Now()
	openClients(t, ns, n, srcs, stackAddr.As4())
	openTime := time.Since(start)

	// All echoes are acknowledged: no connection holds buffer memory.
	var st tcp.Stats
	for until := time.Now().Add(20 * time.Second); ; {
		st = stats()
		if st.BufBytes == 0 && st.ConnsOpen >= uint64(n) {
			break
		}
		if time.Now().After(until) {
			t.Fatalf("after the echoes: %d buffer bytes held, %d connections open (want 0, %d)", st.BufBytes, st.ConnsOpen, n)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
	after := snapshot(t)
	slabAfter := slabBytes(t)
	inuse, memAfter := sockstatMem(t, ns)

	heapPer := float64(int64(after.heap)-int64(before.heap)) / float64(n)
	sysPer := float64(int64(after.sys)-int64(before.sys)) / float64(n)
	rssPer := float64(int64(after.rss)-int64(before.rss)) / float64(n)
	var kern int64
	var kparts []string
	for k, v := range slabAfter {
		d := v - slabBefore[k]
		kern += d
		kparts = append(kparts, fmt.Sprintf("%s %+d", k, d))
	}
	t.Logf("%d idle connections opened and echoed in %v (%.0f/s)", n, openTime.Round(time.Millisecond), float64(n)/openTime.Seconds())
	t.Logf("shardnet: Go heap %+.0f B/conn, Go runtime from OS %+.0f B/conn, process RSS %+.0f B/conn (RSS %.1f MiB → %.1f MiB; includes the 16 MiB slab)",
		heapPer, sysPer, rssPer, float64(before.rss)/(1<<20), float64(after.rss)/(1<<20))
	t.Logf("shard tcp: ConnsOpen %d, Established %d, BufBytes %d, BufBytesHigh %d, BufFreeBytes %d, BufRefusals %d, drops %d",
		st.ConnsOpen, st.Established, st.BufBytes, st.BufBytesHigh, st.BufFreeBytes, st.BufRefusals, st.Dropped())
	for r, d := range st.Drops {
		if d > 0 {
			t.Logf("shard tcp drop %s: %d", tcp.DropReason(r), d)
		}
	}
	t.Logf("kernel (client side, %d sockets in use): slab %+.0f B/socket (%s), sockstat mem %d → %d pages",
		inuse, float64(kern)/float64(n), strings.Join(kparts, ", "), memBefore, memAfter)

	if heapPer > maxPerConn {
		t.Errorf("shardnet Go heap per idle connection %.0f B, want < %d", heapPer, maxPerConn)
	}
	if st.BufRefusals != 0 {
		t.Errorf("%d buffer refusals with the default budget", st.BufRefusals)
	}
	res := stop()
	if res.leak != 0 {
		t.Errorf("slab leak: %d frames in use after stop", res.leak)
	}
}
