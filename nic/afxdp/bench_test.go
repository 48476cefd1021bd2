//go:build linux

package afxdp_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/nic/afxdp"
	"github.com/shardnet/shardnet/nic/tap"
)

// reflector is a driver on each end of the veth: a on the rig's a side
// (stack address .3), b on the peer side (.4). Frames from a to .4 are
// redirected to b's socket; b swaps addresses and sends them back.
type reflector struct {
	r        *rig
	qa, qb   *afxdp.Queue
	sa, sb   *buf.Slab
	tmpl     []byte
	out, in  []*buf.Packet
	lost     int
	deadline time.Duration
}

func newReflector(t testing.TB, size int) *reflector {
	r := newRig(t, 1)
	da := r.open(t, afxdp.Config{RingSize: 512})
	db, err := afxdp.Open(afxdp.Config{Iface: r.ifB, NetNS: r.b.Handle, Addr: r.stack2, RingSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	x := &reflector{r: r, sa: newSlab(t, 2048), sb: newSlab(t, 2048), deadline: 200 * time.Millisecond}
	x.qa = queue(t, da, 0, x.sa)
	x.qb = queue(t, db, 0, x.sb)
	x.tmpl = udpFrame(r.macB, r.macA, r.stack, r.stack2, 1000, 2000, make([]byte, size-42))
	x.out = make([]*buf.Packet, 32)
	x.in = make([]*buf.Packet, 32)
	return x
}

// round sends n frames a→b, reflects them b→a, and receives them on a.
// It returns how many came back.
func (x *reflector) round(n int) int {
	for i := range x.out[:n] {
		p := x.sa.Alloc()
		copy(p.Append(len(x.tmpl)), x.tmpl)
		x.out[i] = p
	}
	sent := x.qa.TxBurst(x.out[:n])
	for _, p := range x.out[sent:n] {
		p.Release()
	}
	x.qa.Kick()
	// b: receive and reflect.
	end := time.Now().Add(x.deadline)
	for got := 0; got < sent; {
		k := x.qb.RxBurst(x.in)
		if k == 0 {
			x.qa.Kick()
			if time.Now().After(end) {
				break
			}
			continue
		}
		for _, p := range x.in[:k] {
			f := p.Data()
			var m [6]byte
			copy(m[:], f[0:6])
			copy(f[0:6], f[6:12])
			copy(f[6:12], m[:])
			var a [4]byte
			copy(a[:], f[26:30])
			copy(f[26:30], f[30:34])
			copy(f[30:34], a[:])
		}
		took := x.qb.TxBurst(x.in[:k])
		for _, p := range x.in[took:k] {
			p.Release()
		}
		x.qb.Kick()
		got += k
	}
	// a: receive.
	back := 0
	end = time.Now().Add(x.deadline)
	for back < sent {
		k := x.qa.RxBurst(x.in)
		for _, p := range x.in[:k] {
			p.Release()
		}
		back += k
		if k == 0 {
			x.qb.Kick()
			if time.Now().After(end) {
				break
			}
		}
	}
	x.qa.Kick()
	x.lost += n - back
	return back
}

// TestZeroAllocsPerFrame: RxBurst, TxBurst and Kick (with fill-ring
// refills and completion reaping) allocate nothing in steady state.
func TestZeroAllocsPerFrame(t *testing.T) {
	x := newReflector(t, 64)
	for i := 0; i < 50; i++ { // warm up: rings, caches; more frames than the fill ring holds
		x.round(32)
	}
	if x.lost > 50*32/10 {
		t.Fatalf("%d of %d frames lost in warm-up (a stats %+v, drops %+v; b drops %+v)", x.lost, 50*32, x.qa.Stats(), x.qa.Drops(), x.qb.Drops())
	}
	allocs := testing.AllocsPerRun(200, func() { x.round(32) })
	if allocs != 0 {
		t.Fatalf("%.1f allocations per round of 32 frames each way, want 0", allocs)
	}
	if x.lost > 0 {
		t.Logf("%d frames lost (veth ring full): not an allocation", x.lost)
	}
	if st := x.qa.Stats(); st.RxPackets < 250*32*9/10 || st.TxErrors != 0 || st.RxErrors != 0 {
		t.Fatalf("a stats %+v", st)
	}
}

// BenchmarkReflect: frames a→b→a between two AF_XDP queues (copy mode,
// native XDP on veth). One op is one frame's round trip, which is one TX
// and one RX on each queue; rxtx-pps/queue is per queue.
func BenchmarkReflect(b *testing.B) {
	for _, size := range []int{64, 1514} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			x := newReflector(b, size)
			for i := 0; i < 20; i++ {
				x.round(32)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			start := time.Now()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(32, b.N-done)
				x.round(n)
				done += n
			}
			el := time.Since(start)
			b.ReportMetric(2*float64(b.N)/el.Seconds(), "rxtx-pps/queue")
			b.ReportMetric(float64(x.lost), "lost")
		})
	}
}

var pingTime = regexp.MustCompile(`(\d+) received.*time (\d+)ms`)

// BenchmarkPingFlood: the peer kernel flood-pings the stack (reactor +
// ip) with 32 requests in flight, over AF_XDP and over a TAP. One op is
// one echo: one RX and one TX on the shard's queue.
func BenchmarkPingFlood(b *testing.B) {
	for _, drv := range []string{"afxdp", "tap"} {
		b.Run(drv, func(b *testing.B) {
			r := newRig(b, 1)
			switch drv {
			case "afxdp":
				d := r.open(b, afxdp.Config{RingSize: 512})
				startStacks(b, r, d.Queue, 1, d.HWAddr())
			case "tap":
				// The TAP lives in ns b; the stack is its own host there.
				d, err := tap.Open(tap.Config{Name: fmt.Sprintf("tp%x", r.subnet), Queues: 1,
					HostAddr: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, r.subnet, 1}), 24), NetNS: r.b.Handle})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { d.Close() })
				r.stack = [4]byte{198, 19, r.subnet, 3}
				startStacks(b, r, func(i int, slab *buf.Slab) (nic.Queue, error) { return d.Queue(i, slab) },
					1, [6]byte{0x02, 0x5e, 0, 0, r.subnet, 3})
			}
			r.ping(b, r.stack, 2, 56) // resolve ARP first
			b.ResetTimer()
			out, err := r.b.Run(5*time.Minute, "ping", "-n", "-q", "-f", "-l", "32", "-c", strconv.Itoa(max(b.N, 1000)), ip4(r.stack))
			b.StopTimer()
			m := pingTime.FindStringSubmatch(out)
			if err != nil || m == nil {
				b.Fatalf("ping: %v\n%s", err, out)
			}
			got, _ := strconv.Atoi(m[1])
			ms, _ := strconv.Atoi(m[2])
			if got < max(b.N, 1000)*99/100 {
				b.Fatalf("ping lost replies:\n%s", out)
			}
			b.ReportMetric(2*float64(got)/(float64(max(ms, 1))/1000), "rxtx-pps/queue")
		})
	}
}
