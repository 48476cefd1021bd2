//go:build linux

package afxdp_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/nic/afxdp"
)

// rig is a veth pair between two fresh namespaces: "a" holds the interface
// the driver runs on (with the host's own address, .1), "b" the kernel
// peer (.2, TX checksum offload off). The stack's address is .3; b's
// second address for a reflecting driver is .4.
type rig struct {
	a, b          *nstest.NS
	ifA, ifB      string
	macA, macB    [6]byte
	host, peer    [4]byte
	stack, stack2 [4]byte
	subnet        byte
}

func newRig(t testing.TB, queues int) *rig {
	t.Helper()
	nstest.RequireRoot(t, "ping", "ethtool")
	s := byte(1 + rand.IntN(250))
	r := &rig{
		a:      nstest.New(t, "shn-xa"),
		b:      nstest.New(t, "shn-xb"),
		ifA:    fmt.Sprintf("xa%x", rand.Uint32()),
		ifB:    fmt.Sprintf("xb%x", rand.Uint32()),
		host:   [4]byte{198, 18, s, 1},
		peer:   [4]byte{198, 18, s, 2},
		stack:  [4]byte{198, 18, s, 3},
		stack2: [4]byte{198, 18, s, 4},
		subnet: s,
	}
	h, err := netlink.NewHandleAt(r.a.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	veth := &netlink.Veth{
		LinkAttrs:       netlink.LinkAttrs{Name: r.ifA, NumTxQueues: queues, NumRxQueues: queues, MTU: 1500},
		PeerName:        r.ifB,
		PeerNamespace:   netlink.NsFd(int(r.b.Handle)),
		PeerNumTxQueues: uint32(queues),
		PeerNumRxQueues: uint32(queues),
	}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatalf("creating veth pair: %v", err)
	}
	for _, c := range []struct {
		ns   *nstest.NS
		name string
		addr [4]byte
		mac  *[6]byte
	}{{r.a, r.ifA, r.host, &r.macA}, {r.b, r.ifB, r.peer, &r.macB}} {
		c.ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
		c.ns.MustRun(t, "ip", "addr", "add", fmt.Sprintf("%s/24", ip4(c.addr)), "dev", c.name)
		c.ns.MustRun(t, "ip", "link", "set", c.name, "up")
		out := c.ns.MustRun(t, "cat", "/sys/class/net/"+c.name+"/address")
		hw, err := net.ParseMAC(string(out[:17]))
		if err != nil {
			t.Fatal(err)
		}
		copy(c.mac[:], hw)
	}
	r.b.MustRun(t, "ethtool", "-K", r.ifB, "tx", "off")
	return r
}

func ip4(a [4]byte) string { return net.IP(a[:]).String() }

// open opens the driver on a's interface for the stack's address.
func (r *rig) open(t testing.TB, cfg afxdp.Config) *afxdp.Device {
	t.Helper()
	cfg.Iface = r.ifA
	cfg.NetNS = r.a.Handle
	if cfg.Addr == ([4]byte{}) {
		cfg.Addr = r.stack
	}
	d, err := afxdp.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// xdpOn reports the XDP program attached to the interface in ns, if any.
func xdpOn(t testing.TB, ns *nstest.NS, name string) *netlink.LinkXdp {
	t.Helper()
	h, err := netlink.NewHandleAt(ns.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if x := l.Attrs().Xdp; x != nil && x.Attached {
		return x
	}
	return nil
}

// newSlab makes a slab checked for leaks at cleanup (after queues close:
// register it before the queue).
func newSlab(t testing.TB, frames int) *buf.Slab {
	t.Helper()
	s, err := buf.NewSlab(frames, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n := s.InUse(); n != 0 {
			t.Errorf("slab leak: %d frames in use", n)
		}
		s.Close()
	})
	return s
}

// queue takes queue i and closes it at cleanup (before its slab).
func queue(t testing.TB, d *afxdp.Device, i int, slab *buf.Slab) *afxdp.Queue {
	t.Helper()
	q, err := d.Queue(i, slab)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q.(*afxdp.Queue)
}

// udpFrame builds an Ethernet/IPv4/UDP frame (UDP checksum zero: none).
func udpFrame(dstMAC, srcMAC [6]byte, src, dst [4]byte, sport, dport uint16, payload []byte) []byte {
	f := make([]byte, 42+len(payload))
	copy(f[0:6], dstMAC[:])
	copy(f[6:12], srcMAC[:])
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(f[42:], payload)
	return f
}

// waitReadable polls q's fd up to d.
func waitReadable(q *afxdp.Queue, d time.Duration) bool {
	pfd := []unix.PollFd{{Fd: int32(q.Fd()), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, int(d/time.Millisecond))
	return err == nil && n > 0
}

// skipUnsupported skips when the kernel cannot do AF_XDP at all.
func skipUnsupported(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, afxdp.ErrUnsupported) {
		t.Skipf("AF_XDP unsupported here: %v", err)
	}
}

type afxdpMode int

const (
	modeDriver afxdpMode = iota
	modeGeneric
)

func (m afxdpMode) String() string { return m.want().String() }

func (m afxdpMode) want() afxdp.Mode {
	if m == modeGeneric {
		return afxdp.ModeGeneric
	}
	return afxdp.ModeDriver
}

func (m afxdpMode) config() afxdp.Config { return afxdp.Config{Mode: m.want(), RingSize: 512} }

func netnsHandle(fd int) netns.NsHandle { return netns.NsHandle(fd) }
