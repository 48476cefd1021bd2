//go:build linux

package tap

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
)

// These tests drive a Queue whose fd is one end of a SOCK_SEQPACKET pair
// instead of a TAP: each message is one frame, as on a TAP fd, and the test
// plays the kernel on the other end. They need no privileges, and cover
// what the kernel will not produce on demand (GSO frames, NEEDS_CSUM on
// receive, a full send buffer).

// pairQueue returns a bound queue and the "kernel" end of its fd.
func pairQueue(t *testing.T, vnet bool, slab *buf.Slab) (*Queue, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	q := &Queue{fd: fds[0], index: 3, vnet: vnet, mtu: 1500}
	q.bind(slab)
	t.Cleanup(func() {
		q.Close()
		unix.Close(fds[1])
	})
	return q, fds[1]
}

func vnetHdr(flags, gso uint8, start, off uint16) []byte {
	h := make([]byte, vnetLen)
	h[0], h[1] = flags, gso
	binary.LittleEndian.PutUint16(h[6:], start)
	binary.LittleEndian.PutUint16(h[8:], off)
	return h
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func writeMsg(t *testing.T, fd int, b []byte) {
	t.Helper()
	if n, err := unix.Write(fd, b); err != nil || n != len(b) {
		t.Fatalf("write %d bytes: %d, %v", len(b), n, err)
	}
}

func TestRxVnetHeaders(t *testing.T) {
	slab := newSlab(t, 16, buf.DefaultFrameSize, buf.DefaultHeadroom)
	q, k := pairQueue(t, true, slab)
	dst := [6]byte{2, 0, 0, 0, 0, 1}
	udp, start, off := udpFrame(stackMAC, dst, hostIP, stackIP, 53, 4000, []byte("partial from the kernel"), true)
	plain, _, _ := udpFrame(stackMAC, dst, hostIP, stackIP, 53, 4001, []byte("plain"), false)

	writeMsg(t, k, cat(vnetHdr(0, 0, 0, 0), plain))                            // 0: as is
	writeMsg(t, k, cat(vnetHdr(vnetFDataValid, 0, 0, 0), plain))               // 1: verified
	writeMsg(t, k, cat(vnetHdr(vnetFNeedsCsum, 0, start, off), udp))           // 2: completed
	writeMsg(t, k, cat(vnetHdr(0, unix.VIRTIO_NET_HDR_GSO_TCPV4, 0, 0), udp))  // dropped: GSO
	writeMsg(t, k, cat(vnetHdr(vnetFNeedsCsum, 0, 40, 60), plain))             // dropped: offsets
	writeMsg(t, k, []byte{1, 2, 3, 4, 5})                                      // dropped: short
	writeMsg(t, k, cat(vnetHdr(0, 0, 0, 0), arpRequest(dst, hostIP, stackIP))) // 3

	pkts := make([]*buf.Packet, 8)
	n := q.RxBurst(pkts)
	if n != 4 {
		t.Fatalf("RxBurst = %d, want 4 (stats %+v, drops %+v)", n, q.Stats(), q.Drops())
	}
	defer func() {
		for _, p := range pkts[:n] {
			p.Release()
		}
	}()
	for i, p := range pkts[:n] {
		if p.Offset() != slab.Headroom() || p.Meta.Queue != 3 {
			t.Errorf("packet %d: offset %d queue %d, want %d and 3", i, p.Offset(), p.Meta.Queue, slab.Headroom())
		}
	}
	if string(pkts[0].Data()) != string(plain) || pkts[0].Meta.CsumVerified {
		t.Errorf("packet 0: %x verified=%v", pkts[0].Data(), pkts[0].Meta.CsumVerified)
	}
	if !pkts[1].Meta.CsumVerified {
		t.Error("DATA_VALID did not set CsumVerified")
	}
	if _, dp, pl, ok := udpOf(pkts[2].Data()); !ok || dp != 4000 || string(pl) != "partial from the kernel" {
		t.Errorf("NEEDS_CSUM frame not completed to a valid checksum: ok=%v port %d %q", ok, dp, pl)
	}
	if !pkts[2].Meta.CsumVerified {
		t.Error("completed frame not marked CsumVerified")
	}
	if op, _, _, _, _, ok := arpFields(pkts[3].Data()); !ok || op != 1 || pkts[3].Len() != 42 {
		t.Errorf("packet 3 is not the 42-byte ARP request: %x", pkts[3].Data())
	}
	s, d := q.Stats(), q.Drops()
	want := Drops{RxGSO: 1, RxBadCsum: 1, RxShort: 1, RxCsumFixed: 1}
	if d != want || s.RxErrors != 3 || s.RxPackets != 4 {
		t.Errorf("drops %+v (want %+v), RxErrors %d (want 3), RxPackets %d (want 4)", d, want, s.RxErrors, s.RxPackets)
	}
	if wantBytes := uint64(2*len(plain) + len(udp) + 42); s.RxBytes != wantBytes {
		t.Errorf("RxBytes %d, want %d (virtio header not counted)", s.RxBytes, wantBytes)
	}
	if slab.InUse() != 4 {
		t.Errorf("%d frames in use, want the 4 delivered", slab.InUse())
	}
}

func TestRxBurstLimitsAndNoBuf(t *testing.T) {
	slab := newSlab(t, 2, buf.DefaultFrameSize, buf.DefaultHeadroom)
	q, k := pairQueue(t, false, slab)
	f := arpRequest(stackMAC, stackIP, hostIP)
	pkts := make([]*buf.Packet, 8)

	// Nothing waiting, slab exhausted: no RxNoBuf.
	a, b := slab.Alloc(), slab.Alloc()
	if n := q.RxBurst(pkts); n != 0 || q.Stats().RxNoBuf != 0 {
		t.Fatalf("idle RxBurst = %d, RxNoBuf %d; want 0, 0", n, q.Stats().RxNoBuf)
	}
	a.Release()
	b.Release()
	if n := q.RxBurst(pkts); n != 0 || slab.InUse() != 0 {
		t.Fatalf("RxBurst with nothing waiting = %d, in use %d", n, slab.InUse())
	}

	for i := 0; i < 3; i++ {
		writeMsg(t, k, f)
	}
	if n := q.RxBurst(pkts[:1]); n != 1 {
		t.Fatalf("RxBurst(1) = %d", n)
	}
	if n := q.RxBurst(pkts[1:]); n != 1 || q.Stats().RxNoBuf != 1 {
		t.Fatalf("RxBurst with one free frame and two waiting = %d, RxNoBuf %d; want 1, 1", n, q.Stats().RxNoBuf)
	}
	if n := q.RxBurst(pkts[2:]); n != 0 || q.Stats().RxNoBuf != 2 {
		t.Fatalf("RxBurst on an empty slab = %d, RxNoBuf %d; want 0, 2", n, q.Stats().RxNoBuf)
	}
	pkts[0].Release()
	pkts[1].Release()
	if n := q.RxBurst(pkts); n != 1 {
		t.Fatalf("the third frame: RxBurst = %d", n)
	}
	pkts[0].Release()
	if s := q.Stats(); s.RxPackets != 3 || s.RxBytes != 3*42 || s.RxErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}

// fillSendBuffer writes into fd until it would block.
func fillSendBuffer(t *testing.T, fd int) {
	t.Helper()
	junk := make([]byte, 1024)
	for i := 0; ; i++ {
		_, err := unix.Write(fd, junk)
		if errors.Is(err, unix.EAGAIN) {
			return
		}
		if err != nil || i > 1<<20 {
			t.Fatalf("filling the send buffer: %v", err)
		}
	}
}

func drain(fd int) {
	b := make([]byte, 4096)
	for {
		if _, err := unix.Read(fd, b); err != nil {
			return
		}
	}
}

func TestTxFullLeavesPacketsUnchanged(t *testing.T) {
	for _, vnet := range []bool{false, true} {
		slab := newSlab(t, 8, buf.DefaultFrameSize, buf.DefaultHeadroom)
		q, k := pairQueue(t, vnet, slab)
		f, start, off := udpFrame(stackMAC, stackMAC, stackIP, hostIP, 1, 2, []byte("x"), true)
		pkts := make([]*buf.Packet, 3)
		for i := range pkts {
			pkts[i] = slab.Alloc()
			copy(pkts[i].Append(len(f)), f)
			pkts[i].Meta = buf.Meta{CsumPartial: vnet, CsumStart: start, CsumOffset: off}
		}
		fillSendBuffer(t, q.fd)
		if n := q.TxBurst(pkts); n != 0 {
			t.Fatalf("vnet=%v: TxBurst into a full fd took %d", vnet, n)
		}
		if s := q.Stats(); s.TxFull != 1 || s.TxPackets != 0 || s.TxErrors != 0 {
			t.Errorf("vnet=%v: stats %+v, want TxFull 1 only", vnet, s)
		}
		for i, p := range pkts {
			if !p.InUse() || string(p.Data()) != string(f) || p.Offset() != slab.Headroom() {
				t.Errorf("vnet=%v: packet %d changed by the refused TxBurst: offset %d len %d", vnet, i, p.Offset(), p.Len())
			}
		}
		drain(k)
		if n := q.TxBurst(pkts); n != 3 {
			t.Fatalf("vnet=%v: TxBurst after draining took %d", vnet, n)
		}
		if slab.InUse() != 0 {
			t.Errorf("vnet=%v: %d frames not released after TxBurst", vnet, slab.InUse())
		}
		b := make([]byte, 256)
		for i := 0; i < 3; i++ {
			m, err := unix.Read(k, b)
			if err != nil {
				t.Fatalf("vnet=%v: frame %d: %v", vnet, i, err)
			}
			got := b[:m]
			if vnet {
				h := got[:vnetLen]
				if h[0] != vnetFNeedsCsum || h[1] != 0 ||
					binary.LittleEndian.Uint16(h[6:]) != start || binary.LittleEndian.Uint16(h[8:]) != off ||
					binary.LittleEndian.Uint16(h[2:]) != start+off+2 || binary.LittleEndian.Uint16(h[10:]) != 0 {
					t.Errorf("virtio header %x, want NEEDS_CSUM start %d off %d", h, start, off)
				}
				got = got[vnetLen:]
			}
			if string(got) != string(f) {
				t.Errorf("vnet=%v: frame %d on the wire differs", vnet, i)
			}
		}
		if s := q.Stats(); s.TxPackets != 3 || s.TxBytes != uint64(3*len(f)) {
			t.Errorf("vnet=%v: stats %+v", vnet, s)
		}
	}
}

func TestTxVnetPlainHeaderIsZero(t *testing.T) {
	slab := newSlab(t, 4, buf.DefaultFrameSize, buf.DefaultHeadroom)
	q, k := pairQueue(t, true, slab)
	p := slab.Alloc()
	copy(p.Prepend(vnetLen), []byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}) // dirty headroom
	p.TrimFront(vnetLen)
	copy(p.Append(42), arpRequest(stackMAC, stackIP, hostIP))
	if q.TxBurst([]*buf.Packet{p}) != 1 {
		t.Fatal("TxBurst refused")
	}
	b := make([]byte, 256)
	m, err := unix.Read(k, b)
	if err != nil || m != vnetLen+42 {
		t.Fatalf("read %d, %v", m, err)
	}
	for i, c := range b[:vnetLen] {
		if c != 0 {
			t.Fatalf("virtio header byte %d = %#x, want all zero without CsumPartial", i, c)
		}
	}
}

func TestTxNoHeadroomDropped(t *testing.T) {
	slab := newSlab(t, 4, buf.DefaultFrameSize, buf.DefaultHeadroom)
	q, k := pairQueue(t, true, slab)
	tight := slab.Alloc()
	if !tight.SetData(4, 42) { // 4 bytes of headroom: no room for the header
		t.Fatal("SetData")
	}
	good := slab.Alloc()
	copy(good.Append(42), arpRequest(stackMAC, stackIP, hostIP))
	if n := q.TxBurst([]*buf.Packet{tight, good}); n != 2 {
		t.Fatalf("TxBurst took %d, want 2", n)
	}
	if d, s := q.Drops(), q.Stats(); d.TxNoHeadroom != 1 || s.TxErrors != 1 || s.TxPackets != 1 {
		t.Errorf("drops %+v stats %+v", d, s)
	}
	if slab.InUse() != 0 {
		t.Errorf("%d frames in use", slab.InUse())
	}
	b := make([]byte, 256)
	if m, err := unix.Read(k, b); err != nil || m != vnetLen+42 {
		t.Errorf("the good frame: %d, %v", m, err)
	}
}

// Without VnetHdr, a CsumPartial packet is completed in software.
func TestTxSoftwareChecksum(t *testing.T) {
	slab := newSlab(t, 4, buf.DefaultFrameSize, buf.DefaultHeadroom)
	q, k := pairQueue(t, false, slab)
	f, start, off := udpFrame(stackMAC, stackMAC, stackIP, hostIP, 1000, 2000, []byte("odd-length payload"), true)
	if _, _, _, ok := udpOf(f); ok {
		t.Fatal("test bug: partial checksum already valid")
	}
	p := slab.Alloc()
	copy(p.Append(len(f)), f)
	p.Meta = buf.Meta{CsumPartial: true, CsumStart: start, CsumOffset: off}
	bad := slab.Alloc()
	copy(bad.Append(20), f)
	bad.Meta = buf.Meta{CsumPartial: true, CsumStart: 34, CsumOffset: 6}
	if q.TxBurst([]*buf.Packet{p, bad}) != 2 {
		t.Fatal("TxBurst refused")
	}
	b := make([]byte, 256)
	m, err := unix.Read(k, b)
	if err != nil {
		t.Fatal(err)
	}
	if sp, dp, pl, ok := udpOf(b[:m]); !ok || sp != 1000 || dp != 2000 || string(pl) != "odd-length payload" {
		t.Errorf("frame on the wire has no valid checksum: %x", b[:m])
	}
	if d := q.Drops(); d.TxCsumSoft != 1 || d.TxBadCsum != 1 {
		t.Errorf("drops %+v, want one software checksum and one bad offset", d)
	}
	if _, err := unix.Read(k, b); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("the packet with bad offsets was written: %v", err)
	}
}

func TestClosedQueue(t *testing.T) {
	slab := newSlab(t, 4, buf.DefaultFrameSize, buf.DefaultHeadroom)
	q, k := pairQueue(t, false, slab)
	writeMsg(t, k, arpRequest(stackMAC, stackIP, hostIP))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
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
		t.Errorf("Kick = %v", err)
	}
}

func TestZeroAllocsPerFrame(t *testing.T) {
	for _, vnet := range []bool{false, true} {
		slab := newSlab(t, 64, buf.DefaultFrameSize, buf.DefaultHeadroom)
		q, k := pairQueue(t, vnet, slab)
		f, start, off := udpFrame(stackMAC, stackMAC, stackIP, hostIP, 1, 2, make([]byte, 100), true)
		meta := buf.Meta{CsumPartial: true, CsumStart: start, CsumOffset: off} // software path without vnet
		tx := make([]*buf.Packet, 8)
		rx := make([]*buf.Packet, 8)
		loop := make([]byte, 2048)
		run := func() {
			for i := range tx {
				p := slab.Alloc()
				copy(p.Append(len(f)), f)
				p.Meta = meta
				tx[i] = p
			}
			if q.TxBurst(tx) != len(tx) {
				panic("TxBurst refused")
			}
			for range tx { // play the kernel: loop each frame back
				m, err := unix.Read(k, loop)
				if err != nil {
					panic(err)
				}
				if _, err := unix.Write(k, loop[:m]); err != nil {
					panic(err)
				}
			}
			if n := q.RxBurst(rx); n != len(tx) {
				panic("RxBurst short")
			}
			for _, p := range rx {
				p.Release()
			}
		}
		if a := testing.AllocsPerRun(100, run); a != 0 {
			t.Errorf("vnet=%v: %v allocations per burst of 8 frames each way, want 0", vnet, a)
		}
	}
}

func TestCsumComplete(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 100, 1471, 1472} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i*7 + n)
		}
		f, start, off := udpFrame(stackMAC, stackMAC, stackIP, hostIP, 7, 9, payload, true)
		if !csumComplete(f, int(start), int(off)) {
			t.Fatalf("n=%d: refused", n)
		}
		if _, _, _, ok := udpOf(f); !ok {
			t.Errorf("n=%d: checksum not valid after completion", n)
		}
	}
	for _, c := range []struct{ len, start, off int }{{10, 9, 0}, {10, 0, 9}, {10, -1, 0}, {10, 4, -1}, {0, 0, 0}} {
		if csumComplete(make([]byte, c.len), c.start, c.off) {
			t.Errorf("csumComplete(len %d, %d, %d) accepted offsets outside the frame", c.len, c.start, c.off)
		}
	}
	// An all-ones sum is sent as 0xffff, never 0.
	f := []byte{0xff, 0xff, 0, 0}
	if !csumComplete(f, 0, 2) || f[2] != 0xff || f[3] != 0xff {
		t.Errorf("zero checksum stored as %x, want ffff", f[2:])
	}
}

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		err  error
		want error
		hint string
	}{
		{setIffErr(unix.EPERM, "shn9", 0, false), ErrPermission, "creating TAP device shn9 needs root or CAP_NET_ADMIN (run as root, or setcap cap_net_admin+ep on the binary)"},
		{setIffErr(unix.EPERM, "shn9", 0, true), ErrPermission, "owner"},
		{setIffErr(unix.EBUSY, "shn9", 0, false), ErrNameInUse, "shn9"},
		{setIffErr(unix.EBUSY, "shn9", 1, false), ErrBusy, "shn9"},
		{setIffErr(unix.EINVAL, "shn9", 0, false), ErrNameInUse, "not a multiqueue TAP"},
		{openTunErr(unix.ENOENT), ErrNoTun, "modprobe tun"},
		{openTunErr(unix.ENODEV), ErrNoTun, "modprobe tun"},
		{openTunErr(unix.EACCES), ErrPermission, "/dev/net/tun"},
		{netlinkErr("setting MTU 1500", "shn9", unix.EPERM), ErrPermission, "CAP_NET_ADMIN"},
	}
	for i, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("case %d: %v does not wrap %v", i, c.err, c.want)
		}
		if !strings.Contains(c.err.Error(), c.hint) {
			t.Errorf("case %d: %q lacks %q", i, c.err, c.hint)
		}
	}
	if err := openTunErr(unix.EMFILE); errors.Is(err, ErrNoTun) || !strings.Contains(err.Error(), "ulimit") {
		t.Errorf("EMFILE: %v", err)
	}
}
