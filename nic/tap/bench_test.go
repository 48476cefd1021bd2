//go:build linux

package tap

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
)

// BenchmarkTxBurst writes bursts of 32 UDP frames (64 and 1514 bytes)
// addressed to another MAC, so the kernel takes each frame in and drops it
// early: this measures the write(2) per frame. One op is one frame.
func BenchmarkTxBurst(b *testing.B) {
	for _, size := range []int{64, 1514} {
		for _, vnet := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/vnet=%v", size, vnet), func(b *testing.B) {
				r := newRig(b, Config{VnetHdr: vnet}, nil)
				q := r.qs[0]
				other := [6]byte{0x02, 0, 0, 0, 0, 0x99}
				f, start, off := udpFrame(other, stackMAC, stackIP, hostIP, 1, 2, make([]byte, size-42), vnet)
				meta := buf.Meta{CsumPartial: vnet, CsumStart: start, CsumOffset: off}
				burst := make([]*buf.Packet, 32)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for sent := 0; sent < b.N; {
					n := min(len(burst), b.N-sent)
					for i := range burst[:n] {
						p := r.slab.Alloc()
						copy(p.Append(len(f)), f)
						p.Meta = meta
						burst[i] = p
					}
					if k := q.TxBurst(burst[:n]); k != n {
						b.Fatalf("TxBurst took %d of %d (stats %+v)", k, n, q.Stats())
					}
					sent += n
				}
				b.StopTimer()
				if s := q.Stats(); s.TxErrors != 0 {
					b.Fatalf("stats %+v", s)
				}
			})
		}
	}
}

// BenchmarkARPRoundTrip: one ARP request out, the kernel's reply in, on
// one queue; one op is one round trip (two frames, plus a poll when the
// reply is not there yet).
func BenchmarkARPRoundTrip(b *testing.B) {
	r := newRig(b, Config{}, nil)
	q := r.qs[0]
	req := arpRequest(stackMAC, stackIP, hostIP)
	tx := make([]*buf.Packet, 1)
	rx := make([]*buf.Packet, 8)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := r.slab.Alloc()
		copy(p.Append(len(req)), req)
		tx[0] = p
		if q.TxBurst(tx) != 1 {
			b.Fatal("TxBurst refused")
		}
		for got := false; !got; {
			n := q.RxBurst(rx)
			for _, p := range rx[:n] {
				d := p.Data()
				got = got || (len(d) == 42 && d[13] == 0x06 && d[21] == 2)
				p.Release()
			}
			if !got {
				if k, _ := unix.Poll(r.pfds, 5000); k == 0 {
					b.Fatal("no reply")
				}
			}
		}
	}
}
