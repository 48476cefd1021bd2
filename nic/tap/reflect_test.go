//go:build linux

package tap

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
)

// tapReflector is nic/afxdp's BenchmarkReflect set-up on TAP: two TAP
// devices in one namespace, each one's ingress redirected (tc matchall +
// mirred) to the other's egress, so a frame written on a's queue is read
// on b's, and back. The kernel does no forwarding or protocol work: what
// is measured is the driver's per-frame cost (a write(2) and a read(2) per
// frame each way) plus the kernel's redirect.
type tapReflector struct {
	qa, qb  *Queue
	slab    *buf.Slab
	tmpl    []byte
	meta    buf.Meta
	out, in []*buf.Packet
	lost    int
}

func newTapReflector(tb testing.TB, size int, vnet bool) *tapReflector {
	tb.Helper()
	needRoot(tb)
	ns := newNS(tb)
	h := nlHandle(tb, ns)
	slab := newSlab(tb, 1024, buf.DefaultFrameSize, buf.DefaultHeadroom)
	var devs [2]*Device
	var qs [2]*Queue
	for i := range devs {
		d, err := Open(Config{Name: fmt.Sprintf("tr%x", rand.Uint32()), VnetHdr: vnet, NetNS: ns})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { d.Close() })
		q, err := d.Queue(0, slab)
		if err != nil {
			tb.Fatal(err)
		}
		devs[i], qs[i] = d, q.(*Queue)
	}
	for i, d := range devs {
		other := devs[1-i]
		if err := h.QdiscAdd(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: d.Index(),
			Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}}); err != nil {
			tb.Skipf("tc ingress qdisc unavailable: %v", err)
		}
		// u32 matching every frame (one key, mask 0): present on more
		// kernels than matchall.
		if err := h.FilterAdd(&netlink.U32{FilterAttrs: netlink.FilterAttrs{LinkIndex: d.Index(),
			Parent: netlink.MakeHandle(0xffff, 0), Priority: 1, Protocol: unix.ETH_P_ALL},
			Sel:     &netlink.TcU32Sel{Flags: nl.TC_U32_TERMINAL, Nkeys: 1, Keys: []netlink.TcU32Key{{}}},
			Actions: []netlink.Action{netlink.NewMirredAction(other.Index())}}); err != nil {
			tb.Skipf("tc u32 filter with mirred unavailable: %v", err)
		}
	}
	f, start, off := udpFrame([6]byte{0x02, 0, 0, 0, 0, 0xbb}, stackMAC, stackIP, hostIP, 1000, 2000, make([]byte, size-42), false)
	return &tapReflector{qa: qs[0], qb: qs[1], slab: slab, tmpl: f, meta: buf.Meta{CsumStart: start, CsumOffset: off},
		out: make([]*buf.Packet, 32), in: make([]*buf.Packet, 32)}
}

// round sends n frames a→b, reflects them b→a (addresses swapped, as
// BenchmarkReflect does) and receives them on a; it returns how many came
// back. Every frame is read from the queue it was redirected to: a frame
// not there within a deadline counts as lost.
func (x *tapReflector) round(n int) int {
	for i := range x.out[:n] {
		p := x.slab.Alloc()
		copy(p.Append(len(x.tmpl)), x.tmpl)
		p.Meta = x.meta
		x.out[i] = p
	}
	sent := x.qa.TxBurst(x.out[:n])
	for _, p := range x.out[sent:n] {
		p.Release()
	}
	x.qa.Kick()
	end := time.Now().Add(200 * time.Millisecond)
	for got := 0; got < sent; {
		k := x.qb.RxBurst(x.in)
		if k == 0 {
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
			p.Meta = x.meta
		}
		took := x.qb.TxBurst(x.in[:k])
		for _, p := range x.in[took:k] {
			p.Release()
		}
		x.qb.Kick()
		got += k
	}
	back := 0
	end = time.Now().Add(200 * time.Millisecond)
	for back < sent {
		k := x.qa.RxBurst(x.in)
		for _, p := range x.in[:k] {
			p.Release()
		}
		back += k
		if k == 0 && time.Now().After(end) {
			break
		}
	}
	x.lost += n - back
	return back
}

// TestReflectZeroAllocs: the reflection path (TxBurst, RxBurst, Kick on
// two TAP queues) allocates nothing, and every frame comes back.
func TestReflectZeroAllocs(t *testing.T) {
	x := newTapReflector(t, 64, false)
	for i := 0; i < 20; i++ {
		if got := x.round(32); got != 32 {
			t.Fatalf("warm-up round %d: %d of 32 frames came back (a %+v, b %+v)", i, got, x.qa.Stats(), x.qb.Stats())
		}
	}
	if a := testing.AllocsPerRun(100, func() { x.round(32) }); a != 0 {
		t.Fatalf("%.1f allocations per round of 32 frames each way", a)
	}
	if x.lost != 0 {
		t.Fatalf("%d frames lost", x.lost)
	}
}

// BenchmarkReflect is nic/afxdp's BenchmarkReflect over TAP (same frame
// sizes, same bursts of 32, same metric): frames a→b→a between two TAP
// queues joined by tc mirred. One op is one frame's round trip, which is
// one TX and one RX on each queue; rxtx-pps/queue is per queue.
func BenchmarkReflect(b *testing.B) {
	for _, size := range []int{64, 1514} {
		for _, vnet := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/vnet=%v", size, vnet), func(b *testing.B) {
				x := newTapReflector(b, size, vnet)
				for i := 0; i < 20; i++ {
					x.round(32)
				}
				x.lost = 0
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
}
