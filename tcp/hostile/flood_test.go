package hostile

import (
	"flag"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/tcp"
)

var (
	floodCount = flag.Int("hostile.flood", 20000, "spoofed SYNs sent by TestHostileSynFlood")
	floodRate  = flag.Int("hostile.floodrate", 10000, "spoofed SYNs per second (0: as fast as the socket takes them)")
)

// TestHostileSynFlood sends spoofed SYNs from random hosts of the test
// subnet (addresses nobody owns, so nobody answers the SYN-ACKs or the
// ARP requests for them) while kernel clients keep running verified
// transfers. With SYN cookies the legitimate transfers must all succeed,
// the connection table and the slab must stay bounded, and the ARP
// resolution queue must shed what it cannot hold (counted).
func TestHostileSynFlood(t *testing.T) {
	r := newRig(t, rigConfig{})
	cfg := r.loop.TCP().Config()
	g := r.startLegit(2, 1<<20)
	tx := openRaw(t, r.ns, r.ifname, nil)
	n := *floodCount
	frames := make([][]byte, n)
	for i := range frames {
		host := byte(4 + rand.IntN(251)) // .4 to .254: not the kernel, the shard or the made-up host
		mac := [6]byte{0x02, 0x5f, byte(rand.Uint32()), byte(rand.Uint32()), r.subnet, host}
		frames[i] = r.seg(segSpec{srcMAC: mac, src: [4]byte{198, 18, r.subnet, host},
			sport: uint16(1024 + rand.IntN(64000)), dport: xferPort, seq: rand.Uint32(), flags: fSYN, window: 64240,
			opts: opts(2, 4, 5, 180, 4, 2, 1, 3, 3, 7)}).build()
	}

	// Sample the shard's state while the flood runs.
	type peak struct{ conns, slab, timers int }
	var pk peak
	var samples int
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			done := make(chan peak, 1)
			if r.group.Shards()[0].Inbox().Post(func() {
				done <- peak{r.loop.TCP().Conns(), r.slab.InUse(), r.loop.Wheel().Len()}
			}) != nil {
				return
			}
			select {
			case p := <-done:
				samples++
				pk.conns, pk.slab, pk.timers = max(pk.conns, p.conns), max(pk.slab, p.slab), max(pk.timers, p.timers)
			case <-time.After(10 * time.Second):
				return
			}
		}
	}()

	legitBefore, _ := g.status()
	before := r.counters()
	dropsBefore := tapTxDropped(t, r)
	start := time.Now()
	for i, f := range frames {
		if *floodRate > 0 && i%100 == 0 {
			// Pace the flood: frame i is due at start + i/rate.
			if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(*floodRate))); d > 0 {
				time.Sleep(d)
			}
		}
		if err := tx.trySend(f); err != nil {
			t.Fatalf("flood frame %d: %v", i, err)
		}
	}
	elapsed := time.Since(start)
	// The shard has handled the whole flood once a fence is answered.
	r.fence()
	floodEnd := time.Since(start)
	mid, _ := g.status()
	g.servedSince(t, mid) // a transfer that started during or after the flood completes
	after := r.counters()
	close(stopSampling)
	sampler.Wait()
	legitAfter, fails := g.status()
	if len(fails) > 0 {
		t.Fatalf("legitimate transfers failed: %s", strings.Join(fails, "; "))
	}
	tapDrops := tapTxDropped(t, r) - dropsBefore

	d := func(f func(c *counters) uint64) uint64 { return f(&after) - f(&before) }
	cookies := d(func(c *counters) uint64 { return c.tcp.SynCookiesSent })
	opens := d(func(c *counters) uint64 { return c.tcp.PassiveOpens })
	connLimit := d(func(c *counters) uint64 { return c.tcp.Drops[tcp.DropConnLimit] })
	arpQ := d(func(c *counters) uint64 { return c.ip.Drops[ip.DropARPQueueFull] })
	arpT := d(func(c *counters) uint64 { return c.ip.Drops[ip.DropARPTableFull] })
	arpU := d(func(c *counters) uint64 { return c.ip.Drops[ip.DropARPUnresolved] })
	received := cookies + opens + connLimit
	t.Logf("flood: %d SYNs sent in %v (%.0f/s); the shard took %d SYNs (cookies %d, half-open %d, conn limit %d) in %v (%.0f/s); TAP dropped %d",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), received, cookies, opens, connLimit,
		floodEnd.Round(time.Millisecond), float64(received)/floodEnd.Seconds(), tapDrops)
	t.Logf("peaks over %d samples: connections %d (backlog %d, max %d), slab frames in use %d of %d, timers %d; now: %d conns, %d frames",
		samples, pk.conns, cfg.SynBacklog, cfg.MaxConns, pk.slab, r.slab.Frames(), pk.timers, after.conns, after.slab)
	t.Logf("ARP: queue full %d, table full %d, unresolved %d, requests sent %d; legitimate transfers during the run: %d, all verified",
		arpQ, arpT, arpU, after.ip.ARPRequestOut-before.ip.ARPRequestOut, legitAfter-legitBefore)

	if cookies == 0 {
		t.Errorf("no SYN cookie was sent")
	}
	if received < uint64(n)/2 {
		t.Errorf("the shard saw only %d of %d SYNs: the flood did not reach it", received, n)
	}
	if arpQ+arpT == 0 {
		t.Errorf("the ARP queue shed nothing: SYN-ACKs to %d unanswered hosts were all held?", n)
	}
	// Half-open connections are bounded by the backlog; the rest are the
	// legitimate transfers, open or in TIME-WAIT.
	legit := legitAfter - legitBefore + 8
	if bound := cfg.SynBacklog + legit; pk.conns > bound {
		t.Errorf("peak connections %d > backlog %d + legitimate %d", pk.conns, cfg.SynBacklog, legit)
	}
	// Frames: at most the ARP queue's bound plus a few bursts in flight.
	if bound := r.loop.IP().Config().ARPPendingTotal + 512; pk.slab > bound {
		t.Errorf("peak slab frames in use %d > %d", pk.slab, bound)
	}
}

// tapTxDropped reads the TAP's host-side tx_dropped counter: frames the
// kernel could not queue to the shard (its queue was full).
func tapTxDropped(t testing.TB, r *rig) uint64 {
	out, err := r.ns.Run(10*time.Second, "cat", "/sys/class/net/"+r.ifname+"/statistics/tx_dropped")
	if err != nil {
		t.Fatalf("reading tx_dropped: %v: %s", err, out)
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	return v
}
