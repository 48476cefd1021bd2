//go:build linux

package tap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
)

func netipPrefix(ip [4]byte, bits int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4(ip), bits)
}

func TestOpenConfiguresHostSide(t *testing.T) {
	r := newRig(t, Config{Name: "shn-cfg", Queues: 2, MTU: 1400}, nil)
	link, err := r.nl.LinkByName("shn-cfg")
	if err != nil {
		t.Fatal(err)
	}
	tt, ok := link.(*netlink.Tuntap)
	if !ok {
		t.Fatalf("link type %s, want tuntap", link.Type())
	}
	a := link.Attrs()
	if tt.Mode != netlink.TUNTAP_MODE_TAP || tt.Flags&netlink.TUNTAP_MULTI_QUEUE == 0 || tt.Flags&netlink.TUNTAP_NO_PI == 0 {
		t.Errorf("mode %v flags %v: want a multiqueue TAP without PI", tt.Mode, tt.Flags)
	}
	if tt.Queues != 2 {
		t.Errorf("kernel reports %d queues attached, want 2", tt.Queues)
	}
	if !tt.NonPersist {
		t.Error("device is persistent; Open must not make it so")
	}
	if a.MTU != 1400 {
		t.Errorf("MTU %d, want 1400", a.MTU)
	}
	if a.Flags&net.FlagUp == 0 {
		t.Error("link is not up")
	}
	if a.Index != r.dev.Index() || r.dev.Index() <= 0 {
		t.Errorf("Index() = %d, netlink says %d", r.dev.Index(), a.Index)
	}
	if mac := r.dev.HostMAC(); !bytes.Equal(mac[:], a.HardwareAddr) || mac == ([6]byte{}) {
		t.Errorf("HostMAC() = %x, netlink says %s", mac, a.HardwareAddr)
	}
	if r.dev.Name() != "shn-cfg" {
		t.Errorf("Name() = %q", r.dev.Name())
	}
	addrs, err := r.nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != "198.18.7.1/24" {
		t.Errorf("addresses %v, want exactly 198.18.7.1/24", addrs)
	}
	if c := r.qs[0].Caps(); c != (nic.Caps{MTU: 1400}) {
		t.Errorf("Caps() = %+v, want MTU 1400 and no offloads", c)
	}
	if r.qs[0].Fd() == r.qs[1].Fd() || r.qs[0].Fd() < 0 {
		t.Errorf("queue fds %d and %d: want two distinct fds", r.qs[0].Fd(), r.qs[1].Fd())
	}
	if fl, err := unix.FcntlInt(uintptr(r.qs[1].Fd()), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("queue fd flags %#x (%v): want O_NONBLOCK", fl, err)
	}
	// The device is not in the test's own namespace.
	if _, err := netlink.LinkByName("shn-cfg"); err == nil {
		t.Error("device also visible in the caller's namespace")
	}
}

// An ARP request built by hand goes out through each queue, and the
// kernel's reply comes back: a round trip through the kernel, with and
// without the virtio header.
func TestARPRoundTrip(t *testing.T) {
	for _, vnet := range []bool{false, true} {
		t.Run(fmt.Sprintf("vnet=%v", vnet), func(t *testing.T) {
			r := newRig(t, Config{Queues: 2, VnetHdr: vnet}, nil)
			host := r.dev.HostMAC()
			for qi := range r.qs {
				f := r.arpRoundTrip(qi)
				op, sha, spa, tha, tpa, _ := arpFields(f.data)
				if op != 2 || sha != host || spa != hostIP || tha != stackMAC || tpa != stackIP {
					t.Errorf("reply op %d %x/%v -> %x/%v", op, sha, spa, tha, tpa)
				}
				if ethDst(f.data) != stackMAC || ethSrc(f.data) != host {
					t.Errorf("reply Ethernet %x -> %x, want %x -> %x", ethSrc(f.data), ethDst(f.data), host, stackMAC)
				}
				if len(f.data) != 42 {
					t.Errorf("reply is %d bytes, want 42 (no padding on a TAP)", len(f.data))
				}
			}
			var tx, rx nic.Stats
			for _, q := range r.qs {
				s := q.Stats()
				tx.TxPackets += s.TxPackets
				tx.TxBytes += s.TxBytes
				rx.RxPackets += s.RxPackets
				if s.TxErrors+s.RxErrors+s.TxFull+s.RxNoBuf != 0 {
					t.Errorf("error counters: %+v", s)
				}
			}
			if tx.TxPackets != 2 || tx.TxBytes != 84 {
				t.Errorf("TxPackets %d TxBytes %d, want 2 and 84 (virtio header not counted)", tx.TxPackets, tx.TxBytes)
			}
			if rx.RxPackets < 2 {
				t.Errorf("RxPackets %d, want >= 2", rx.RxPackets)
			}
		})
	}
}

// Echo requests get replies; with VnetHdr the request goes with a zero
// checksum field and NEEDS_CSUM, which the kernel must honour.
func TestICMPEcho(t *testing.T) {
	for _, vnet := range []bool{false, true} {
		t.Run(fmt.Sprintf("vnet=%v", vnet), func(t *testing.T) {
			r := newRig(t, Config{VnetHdr: vnet}, nil)
			host := r.dev.HostMAC()
			payload := []byte("shardnet tap echo payload")
			f, start, off := icmpEcho(host, stackMAC, stackIP, hostIP, 0x5348, 7, payload, vnet)
			r.send(0, f, buf.Meta{CsumPartial: vnet, CsumStart: start, CsumOffset: off})
			r.recv("echo reply", 5*time.Second, func(f rxFrame) bool {
				id, seq, pl, ok := icmpEchoReplyOf(f.data)
				if !ok || id != 0x5348 || seq != 7 {
					return false
				}
				if !bytes.Equal(pl, payload) {
					t.Errorf("echo payload %q, want %q", pl, payload)
				}
				return true
			})
		})
	}
}

// A UDP datagram with only the pseudo-header sum in its checksum field is
// rejected by the kernel as sent, and accepted when the virtio header says
// NEEDS_CSUM: TX checksum offload works without TUNSETOFFLOAD.
func TestVnetTxChecksumOffload(t *testing.T) {
	r := newRig(t, Config{VnetHdr: true}, nil)
	if c := r.qs[0].Caps(); !c.TxCsumOffload || !c.RxCsum {
		t.Fatalf("Caps() = %+v, want both checksum offloads with VnetHdr", c)
	}
	c := r.listenUDP(9999)
	host := r.dev.HostMAC()
	bad, start, off := udpFrame(host, stackMAC, stackIP, hostIP, 40000, 9999, []byte("not offloaded"), true)
	good, _, _ := udpFrame(host, stackMAC, stackIP, hostIP, 40000, 9999, []byte("offloaded"), true)
	if _, _, _, ok := udpOf(bad); ok {
		t.Fatal("test bug: a partial checksum that is also a valid full one")
	}
	errs0 := udpInCsumErrors(t, r.ns)
	r.send(0, bad, buf.Meta{})
	r.send(0, good, buf.Meta{CsumPartial: true, CsumStart: start, CsumOffset: off})

	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 100)
	n, from, err := c.ReadFromUDP(b)
	if err != nil {
		t.Fatalf("no datagram reached the socket: %v", err)
	}
	if string(b[:n]) != "offloaded" || from.Port != 40000 {
		t.Fatalf("socket got %q from %v, want \"offloaded\" from port 40000", b[:n], from)
	}
	// tun delivers synchronously within write(2): the bad one was already
	// judged, and must have been counted as a checksum error.
	if got := udpInCsumErrors(t, r.ns) - errs0; got != 1 {
		t.Errorf("Udp InCsumErrors grew by %d, want 1 (the datagram without NEEDS_CSUM)", got)
	}
}

// udpInCsumErrors reads Udp InCsumErrors from the namespace's SNMP table.
func udpInCsumErrors(t *testing.T, ns netns.NsHandle) int {
	t.Helper()
	var text []byte
	var err error
	inNS(t, ns, func() { text, err = os.ReadFile("/proc/thread-self/net/snmp") })
	if err != nil {
		t.Fatal(err)
	}
	var names, vals []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 && f[0] == "Udp:" {
			if names == nil {
				names = f
			} else {
				vals = f
			}
		}
	}
	for i, n := range names {
		if n == "InCsumErrors" && i < len(vals) {
			v, _ := strconv.Atoi(vals[i])
			return v
		}
	}
	t.Fatalf("no Udp InCsumErrors in snmp:\n%s", text)
	return 0
}

// Flows the kernel starts are spread over the queues by hash.
func TestMultiqueueSpreadsFlows(t *testing.T) {
	r := newRig(t, Config{Queues: 2}, nil)
	r.addNeigh()
	c := r.listenUDP(0)
	const flows = 64
	for i := 0; i < flows; i++ {
		if _, err := c.WriteToUDP([]byte{byte(i)}, &net.UDPAddr{IP: net.IP(stackIP[:]), Port: 5000 + i}); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[uint16]int)
	var perQueue [2]int
	r.recv("64 datagrams", 5*time.Second, func(f rxFrame) bool {
		_, dport, pl, ok := udpOf(f.data)
		if !ok || dport < 5000 || dport >= 5000+flows {
			return false
		}
		if len(pl) != 1 || int(pl[0]) != int(dport-5000) {
			t.Errorf("port %d carried %v", dport, pl)
		}
		if _, dup := seen[dport]; dup {
			t.Errorf("port %d arrived twice", dport)
		}
		seen[dport] = f.queue
		perQueue[f.queue]++
		return len(seen) == flows
	})
	t.Logf("%d flows: %d on queue 0, %d on queue 1", flows, perQueue[0], perQueue[1])
	// With a working hash, all 64 on one queue has probability 2^-63.
	if perQueue[0] == 0 || perQueue[1] == 0 {
		t.Errorf("all flows on one queue: %v", perQueue)
	}
}

// The kernel sends a flow back on the queue the stack last wrote it on
// (tun's flow table), which is what lets a shard own its active opens.
func TestMultiqueueReplyFollowsSender(t *testing.T) {
	r := newRig(t, Config{Queues: 2}, nil)
	r.addNeigh()
	c := r.listenUDP(7)
	go func() { // echo server in the namespace; "prime" is not echoed
		b := make([]byte, 64)
		for {
			n, from, err := c.ReadFromUDP(b)
			if err != nil {
				return
			}
			if string(b[:n]) != "prime" {
				c.WriteToUDP(b[:n], from)
			}
		}
	}()
	host := r.dev.HostMAC()
	for k := 0; k < 16; k++ {
		sport, qi := uint16(41000+k), k%2
		// tun records the flow only after the kernel has taken the frame in,
		// and the echo server may answer before that; a first frame on the
		// new flow makes sure the entry exists when the echo is sent.
		prime, _, _ := udpFrame(host, stackMAC, stackIP, hostIP, sport, 7, []byte("prime"), false)
		r.send(qi, prime, buf.Meta{})
		f, _, _ := udpFrame(host, stackMAC, stackIP, hostIP, sport, 7, []byte{byte(k)}, false)
		r.send(qi, f, buf.Meta{})
		r.recv(fmt.Sprintf("echo to port %d", sport), 5*time.Second, func(f rxFrame) bool {
			sp, dp, pl, ok := udpOf(f.data)
			if !ok || sp != 7 || dp != sport {
				return false
			}
			if len(pl) != 1 || pl[0] != byte(k) {
				t.Errorf("echo payload %v, want [%d]", pl, k)
			}
			if f.queue != qi {
				t.Errorf("flow from port %d was sent on queue %d but came back on queue %d", sport, qi, f.queue)
			}
			return true
		})
	}
}

// A reply the kernel sends while still processing the written frame (here
// ARP; also ICMP echo, or TCP from a local socket) is steered before tun
// records that write: it follows the queue of the previous write on that
// flow hash. All ARP frames share one hash.
func TestMultiqueueSynchronousReplyLagsOneWrite(t *testing.T) {
	r := newRig(t, Config{Queues: 4}, nil)
	order := []int{1, 0, 3, 3, 2, 0, 1, 1}
	for i, qi := range order {
		f := r.arpRoundTrip(qi)
		if i > 0 && f.queue != order[i-1] {
			t.Errorf("ARP request %d written on queue %d: reply on queue %d, want %d (the previous writer)", i, qi, f.queue, order[i-1])
		}
	}
}

// A frame that does not fit the slab frame is dropped and counted, and
// the queue goes on.
func TestRxOversizeDropped(t *testing.T) {
	slab := newSlab(t, 64, 2048, 512) // 1536 bytes after the headroom, enough for MTU 1500
	r := newRig(t, Config{}, slab)
	r.addNeigh()
	link, err := r.nl.LinkByIndex(r.dev.Index())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.nl.LinkSetMTU(link, 1600); err != nil { // behind the driver's back
		t.Fatal(err)
	}
	c := r.listenUDP(0)
	to := &net.UDPAddr{IP: net.IP(stackIP[:]), Port: 9}
	if _, err := c.WriteToUDP(make([]byte, 1560), to); err != nil { // a 1602-byte frame
		t.Fatal(err)
	}
	if _, err := c.WriteToUDP([]byte("small"), to); err != nil {
		t.Fatal(err)
	}
	r.recv("the small datagram", 5*time.Second, func(f rxFrame) bool {
		_, dp, pl, ok := udpOf(f.data)
		if ok && dp == 9 && len(pl) > 5 {
			t.Errorf("a %d-byte frame was delivered into a 1536-byte buffer", len(f.data))
		}
		return ok && dp == 9 && string(pl) == "small"
	})
	if d := r.qs[0].Drops(); d.RxOversize != 1 || r.qs[0].Stats().RxErrors != 1 {
		t.Errorf("RxOversize %d, RxErrors %d; want 1 and 1", d.RxOversize, r.qs[0].Stats().RxErrors)
	}
}

// Frames shorter than an Ethernet header are refused by tun: counted,
// released, and the rest of the burst still goes.
func TestTxErrorSkipsFrame(t *testing.T) {
	r := newRig(t, Config{}, nil)
	short := r.slab.Alloc()
	copy(short.Append(10), "too short!")
	good := r.slab.Alloc()
	copy(good.Append(42), arpRequest(stackMAC, stackIP, hostIP))
	if n := r.qs[0].TxBurst([]*buf.Packet{short, good}); n != 2 {
		t.Fatalf("TxBurst took %d, want 2", n)
	}
	s := r.qs[0].Stats()
	if s.TxErrors != 1 || s.TxPackets != 1 || r.qs[0].Drops().TxWriteErr != 1 {
		t.Errorf("stats %+v drops %+v: want one write error and one packet", s, r.qs[0].Drops())
	}
	if r.slab.InUse() != 0 {
		t.Errorf("%d frames in use after TxBurst, want 0", r.slab.InUse())
	}
	r.recv("ARP reply after the error", 5*time.Second, func(f rxFrame) bool {
		op, _, spa, _, _, ok := arpFields(f.data)
		return ok && op == 2 && spa == hostIP
	})
}

// With the slab empty, a waiting frame is counted in RxNoBuf and left in
// the kernel until there is room.
func TestRxNoBufWaits(t *testing.T) {
	slab := newSlab(t, 4, buf.DefaultFrameSize, buf.DefaultHeadroom)
	r := newRig(t, Config{}, slab)
	q := r.qs[0]
	var held []*buf.Packet
	for i := 0; i < 3; i++ {
		held = append(held, slab.Alloc())
	}
	r.send(0, arpRequest(stackMAC, stackIP, hostIP), buf.Meta{}) // uses and frees the 4th
	held = append(held, slab.Alloc())
	if k, err := unix.Poll(r.pfds, 5000); k != 1 || err != nil {
		t.Fatalf("poll: %d, %v: no frame arrived", k, err)
	}
	if n := q.RxBurst(r.burst); n != 0 {
		t.Fatalf("RxBurst on an empty slab returned %d", n)
	}
	if s := q.Stats(); s.RxNoBuf != 1 || s.RxPackets != 0 {
		t.Errorf("RxNoBuf %d RxPackets %d, want 1 and 0", s.RxNoBuf, s.RxPackets)
	}
	for _, p := range held {
		p.Release()
	}
	r.recv("the ARP reply, still waiting", 5*time.Second, func(f rxFrame) bool {
		op, _, spa, _, _, ok := arpFields(f.data)
		return ok && op == 2 && spa == hostIP
	})
}

func TestOpenRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "shn-sixteen-byte", strings.Repeat("x", 40), ".", "..", "a/b", "a:b", "a b", "shn%d"} {
		d, err := Open(Config{Name: name})
		if !errors.Is(err, ErrBadName) {
			t.Errorf("Open(%q) = %v, want ErrBadName", name, err)
		}
		if d != nil {
			d.Close()
		}
	}
	_, err := Open(Config{Name: "shn-sixteen-byte"})
	if err == nil || !strings.Contains(err.Error(), "at most 15 bytes") {
		t.Errorf("long name error %q does not say how long a name may be", err)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Name: "shn0", Queues: -1}, {Name: "shn0", Queues: 257},
		{Name: "shn0", MTU: 67}, {Name: "shn0", MTU: 65536},
	} {
		if _, err := Open(cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("Open(%+v) = %v, want ErrBadConfig", cfg, err)
		}
	}
}

func TestOpenRejectsNameOfOtherDevice(t *testing.T) {
	needRoot(t)
	ns := newNS(t)
	h := nlHandle(t, ns)
	// (This kernel has no dummy module: a veth pair and a bridge stand in.)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "shn-veth"}, PeerName: "shn-vpeer"}
	for _, l := range []netlink.Link{&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "shn-br"}}, veth} {
		if err := h.LinkAdd(l); err != nil {
			t.Fatalf("adding %s: %v", l.Type(), err)
		}
	}
	for _, name := range []string{"shn-br", "shn-veth", "shn-vpeer"} {
		d, err := Open(Config{Name: name, NetNS: ns})
		if !errors.Is(err, ErrNameInUse) {
			t.Errorf("Open(%s) = %v, want ErrNameInUse", name, err)
		}
		if d != nil {
			d.Close()
		}
		if err != nil && !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name the device", err)
		}
	}
	// The veth is untouched.
	if l, err := h.LinkByName("shn-veth"); err != nil || l.Type() != "veth" {
		t.Errorf("veth after failed Open: %v, %v", l, err)
	}
}

func TestOpenTwiceIsBusy(t *testing.T) {
	r := newRig(t, Config{Name: "shn-busy", Queues: 2}, nil)
	d, err := Open(Config{Name: "shn-busy", NetNS: r.ns})
	if !errors.Is(err, ErrBusy) {
		t.Errorf("second Open = %v, want ErrBusy", err)
	}
	if d != nil {
		d.Close()
	}
	// The first device still has both queues.
	l, err := r.nl.LinkByName("shn-busy")
	if err != nil {
		t.Fatal(err)
	}
	if q := l.(*netlink.Tuntap).Queues; q != 2 {
		t.Errorf("first device has %d queues after the failed Open, want 2", q)
	}
}

// A persistent multiqueue TAP made beforehand (ip tuntap add ... multi_queue)
// is attached to, configured, and left in place by Close.
func TestOpenAttachesToPersistentTAP(t *testing.T) {
	needRoot(t)
	ns := newNS(t)
	h := nlHandle(t, ns)
	pers := &netlink.Tuntap{
		LinkAttrs: netlink.LinkAttrs{Name: "shn-pers"},
		Mode:      netlink.TUNTAP_MODE_TAP,
		Flags:     netlink.TUNTAP_MULTI_QUEUE_DEFAULTS,
		Queues:    1,
	}
	var err error
	// The library opens /dev/net/tun on the calling thread, so it must be
	// in the namespace.
	inNS(t, ns, func() { err = netlink.LinkAdd(pers) })
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range pers.Fds {
		f.Close() // persistent from now on, with no queue attached
	}
	if l, err := h.LinkByName("shn-pers"); err != nil || l.(*netlink.Tuntap).Queues != 0 {
		t.Fatalf("persistent TAP not set up: %v, %v", l, err)
	}
	d, err := Open(Config{Name: "shn-pers", Queues: 2, NetNS: ns, HostAddr: netipPrefix(hostIP, 24)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.LinkByName("shn-pers")
	if err != nil {
		t.Fatal(err)
	}
	if q := l.(*netlink.Tuntap).Queues; q != 2 || l.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("queues %d, flags %v: want 2 queues and up", q, l.Attrs().Flags)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = h.LinkByName("shn-pers")
	if err != nil {
		t.Fatalf("persistent device gone after Close: %v", err)
	}
	if q := l.(*netlink.Tuntap).Queues; q != 0 {
		t.Errorf("%d queues still attached after Close", q)
	}
	if err := h.LinkDel(l); err != nil {
		t.Fatal(err)
	}
}

// Without CAP_NET_ADMIN, creating the device fails with ErrPermission and
// an error that says what to do.
func TestOpenWithoutCapNetAdmin(t *testing.T) {
	needRoot(t)
	ns := newNS(t)
	errc := make(chan error, 1)
	go func() {
		// This thread is spoiled (namespace and capabilities): stay locked
		// so the runtime discards it when the goroutine exits.
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		if err := dropCapability(unix.CAP_NET_ADMIN); err != nil {
			errc <- err
			return
		}
		d, err := Open(Config{Name: "shn-noperm"})
		if d != nil {
			d.Close()
			err = errors.New("Open succeeded without CAP_NET_ADMIN")
		}
		errc <- err
	}()
	err := <-errc
	if !errors.Is(err, ErrPermission) {
		t.Fatalf("Open without CAP_NET_ADMIN = %v, want ErrPermission", err)
	}
	for _, hint := range []string{"shn-noperm", "CAP_NET_ADMIN", "setcap cap_net_admin+ep"} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("error %q lacks %q", err, hint)
		}
	}
}

// dropCapability removes cap from the calling thread's effective set.
func dropCapability(c int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[c/32].Effective &^= 1 << (c % 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

func TestCloseRemovesDevice(t *testing.T) {
	needRoot(t)
	ns := newNS(t)
	h := nlHandle(t, ns)
	d, err := Open(Config{Name: "shn-close", Queues: 3, NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	slab := newSlab(t, 16, buf.DefaultFrameSize, buf.DefaultHeadroom)
	q, err := d.Queue(1, slab)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Queue(1, slab); !errors.Is(err, ErrBadConfig) {
		t.Errorf("taking queue 1 twice: %v, want ErrBadConfig", err)
	}
	for _, i := range []int{-1, 3} {
		if _, err := d.Queue(i, slab); !errors.Is(err, ErrBadConfig) {
			t.Errorf("Queue(%d) = %v, want ErrBadConfig", i, err)
		}
	}
	if _, err := h.LinkByName("shn-close"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var nf netlink.LinkNotFoundError
	if _, err := h.LinkByName("shn-close"); !errors.As(err, &nf) {
		t.Errorf("device after Close: %v, want not found", err)
	}
	if n := q.RxBurst(make([]*buf.Packet, 4)); n != 0 {
		t.Errorf("RxBurst after Close = %d", n)
	}
	p := slab.Alloc()
	if n := q.TxBurst([]*buf.Packet{p}); n != 0 {
		t.Errorf("TxBurst after Close took %d", n)
	}
	p.Release()
	if err := q.Kick(); !errors.Is(err, nic.ErrClosed) {
		t.Errorf("Kick after Close = %v, want nic.ErrClosed", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("Queue.Close after Device.Close: %v", err)
	}
	if _, err := d.Queue(0, slab); !errors.Is(err, nic.ErrClosed) {
		t.Errorf("Queue after Close = %v, want nic.ErrClosed", err)
	}
}

func TestQueueRejectsSmallSlab(t *testing.T) {
	needRoot(t)
	ns := newNS(t)
	d, err := Open(Config{Name: "shn-slab", NetNS: ns, MTU: 9000, VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	small := newSlab(t, 4, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if _, err := d.Queue(0, small); !errors.Is(err, ErrBadConfig) {
		t.Errorf("2 KiB frames for MTU 9000: %v, want ErrBadConfig", err)
	}
	nohead := newSlab(t, 4, 16384, 8)
	if _, err := d.Queue(0, nohead); !errors.Is(err, ErrBadConfig) {
		t.Errorf("8 bytes of headroom with VnetHdr: %v, want ErrBadConfig", err)
	}
	if _, err := d.Queue(0, nil); !errors.Is(err, ErrBadConfig) {
		t.Errorf("nil slab: %v, want ErrBadConfig", err)
	}
	big := newSlab(t, 4, 16384, 256)
	if _, err := d.Queue(0, big); err != nil {
		t.Errorf("16 KiB frames for MTU 9000: %v", err)
	}
}

// Zero allocations per frame through the kernel: one ARP request written
// and one reply read per run.
func TestZeroAllocsKernelRoundTrip(t *testing.T) {
	for _, vnet := range []bool{false, true} {
		t.Run(fmt.Sprintf("vnet=%v", vnet), func(t *testing.T) {
			r := newRig(t, Config{VnetHdr: vnet}, nil)
			q := r.qs[0]
			req := arpRequest(stackMAC, stackIP, hostIP)
			tx := make([]*buf.Packet, 1)
			rx := make([]*buf.Packet, 8)
			pfd := r.pfds[:1]
			var missed int
			roundTrip := func() {
				p := r.slab.Alloc()
				copy(p.Append(len(req)), req)
				tx[0] = p
				if q.TxBurst(tx) != 1 {
					p.Release()
					missed++
					return
				}
				for got := false; !got; {
					n := q.RxBurst(rx)
					for _, p := range rx[:n] {
						d := p.Data()
						if len(d) == 42 && d[12] == 0x08 && d[13] == 0x06 && d[21] == 2 {
							got = true
						}
						p.Release()
					}
					if !got {
						if k, _ := unix.Poll(pfd, 5000); k == 0 {
							missed++
							return
						}
					}
				}
			}
			roundTrip() // warm up: ARP cache entry and socket buffers
			if a := testing.AllocsPerRun(200, roundTrip); a != 0 {
				t.Errorf("%v allocations per round trip, want 0", a)
			}
			if missed != 0 {
				t.Fatalf("%d round trips got no reply", missed)
			}
			if s := q.Stats(); s.TxPackets < 201 || s.RxPackets < 201 {
				t.Errorf("stats %+v: want >= 201 frames each way", s)
			}
		})
	}
}

// Without Config.NetNS the device goes into the calling thread's namespace.
func TestOpenInCurrentNamespace(t *testing.T) {
	needRoot(t)
	ns := newNS(t)
	h := nlHandle(t, ns)
	var d *Device
	var err error
	inNS(t, ns, func() { d, err = Open(Config{Name: "shn-here", NetNS: -1, HostAddr: netipPrefix(hostIP, 24)}) })
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.LinkByName("shn-here")
	if err != nil {
		t.Fatalf("device not in the thread's namespace: %v", err)
	}
	if l.Attrs().Index != d.Index() || l.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("index %d (Index() %d), flags %v", l.Attrs().Index, d.Index(), l.Attrs().Flags)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var nf netlink.LinkNotFoundError
	if _, err := h.LinkByName("shn-here"); !errors.As(err, &nf) {
		t.Errorf("device after Close: %v, want not found", err)
	}
}
