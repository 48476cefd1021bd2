//go:build linux

package tap

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
)

// needRoot skips tests that create TAP devices and namespaces.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to create TAP devices and network namespaces")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no /dev/net/tun: %v", err)
	}
}

// inNS runs fn on a locked thread moved into ns, then moves it back. If it
// cannot be moved back the goroutine exits locked and the thread dies.
func inNS(t testing.TB, ns netns.NsHandle, fn func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Errorf("panic in namespace: %v", r)
				}
			}()
			fn()
		}()
		if err := netns.Set(orig); err != nil {
			done <- fmt.Errorf("restoring netns: %w", err)
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// newNS creates a uniquely named network namespace, deleted at cleanup,
// with IPv6 off by default (so new links stay quiet).
func newNS(t testing.TB) netns.NsHandle {
	t.Helper()
	name := fmt.Sprintf("shn-tap-%d-%08x", os.Getpid(), rand.Uint32())
	var ns netns.NsHandle
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, gerr := netns.Get()
		if gerr != nil {
			runtime.UnlockOSThread()
			err = gerr
			return
		}
		defer orig.Close()
		ns, err = netns.NewNamed(name) // moves this thread into it
		if serr := netns.Set(orig); serr != nil {
			if err == nil {
				err = serr
			}
			return // leave locked: the thread dies
		}
		runtime.UnlockOSThread()
	}()
	<-done
	if err != nil {
		t.Fatalf("creating netns %s: %v", name, err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("deleting netns %s: %v", name, err)
		}
	})
	inNS(t, ns, func() {
		// Best effort: kernels without IPv6 have no such file.
		os.WriteFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", []byte("1"), 0)
	})
	return ns
}

func nlHandle(t testing.TB, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func newSlab(t testing.TB, frames, size, headroom int) *buf.Slab {
	t.Helper()
	s, err := buf.NewSlab(frames, size, headroom)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n := s.InUse(); n != 0 {
			t.Errorf("slab leak: %d frames in use at end of test", n)
		}
		s.Close()
	})
	return s
}

var (
	hostIP  = [4]byte{198, 18, 7, 1}
	stackIP = [4]byte{198, 18, 7, 2}
)

// rig is a TAP device in its own namespace, with every queue taken on one
// slab, seen from the stack's side.
type rig struct {
	t     testing.TB
	ns    netns.NsHandle
	nl    *netlink.Handle
	dev   *Device
	slab  *buf.Slab
	qs    []*Queue
	pfds  []unix.PollFd
	burst []*buf.Packet
}

// rxFrame is a received frame, copied out of its packet.
type rxFrame struct {
	data  []byte
	queue int
	meta  buf.Meta
}

func newRig(t testing.TB, cfg Config, slab *buf.Slab) *rig {
	t.Helper()
	needRoot(t)
	r := &rig{t: t, ns: newNS(t)}
	r.nl = nlHandle(t, r.ns)
	if cfg.Name == "" {
		cfg.Name = "shn0"
	}
	if !cfg.HostAddr.IsValid() {
		cfg.HostAddr = netipPrefix(hostIP, 24)
	}
	cfg.NetNS = r.ns
	d, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	r.dev = d
	if slab == nil {
		slab = newSlab(t, 256, buf.DefaultFrameSize, buf.DefaultHeadroom)
	}
	r.slab = slab
	for i := 0; i < d.NumQueues(); i++ {
		q, err := d.Queue(i, slab)
		if err != nil {
			t.Fatal(err)
		}
		r.qs = append(r.qs, q.(*Queue))
		r.pfds = append(r.pfds, unix.PollFd{Fd: int32(q.Fd()), Events: unix.POLLIN})
	}
	r.burst = make([]*buf.Packet, 32)
	return r
}

// send transmits frame on queue qi with meta, and fails unless it was taken.
func (r *rig) send(qi int, frame []byte, meta buf.Meta) {
	r.t.Helper()
	p := r.slab.Alloc()
	if p == nil {
		r.t.Fatal("slab exhausted")
	}
	copy(p.Append(len(frame)), frame)
	p.Meta = meta
	if n := r.qs[qi].TxBurst([]*buf.Packet{p}); n != 1 {
		p.Release()
		r.t.Fatalf("TxBurst on queue %d took %d packets, want 1 (stats %+v)", qi, n, r.qs[qi].Stats())
	}
}

// recv calls fn for each frame received on any queue until fn returns
// true, answering the kernel's ARP requests for stackIP along the way. It
// fails the test after timeout.
func (r *rig) recv(what string, timeout time.Duration, fn func(rxFrame) bool) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for qi, q := range r.qs {
			n := q.RxBurst(r.burst)
			done := false
			for _, p := range r.burst[:n] {
				if p.Offset() != r.slab.Headroom() {
					r.t.Errorf("frame data starts at %d, want the slab headroom %d", p.Offset(), r.slab.Headroom())
				}
				if int(p.Meta.Queue) != qi {
					r.t.Errorf("Meta.Queue = %d on queue %d", p.Meta.Queue, qi)
				}
				f := rxFrame{data: append([]byte(nil), p.Data()...), queue: qi, meta: p.Meta}
				p.Release()
				if done {
					continue
				}
				if op, sha, spa, _, tpa, ok := arpFields(f.data); ok && op == 1 && tpa == stackIP {
					r.send(qi, arpFrame(2, sha, stackMAC, stackIP, sha, spa), buf.Meta{})
				}
				done = fn(f)
			}
			if done {
				return
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			r.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		if _, err := unix.Poll(r.pfds, int(left/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			r.t.Fatal(err)
		}
	}
}

// arpRoundTrip asks the kernel for hostIP's MAC from queue qi and returns
// the reply.
func (r *rig) arpRoundTrip(qi int) rxFrame {
	r.t.Helper()
	r.send(qi, arpRequest(stackMAC, stackIP, hostIP), buf.Meta{})
	var got rxFrame
	r.recv("the kernel's ARP reply", 5*time.Second, func(f rxFrame) bool {
		op, _, spa, _, tpa, ok := arpFields(f.data)
		if ok && op == 2 && spa == hostIP && tpa == stackIP {
			got = f
			return true
		}
		return false
	})
	return got
}

// addNeigh tells the kernel stackIP is at stackMAC, so it sends to the
// stack without asking.
func (r *rig) addNeigh() {
	r.t.Helper()
	err := r.nl.NeighAdd(&netlink.Neigh{
		LinkIndex:    r.dev.Index(),
		Family:       netlink.FAMILY_V4,
		State:        netlink.NUD_PERMANENT,
		IP:           net.IP(stackIP[:]),
		HardwareAddr: net.HardwareAddr(stackMAC[:]),
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// listenUDP opens a UDP socket in the rig's namespace.
func (r *rig) listenUDP(port int) *net.UDPConn {
	r.t.Helper()
	var c *net.UDPConn
	var err error
	inNS(r.t, r.ns, func() {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(hostIP[:]), Port: port})
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	return c
}
