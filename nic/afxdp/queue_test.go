//go:build linux

package afxdp_test

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic/afxdp"
)

// peerUDP opens a UDP socket in the peer namespace.
func (r *rig) peerUDP(t testing.TB, port int) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := r.b.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(r.peer[:]), Port: port})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRxTxOneQueue: datagrams from the kernel peer to the stack's address
// arrive on the socket intact, with their Ethernet header at the slab's
// headroom; a frame built and sent with TxBurst+Kick reaches the peer's
// UDP socket; every frame returns to the slab.
func TestRxTxOneQueue(t *testing.T) {
	r := newRig(t, 1)
	d := r.open(t, afxdp.Config{RingSize: 256})
	t.Logf("attached in %v mode", d.Mode())
	if d.HWAddr() != r.macA {
		t.Fatalf("HWAddr %x, want the interface's %x", d.HWAddr(), r.macA)
	}
	slab := newSlab(t, 1024)
	q := queue(t, d, 0, slab)
	if c := q.Caps(); c.MTU != 1500 || c.HWAddr != r.macA || c.TxCsumOffload || c.RxCsum {
		t.Fatalf("caps %+v", c)
	}
	r.b.MustRun(t, "ip", "neigh", "replace", ip4(r.stack), "lladdr", mac(r.macA), "dev", r.ifB)
	c := r.peerUDP(t, 7000)

	// Kernel → stack.
	const n = 20
	to := &net.UDPAddr{IP: net.IP(r.stack[:]), Port: 9}
	for i := 0; i < n; i++ {
		if _, err := c.WriteTo([]byte(fmt.Sprintf("datagram %02d", i)), to); err != nil {
			t.Fatal(err)
		}
	}
	pkts := make([]*buf.Packet, 8)
	got := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		k := q.RxBurst(pkts)
		for _, p := range pkts[:k] {
			f := p.Data()
			if p.Offset() != slab.Headroom() {
				t.Errorf("frame at offset %d, want the headroom %d", p.Offset(), slab.Headroom())
			}
			if len(f) >= 42+11 && f[23] == 17 && bytes.Equal(f[30:34], r.stack[:]) {
				got[string(f[42:53])] = true
			}
			if p.Meta.Queue != 0 {
				t.Errorf("Meta.Queue %d", p.Meta.Queue)
			}
			p.Release()
		}
		if k == 0 {
			waitReadable(q, 100*time.Millisecond)
		}
	}
	if len(got) != n {
		t.Fatalf("received %d of %d datagrams: %v (stats %+v drops %+v)", len(got), n, got, q.Stats(), q.Drops())
	}

	// Stack → kernel.
	f := udpFrame(r.macB, r.macA, r.stack, r.peer, 9, 7000, []byte("hello from AF_XDP"))
	p := slab.Alloc()
	copy(p.Append(len(f)), f)
	if q.TxBurst([]*buf.Packet{p}) != 1 {
		t.Fatal("TxBurst refused")
	}
	if err := q.Kick(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 100)
	m, from, err := c.ReadFrom(b)
	if err != nil {
		t.Fatalf("peer read: %v (stats %+v drops %+v)", err, q.Stats(), q.Drops())
	}
	if string(b[:m]) != "hello from AF_XDP" || !from.(*net.UDPAddr).IP.Equal(net.IP(r.stack[:])) {
		t.Fatalf("peer got %q from %v", b[:m], from)
	}
	// The completion comes back on a later Kick.
	// The completion comes back to a later Kick: then only the fill
	// ring's 256 frames are the kernel's.
	for end := time.Now().Add(5 * time.Second); q.InKernel() != 256 && time.Now().Before(end); {
		q.Kick()
	}
	if k := q.InKernel(); k != 256 {
		t.Fatalf("kernel holds %d frames after the TX completed, want the 256 of the fill ring", k)
	}
	st := q.Stats()
	if st.RxPackets < n || st.TxPackets != 1 || st.RxErrors != 0 || st.TxErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func mac(m [6]byte) string { return net.HardwareAddr(m[:]).String() }
