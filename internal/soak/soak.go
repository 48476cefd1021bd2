package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/internal/xfer"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic/fault"
	"github.com/shardnet/shardnet/nic/tap"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/tcp"
)

// Config says how long and how hard to soak. Zero values take defaults.
type Config struct {
	Duration      time.Duration // traffic time (20 s)
	KernelClients int           // kernel→shard connections kept in flight (8)
	ShardDials    int           // shard→kernel connections kept in flight (8)
	ShortMax      uint64        // bytes per direction of a short transfer, at most (64 KiB)
	LongMax       uint64        // bytes per direction of a long one, at most (4 MiB)
	LongEvery     int           // one transfer in LongEvery is long (10)
	Faults        fault.Faults  // both directions (1% drop, 1% duplicate, 2% reorder, 0.5% corrupt)
	Seed          uint64        // fault seed (random)
	Drain         time.Duration // how long in-flight transfers may take to finish after Duration (3 min)
}

func (c *Config) defaults() {
	if c.Duration == 0 {
		c.Duration = 20 * time.Second
	}
	if c.KernelClients == 0 {
		c.KernelClients = 8
	}
	if c.ShardDials == 0 {
		c.ShardDials = 8
	}
	if c.ShortMax == 0 {
		c.ShortMax = 64 << 10
	}
	if c.LongMax == 0 {
		c.LongMax = 4 << 20
	}
	if c.LongEvery == 0 {
		c.LongEvery = 10
	}
	if c.Faults == (fault.Faults{}) {
		c.Faults = fault.Faults{Drop: 0.01, Duplicate: 0.01, Reorder: 0.02, Corrupt: 0.005}
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	if c.Drain == 0 {
		c.Drain = 3 * time.Minute
	}
}

// Baseline is the state that must come back once the traffic is over.
type Baseline struct {
	SlabInUse  int
	Conns      int
	Timers     int
	Goroutines int
	FDs        int
}

// Summary is what a soak did.
type Summary struct {
	Duration      time.Duration
	BytesVerified uint64 // payload bytes checked by a receiver (both directions, both roles)
	KernelClients int    // completed kernel→shard transfers
	ShardDials    int    // completed shard→kernel transfers
	Long          int    // of which long
	Faults        fault.FaultStats
	ChecksumDrops uint64 // corrupted frames the shard's checksums rejected
	Retransmits   uint64
	RTOs          uint64
	Before, After Baseline
	PeakConns     int
	PeakSlabInUse int
	FaultSeed     uint64
	ShardTCP      tcp.Stats
}

func (s Summary) String() string {
	f := s.Faults
	return fmt.Sprintf("soak %v (fault seed %d): %d bytes verified over %d connections (%d kernel clients, %d shard dials, %d long)\n"+
		"  faults rx: dropped %d duplicated %d reordered %d corrupted %d; tx: dropped %d duplicated %d reordered %d corrupted %d\n"+
		"  shard: checksum rejections %d, retransmits %d, RTOs %d; peak conns %d, peak slab frames %d\n"+
		"  baseline before %+v\n  after           %+v",
		s.Duration.Round(time.Second), s.FaultSeed, s.BytesVerified, s.KernelClients+s.ShardDials, s.KernelClients, s.ShardDials, s.Long,
		f.Rx.Dropped, f.Rx.Duplicated, f.Rx.Reordered, f.Rx.Corrupted, f.Tx.Dropped, f.Tx.Duplicated, f.Tx.Reordered, f.Tx.Corrupted,
		s.ChecksumDrops, s.Retransmits, s.RTOs, s.PeakConns, s.PeakSlabInUse, s.Before, s.After)
}

const (
	shardPort  = 5001
	kernelPort = 5002
)

// rig is one shard with TCP on a TAP device in a fresh namespace, its
// queue wrapped in nic/fault.
type rig struct {
	t     testing.TB
	ns    *nstest.NS
	group *shard.Group
	loop  *reactor.Loop
	slab  *buf.Slab
	fq    *fault.Queue
	stack netip.Addr
	host  netip.Addr
	h     *xfer.Handler
}

func newRig(t testing.TB, cfg *Config, results chan xfer.Result) *rig {
	t.Helper()
	subnet := byte(1 + rand.IntN(250))
	r := &rig{t: t, ns: nstest.New(t, "shn-soak"),
		stack: netip.AddrFrom4([4]byte{198, 18, subnet, 2}),
		host:  netip.AddrFrom4([4]byte{198, 18, subnet, 1}),
		h:     &xfer.Handler{Results: results}}
	// No IPv6: the kernel's own chatter stays off the link.
	r.ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	dev, err := tap.Open(tap.Config{Name: fmt.Sprintf("shs%x", rand.Uint32()), Queues: 1, VnetHdr: true,
		HostAddr: netip.PrefixFrom(r.host, 24), NetNS: r.ns.Handle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	ready := make(chan struct{})
	r.group, err = shard.Start(shard.Config{Shards: 1}, func(s *shard.Shard) error {
		slab, err := buf.NewSlab(buf.DefaultFrames, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			return err
		}
		tq, err := dev.Queue(0, slab)
		if err != nil {
			return err
		}
		// Faults start once the baseline is taken (Run).
		fq := fault.Wrap(tq, fault.Config{Seed: cfg.Seed, Clock: reactor.Monotonic})
		l, err := reactor.New(reactor.Config{Queue: fq, Slab: slab, Shard: s,
			TCP: &tcp.Config{TimeWait: 2e9, FinWait2Timeout: 30e9},
			IP:  ip.Config{MAC: [6]byte{0x02, 0x5e, 0, 1, subnet, 2}, Addr: r.stack.As4(), PrefixLen: 24}})
		if err != nil {
			return err
		}
		if err := l.TCP().Listen(shardPort, r.h); err != nil {
			return err
		}
		r.loop, r.slab, r.fq = l, slab, fq
		close(ready)
		err = l.Run()
		fq.Close()
		if n := slab.InUse(); n != 0 && err == nil {
			err = fmt.Errorf("slab leak: %d frames in use after stop", n)
		}
		slab.Close()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	<-ready
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	if r.group == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.group.Stop(ctx); err != nil {
		r.t.Errorf("stop: %v", err)
	}
	if err := r.group.Wait(); err != nil {
		r.t.Errorf("shard: %v", err)
	}
	r.group = nil
}

// onShard runs f on the shard thread and waits for it.
func (r *rig) onShard(f func()) error {
	done := make(chan struct{})
	if err := r.group.Shards()[0].Inbox().Post(func() { f(); close(done) }); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("the shard did not run a posted func within 10 s")
	}
}

func (r *rig) baseline() (Baseline, error) {
	var b Baseline
	err := r.onShard(func() {
		b.SlabInUse, b.Conns, b.Timers = r.slab.InUse(), r.loop.TCP().Conns(), r.loop.Wheel().Len()
	})
	b.Goroutines = runtime.NumGoroutine()
	ents, ferr := os.ReadDir("/proc/self/fd")
	if ferr != nil && err == nil {
		err = ferr
	}
	b.FDs = len(ents)
	return b, err
}

// job is one transfer.
type job struct {
	hdr  xfer.Header
	long bool
}

func (c *Config) newJob(n int) job {
	size := func(max uint64) uint64 { return rand.Uint64N(max + 1) }
	long := n%c.LongEvery == c.LongEvery-1
	max := c.ShortMax
	if long {
		max = c.LongMax
	}
	j := job{hdr: xfer.Header{Seed: rand.Uint64()}, long: long}
	switch rand.IntN(3) {
	case 0: // upload
		j.hdr.Up = size(max)
	case 1: // download
		j.hdr.Down = size(max)
	default:
		j.hdr.Up, j.hdr.Down = size(max), size(max)
	}
	return j
}

// Run soaks a fresh shard as cfg says and fails t on any transfer error,
// any leak, or state that does not return to its baseline.
func Run(t testing.TB, cfg Config) Summary {
	t.Helper()
	nstest.RequireRoot(t)
	cfg.defaults()
	sum := Summary{FaultSeed: cfg.Seed}
	results := make(chan xfer.Result, 1<<16)
	r := newRig(t, &cfg, results)
	// A frame can be caught in the loop's TX batch at any one reading:
	// the baseline is the least of a few readings.
	before, err := r.baseline()
	for i := 0; i < 5 && err == nil; i++ {
		time.Sleep(20 * time.Millisecond)
		var b Baseline
		if b, err = r.baseline(); err == nil && b.SlabInUse < before.SlabInUse {
			before = b
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	sum.Before = before
	if err := r.onShard(func() { r.fq.SetFaults(cfg.Faults, cfg.Faults) }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stopAt := start.Add(cfg.Duration)
	deadline := stopAt.Add(cfg.Drain)

	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var kernelWG sync.WaitGroup
	var jobs int64
	nextJob := func() job {
		mu.Lock()
		defer mu.Unlock()
		jobs++
		return cfg.newJob(int(jobs))
	}

	// Kernel clients: each worker runs transfers back to back.
	for w := 0; w < cfg.KernelClients; w++ {
		kernelWG.Add(1)
		go func() {
			defer kernelWG.Done()
			for time.Now().Before(stopAt) {
				j := nextJob()
				var c *net.TCPConn
				err := r.ns.Do(func() error {
					d := net.Dialer{Deadline: deadline, KeepAlive: -1}
					nc, err := d.Dial("tcp4", netip.AddrPortFrom(r.stack, shardPort).String())
					if err == nil {
						c = nc.(*net.TCPConn)
					}
					return err
				})
				if err == nil {
					err = xfer.KernelClient(c, j.hdr, deadline)
				}
				mu.Lock()
				if err != nil {
					failures = append(failures, fmt.Sprintf("kernel client up %d down %d: %v", j.hdr.Up, j.hdr.Down, err))
				} else {
					sum.KernelClients++
					sum.BytesVerified += j.hdr.Up + j.hdr.Down
					if j.long {
						sum.Long++
					}
				}
				mu.Unlock()
			}
		}()
	}

	// Shard dials: a kernel server, and ShardDials connections kept in
	// flight from the shard.
	var ln *net.TCPListener
	if err := r.ns.Do(func() error {
		l, err := net.Listen("tcp4", netip.AddrPortFrom(r.host, kernelPort).String())
		if err == nil {
			ln = l.(*net.TCPListener)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	kernelSide := make(chan error, 1<<16)
	listenDone := make(chan struct{})
	go func() { xfer.KernelListen(ln, deadline, kernelSide); close(listenDone) }()
	dialing := map[uint64]job{} // by seed; touched by this goroutine only
	dial := func() {
		j := nextJob()
		dialing[j.hdr.Seed] = j
		var err error
		if perr := r.onShard(func() {
			err = r.h.DialWith(r.loop.TCP(), r.host.As4(), kernelPort, j.hdr, r.loop.Now())
		}); perr != nil {
			err = perr
		}
		if err != nil {
			delete(dialing, j.hdr.Seed)
			fail("shard dial: %v", err)
		}
	}
	for i := 0; i < cfg.ShardDials; i++ {
		dial()
	}
	kernelWaiting := 0 // kernel-side outcomes of shard dials still to come
	peek := time.NewTicker(250 * time.Millisecond)
	defer peek.Stop()
	timeout := time.NewTimer(time.Until(deadline) + 10*time.Second)
	defer timeout.Stop()
	kernelDone := make(chan struct{})
	go func() { kernelWG.Wait(); close(kernelDone) }()
	clientsRunning := true
	for clientsRunning || len(dialing) > 0 || kernelWaiting > 0 {
		select {
		case res := <-results:
			j, dialed := dialing[res.Header.Seed]
			if !dialed || res.Port != kernelPort {
				// The shard side of a kernel client (verified here too).
				if res.Err != nil {
					fail("shard side of kernel client %v:%d: %v", res.Remote, res.Port, res.Err)
				}
				continue
			}
			delete(dialing, res.Header.Seed)
			kernelWaiting++
			if res.Err != nil {
				fail("shard dial up %d down %d: %v (%v)", j.hdr.Up, j.hdr.Down, res.Err, res.Reason)
			} else {
				mu.Lock()
				sum.ShardDials++
				sum.BytesVerified += j.hdr.Up + j.hdr.Down
				if j.long {
					sum.Long++
				}
				mu.Unlock()
			}
			if time.Now().Before(stopAt) {
				dial()
			}
		case err := <-kernelSide:
			kernelWaiting--
			if err != nil {
				fail("kernel server: %v", err)
			}
		case <-kernelDone:
			clientsRunning = false
			kernelDone = nil
		case <-peek.C:
			r.onShard(func() {
				sum.PeakConns = max(sum.PeakConns, r.loop.TCP().Conns())
				sum.PeakSlabInUse = max(sum.PeakSlabInUse, r.slab.InUse())
			})
		case <-timeout.C:
			mu.Lock()
			msg := strings.Join(failures, "; ")
			mu.Unlock()
			t.Fatalf("soak did not drain: %d shard dials and %d kernel servers outstanding, clients running %v; failures: %s",
				len(dialing), kernelWaiting, clientsRunning, msg)
		}
	}
	ln.Close()
	<-listenDone
	sum.Duration = time.Since(start)
	// Faults off: frames held for reordering go out at once.
	var st tcp.Stats
	var ipst ip.Stats
	if err := r.onShard(func() {
		sum.Faults = r.fq.FaultStats()
		r.fq.SetFaults(fault.Faults{}, fault.Faults{})
		st, ipst = r.loop.TCP().Stats(), r.loop.IP().Stats()
	}); err != nil {
		t.Fatal(err)
	}
	sum.ShardTCP = st
	sum.ChecksumDrops = ipst.Drops[ip.DropIPv4Checksum] + st.Drops[tcp.DropBadChecksum]
	sum.Retransmits, sum.RTOs = st.Retransmits, st.RTOs
	mu.Lock()
	if len(failures) > 0 {
		t.Errorf("%d failures:\n  %s", len(failures), strings.Join(failures, "\n  "))
	}
	mu.Unlock()

	// Everything returns to its baseline once TIME-WAIT (2 s here) and
	// the last timers have run.
	var after Baseline
	back := time.Now().Add(30 * time.Second)
	for {
		// Drain the shard side of the last kernel clients.
	drain:
		for {
			select {
			case res := <-results:
				if res.Err != nil {
					t.Errorf("shard side %v:%d: %v", res.Remote, res.Port, res.Err)
				}
			default:
				break drain
			}
		}
		if after, err = r.baseline(); err != nil {
			t.Fatal(err)
		}
		if after.SlabInUse <= before.SlabInUse && after.Conns == before.Conns && after.Timers == before.Timers &&
			after.Goroutines <= before.Goroutines && after.FDs == before.FDs {
			break
		}
		if time.Now().After(back) {
			t.Errorf("not back at baseline 30 s after the traffic:\n  before %+v\n  after  %+v", before, after)
			break
		}
		time.Sleep(100 * time.Millisecond) // waiting for TIME-WAIT timers, not for a signal
	}
	sum.After = after
	if fs := sum.Faults; fs.Rx.Dropped+fs.Tx.Dropped == 0 || fs.Rx.Duplicated+fs.Tx.Duplicated == 0 ||
		fs.Rx.Reordered+fs.Tx.Reordered == 0 || fs.Rx.Corrupted+fs.Tx.Corrupted == 0 {
		t.Errorf("a fault kind was never injected: %+v", fs)
	}
	if fs := sum.Faults; fs.Rx.Corrupted > 0 && sum.ChecksumDrops == 0 {
		t.Errorf("%d corrupted frames reached the shard and no checksum rejected one", fs.Rx.Corrupted)
	}
	if sum.KernelClients == 0 || sum.ShardDials == 0 {
		t.Errorf("a role carried no completed transfer: %d kernel clients, %d shard dials", sum.KernelClients, sum.ShardDials)
	}
	return sum
}
