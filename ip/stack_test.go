package ip

import (
	"bytes"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/wire"
)

var (
	ourMAC  = [6]byte{0x02, 0, 0, 0, 0, 0x02}
	ourIP   = [4]byte{198, 18, 0, 2}
	peerMAC = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	peerIP  = [4]byte{198, 18, 0, 1}
	gwIP    = [4]byte{198, 18, 0, 254}
)

// capture is a Transmitter that keeps what the stack sends.
type capture struct{ frames []*buf.Packet }

func (c *capture) Transmit(p *buf.Packet) { c.frames = append(c.frames, p) }

// take returns the frames sent since the last call; the caller releases them.
func (c *capture) take() []*buf.Packet {
	f := c.frames
	c.frames = nil
	return f
}

type harness struct {
	t    *testing.T
	slab *buf.Slab
	tx   *capture
	w    *timer.Wheel
	s    *Stack
	now  int64
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	slab, err := buf.NewSlab(64, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, slab: slab, tx: &capture{}, now: 1e9}
	h.w = timer.NewWheel(1e6, 1024, h.now)
	cfg := Config{MAC: ourMAC, Addr: ourIP, PrefixLen: 24, Gateway: gwIP}
	if mod != nil {
		mod(&cfg)
	}
	h.s, err = New(cfg, slab, h.tx, h.w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.s.Stop()
		h.releaseAll()
		if n := slab.InUse(); n != 0 {
			t.Errorf("slab leak: %d frames in use at end of test", n)
		}
		slab.Close()
	})
	return h
}

func (h *harness) releaseAll() {
	for _, p := range h.tx.take() {
		p.Release()
	}
}

// inject copies frame into a packet from the slab and feeds it to Input.
func (h *harness) inject(frame []byte) {
	h.t.Helper()
	p := h.slab.Alloc()
	if p == nil {
		h.t.Fatal("slab exhausted")
	}
	copy(p.Append(len(frame)), frame)
	h.s.Input(p, h.now)
}

func (h *harness) advance(d int64) {
	h.now += d
	h.w.Advance(h.now)
}

// expectOne takes exactly one sent frame and returns a copy of its bytes.
func (h *harness) expectOne(what string) []byte {
	h.t.Helper()
	f := h.tx.take()
	if len(f) != 1 {
		for _, p := range f {
			p.Release()
		}
		h.t.Fatalf("%s: sent %d frames, want 1", what, len(f))
	}
	b := bytes.Clone(f[0].Data())
	f[0].Release()
	return b
}

func (h *harness) expectNone(what string) {
	h.t.Helper()
	if f := h.tx.take(); len(f) != 0 {
		for _, p := range f {
			p.Release()
		}
		h.t.Fatalf("%s: sent %d frames, want none", what, len(f))
	}
}

func (h *harness) expectDrop(r DropReason, want uint64) {
	h.t.Helper()
	if got := h.s.Stats().Drops[r]; got != want {
		h.t.Fatalf("drops[%s] = %d, want %d (all: %+v)", r, got, want, h.s.Stats().Drops)
	}
}

// --- frame builders ---

func ethFrame(dst, src [6]byte, typ uint16, payload []byte) []byte {
	b := make([]byte, wire.EthernetHeaderLen+len(payload))
	wire.Ethernet(b).Encode(&wire.EthernetFields{Dst: dst, Src: src, EtherType: typ})
	copy(b[wire.EthernetHeaderLen:], payload)
	return b
}

func arpFrame(op uint16, ethDst, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) []byte {
	a := make([]byte, wire.ARPLen)
	wire.ARP(a).Encode(&wire.ARPFields{Op: op, SenderHW: sha, SenderIP: spa, TargetHW: tha, TargetIP: tpa})
	return ethFrame(ethDst, sha, wire.EtherTypeARP, a)
}

func ipv4Packet(src, dst [4]byte, proto uint8, payload []byte) []byte {
	b := make([]byte, wire.IPv4MinHeaderLen+len(payload))
	copy(b[wire.IPv4MinHeaderLen:], payload)
	wire.IPv4(b).Encode(&wire.IPv4Fields{TotalLen: uint16(len(b)), ID: 7, TTL: 64, Protocol: proto, Src: src, Dst: dst})
	return b
}

func echoRequest(id, seq uint16, data []byte) []byte {
	b := make([]byte, wire.ICMPv4HeaderLen+len(data))
	m := wire.ICMPv4(b)
	m.Encode(&wire.ICMPv4Fields{Type: wire.ICMPEchoRequest, ID: id, Seq: seq})
	copy(b[wire.ICMPv4HeaderLen:], data)
	m.SetChecksum(m.ComputeChecksum())
	return b
}

func pingFrame(data []byte) []byte {
	return ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipv4Packet(peerIP, ourIP, wire.ProtoICMP, echoRequest(0x1234, 9, data)))
}

// learnPeer teaches the stack the peer's MAC via an ARP request for us and
// discards the reply.
func (h *harness) learnPeer() {
	h.inject(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, [6]byte{}, ourIP))
	h.expectOne("ARP reply")
}

// ==================== ARP ====================

func TestARPRequestForUsIsAnsweredAndSenderLearned(t *testing.T) {
	h := newHarness(t, nil)
	h.inject(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, [6]byte{}, ourIP))
	out := h.expectOne("ARP reply")
	e := wire.Ethernet(out)
	if e.Check() != nil || e.Dst() != peerMAC || e.Src() != ourMAC || e.EtherType() != wire.EtherTypeARP {
		t.Fatalf("bad Ethernet header on reply: % x", out[:14])
	}
	a := wire.ARP(e.Payload())
	if a.Check() != nil || a.Op() != wire.ARPReply || a.SenderHW() != ourMAC || a.SenderIP() != ourIP ||
		a.TargetHW() != peerMAC || a.TargetIP() != peerIP {
		t.Fatalf("bad ARP reply: % x", e.Payload())
	}
	if len(out) != wire.EthernetHeaderLen+wire.ARPLen {
		t.Fatalf("reply is %d bytes, want %d", len(out), wire.EthernetHeaderLen+wire.ARPLen)
	}
	if mac, ok := h.s.Neighbor(peerIP); !ok || mac != peerMAC {
		t.Fatalf("sender not learned: %x %v", mac, ok)
	}
	if st := h.s.Stats(); st.ARPRequestIn != 1 || st.ARPReplyOut != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestARPRequestForOthersNotAnsweredNotLearned(t *testing.T) {
	h := newHarness(t, nil)
	h.inject(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, [6]byte{}, [4]byte{198, 18, 0, 77}))
	h.expectNone("request for another host")
	h.expectDrop(DropARPNotForUs, 1)
	if _, ok := h.s.Neighbor(peerIP); ok {
		t.Fatal("learned a neighbour from a request not addressed to us (RFC 826 merge rule)")
	}
}

func TestARPConflictAndBadSenderRejected(t *testing.T) {
	h := newHarness(t, nil)
	h.inject(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, ourIP, [6]byte{}, ourIP))
	h.expectDrop(DropARPConflict, 1)
	h.inject(arpFrame(wire.ARPReply, ourMAC, [6]byte{0x03, 1, 2, 3, 4, 5}, peerIP, ourMAC, ourIP))
	h.expectDrop(DropEthBadSource, 1) // multicast source MAC is refused at Ethernet
	bad := arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, [6]byte{}, ourIP)
	bad[wire.EthernetHeaderLen+4] = 8 // hardware length 8
	h.inject(bad)
	h.expectDrop(DropARPMalformed, 1)
	h.inject(bad[:wire.EthernetHeaderLen+20])
	h.expectDrop(DropARPMalformed, 2)
	h.expectNone("rejected ARP")
}

func TestGratuitousARPOnStart(t *testing.T) {
	h := newHarness(t, nil)
	h.s.Start(h.now)
	out := h.expectOne("gratuitous ARP")
	e := wire.Ethernet(out)
	a := wire.ARP(e.Payload())
	if e.Dst() != wire.BroadcastMAC || a.Check() != nil || a.Op() != wire.ARPRequest ||
		a.SenderIP() != ourIP || a.TargetIP() != ourIP || a.SenderHW() != ourMAC {
		t.Fatalf("bad announcement % x", out)
	}
}

func TestOutputResolvesQueuesAndFlushesOnReply(t *testing.T) {
	h := newHarness(t, nil)
	if !h.s.Ping(peerIP, 1, 1, []byte("first"), h.now) || !h.s.Ping(peerIP, 1, 2, []byte("second"), h.now) {
		t.Fatal("Ping failed")
	}
	req := h.expectOne("one ARP request for two queued packets")
	a := wire.ARP(wire.Ethernet(req).Payload())
	if wire.Ethernet(req).Dst() != wire.BroadcastMAC || a.Op() != wire.ARPRequest || a.TargetIP() != peerIP {
		t.Fatalf("bad ARP request % x", req)
	}
	h.inject(arpFrame(wire.ARPReply, ourMAC, peerMAC, peerIP, ourMAC, ourIP))
	sent := h.tx.take()
	if len(sent) != 2 {
		t.Fatalf("after reply sent %d frames, want the 2 queued", len(sent))
	}
	for i, p := range sent {
		e := wire.Ethernet(p.Data())
		ip := wire.IPv4(e.Payload())
		if e.Dst() != peerMAC || ip.Check() != nil || !ip.HeaderChecksumValid() || ip.Dst() != peerIP {
			t.Fatalf("queued packet %d sent wrong: % x", i, p.Data())
		}
		m := wire.ICMPv4(ip.Payload())
		if m.Seq() != uint16(i+1) || !m.ChecksumValid() {
			t.Fatalf("queued packets reordered or corrupted: seq %d", m.Seq())
		}
		p.Release()
	}
}

func TestOffLinkGoesToGateway(t *testing.T) {
	h := newHarness(t, nil)
	h.s.Ping([4]byte{203, 0, 113, 9}, 1, 1, nil, h.now) // never sent: waits for the gateway's MAC
	req := h.expectOne("ARP for gateway")
	if a := wire.ARP(wire.Ethernet(req).Payload()); a.TargetIP() != gwIP {
		t.Fatalf("resolved %v, want the gateway %v", a.TargetIP(), gwIP)
	}
	h2 := newHarness(t, func(c *Config) { c.Gateway = [4]byte{} })
	h2.s.Ping([4]byte{203, 0, 113, 9}, 1, 1, nil, h2.now)
	h2.expectNone("no route")
	h2.expectDrop(DropNoRoute, 1)
}

func TestUnresolvedNeighbourRetriesThenDrops(t *testing.T) {
	h := newHarness(t, nil)
	h.s.Start(h.now)
	h.expectOne("gratuitous ARP")
	for i := 0; i < maxPendingPerHop+1; i++ {
		h.s.Ping(peerIP, 1, uint16(i), nil, h.now)
	}
	h.expectOne("first ARP request")
	h.expectDrop(DropARPQueueFull, 1)
	cfg := h.s.Config()
	for probe := 2; probe <= cfg.ARPMaxProbes; probe++ {
		h.advance(cfg.ARPRetry - 1)
		h.expectNone("retry before its time")
		h.advance(1 + 2e6) // the wheel may fire up to a tick late
		h.expectOne("ARP retry")
		h.advance(-2e6)
	}
	h.advance(cfg.ARPRetry + 2e6)
	h.expectNone("gave up")
	h.expectDrop(DropARPUnresolved, maxPendingPerHop)
	if _, ok := h.s.Neighbor(peerIP); ok {
		t.Fatal("unresolved neighbour still in the table")
	}
}

func TestStaleNeighbourUsedWhileReprobed(t *testing.T) {
	h := newHarness(t, nil)
	h.learnPeer()
	h.now += h.s.Config().ARPReachable + 1
	h.s.Ping(peerIP, 1, 1, nil, h.now)
	f := h.tx.take()
	if len(f) != 2 {
		t.Fatalf("sent %d frames, want a unicast probe and the packet", len(f))
	}
	probe, pkt := wire.Ethernet(f[0].Data()), wire.Ethernet(f[1].Data())
	if probe.EtherType() != wire.EtherTypeARP || probe.Dst() != peerMAC || pkt.Dst() != peerMAC {
		t.Fatalf("want unicast ARP probe then packet to the stale MAC; got % x / % x", f[0].Data()[:14], f[1].Data()[:14])
	}
	for _, p := range f {
		p.Release()
	}
}

func TestARPTableFullIsCountedNotGrown(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ARPEntries = 8 })
	for i := 0; i < 10; i++ {
		mac := [6]byte{0x02, 0, 0, 0, 1, byte(i)}
		h.inject(arpFrame(wire.ARPRequest, wire.BroadcastMAC, mac, [4]byte{198, 18, 0, byte(10 + i)}, [6]byte{}, ourIP))
		h.releaseAll()
	}
	h.expectDrop(DropARPTableFull, 4) // 3/4 of 8 = 6 entries fit
}

func TestARPTableMatchesReference(t *testing.T) {
	var tb arpTable
	tb.init(64)
	ref := map[uint32]bool{}
	x := uint32(12345)
	for i := 0; i < 20000; i++ {
		x = x*1664525 + 1013904223
		ip := x >> 26 << 8 // 64 distinct keys that collide in the low bits
		switch {
		case x&0x3 == 0 && ref[ip]:
			j := tb.find(ip)
			if j < 0 {
				t.Fatalf("step %d: %x missing", i, ip)
			}
			tb.remove(uint32(j))
			delete(ref, ip)
		case !ref[ip]:
			if j := tb.insert(ip); j >= 0 {
				if tb.find(ip) != j {
					t.Fatalf("step %d: inserted %x at %d, find says %d", i, ip, j, tb.find(ip))
				}
				ref[ip] = true
			}
		}
		for k := uint32(0); k < 64; k++ {
			if got := tb.find(k<<8) >= 0; got != ref[k<<8] {
				t.Fatalf("step %d: find(%x) = %v, reference %v", i, k<<8, got, ref[k<<8])
			}
		}
	}
}

// ==================== IPv4 and ICMP ====================

func TestEchoRequestAnsweredInPlace(t *testing.T) {
	h := newHarness(t, nil)
	h.learnPeer()
	data := []byte("abcdefghijklmnopqrstuvwabcdefghi")
	h.inject(pingFrame(data))
	out := h.expectOne("echo reply")
	e := wire.Ethernet(out)
	ip := wire.IPv4(e.Payload())
	if e.Dst() != peerMAC || e.Src() != ourMAC || ip.Check() != nil || !ip.HeaderChecksumValid() ||
		ip.Src() != ourIP || ip.Dst() != peerIP || ip.Protocol() != wire.ProtoICMP || ip.TTL() != 64 {
		t.Fatalf("bad reply headers % x", out[:34])
	}
	m := wire.ICMPv4(ip.Payload())
	if m.Check() != nil || m.Type() != wire.ICMPEchoReply || m.ID() != 0x1234 || m.Seq() != 9 || !m.ChecksumValid() {
		t.Fatalf("bad ICMP reply % x", ip.Payload())
	}
	if !bytes.Equal(m.Payload(), data) {
		t.Fatalf("payload %q, want %q", m.Payload(), data)
	}
	if st := h.s.Stats(); st.EchoIn != 1 || st.IPv4In != 1 || st.IPv4Out != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEthernetPaddingIsNotEchoed(t *testing.T) {
	h := newHarness(t, nil)
	h.learnPeer()
	f := pingFrame([]byte("hi"))
	f = append(f, make([]byte, 60-len(f))...) // minimum frame padding
	h.inject(f)
	out := h.expectOne("echo reply")
	ip := wire.IPv4(wire.Ethernet(out).Payload())
	if int(ip.TotalLen()) != wire.IPv4MinHeaderLen+wire.ICMPv4HeaderLen+2 || len(out) != wire.EthernetHeaderLen+int(ip.TotalLen()) {
		t.Fatalf("reply length %d / total %d: padding leaked into the reply", len(out), ip.TotalLen())
	}
	if !wire.ICMPv4(ip.Payload()).ChecksumValid() {
		t.Fatal("bad ICMP checksum")
	}
}

func TestEchoReplyReported(t *testing.T) {
	h := newHarness(t, nil)
	var got []byte
	h.s.OnEchoReply(func(src [4]byte, id, seq uint16, payload []byte, now int64) {
		if src != peerIP || id != 5 || seq != 6 {
			t.Errorf("reply from %v id %d seq %d", src, id, seq)
		}
		got = bytes.Clone(payload)
	})
	r := echoRequest(5, 6, []byte("pong"))
	r[0] = wire.ICMPEchoReply
	m := wire.ICMPv4(r)
	m.SetChecksum(m.ComputeChecksum())
	h.inject(ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipv4Packet(peerIP, ourIP, wire.ProtoICMP, r)))
	if string(got) != "pong" {
		t.Fatalf("echo reply payload %q", got)
	}
}

type sink struct {
	n        int
	src, dst [4]byte
	payload  []byte
}

func (s *sink) Deliver(p *buf.Packet, src, dst [4]byte, now int64) {
	s.n++
	s.src, s.dst, s.payload = src, dst, bytes.Clone(p.Data())
	p.Release()
}

func TestDeliverToRegisteredProtocol(t *testing.T) {
	h := newHarness(t, nil)
	var tcp sink
	h.s.Register(wire.ProtoTCP, &tcp)
	seg := []byte("not really a TCP segment, the stack does not look")
	f := ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipv4Packet(peerIP, ourIP, wire.ProtoTCP, seg))
	h.inject(append(f, 0, 0, 0, 0)) // trailing link padding is cut
	if tcp.n != 1 || tcp.src != peerIP || tcp.dst != ourIP || !bytes.Equal(tcp.payload, seg) {
		t.Fatalf("delivered %d: %v→%v %q", tcp.n, tcp.src, tcp.dst, tcp.payload)
	}
	h.inject(ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipv4Packet(peerIP, ourIP, wire.ProtoUDP, seg)))
	h.expectDrop(DropIPv4NoProto, 1)
}

// TestBadInputCountedAndDropped feeds one malformed frame per reason and
// checks that exactly that reason's counter moved and nothing was sent.
func TestBadInputCountedAndDropped(t *testing.T) {
	good := func() []byte { return pingFrame([]byte("payload!")) }
	ipOff := wire.EthernetHeaderLen
	fixIPSum := func(b []byte) []byte {
		h := wire.IPv4(b[ipOff:])
		h.SetChecksum(0)
		h.SetChecksum(h.ComputeHeaderChecksum())
		return b
	}
	withIP := func(f func(h wire.IPv4)) []byte {
		b := good()
		f(wire.IPv4(b[ipOff:]))
		return fixIPSum(b)
	}
	cases := []struct {
		name   string
		frame  []byte
		reason DropReason
	}{
		{"runt frame", good()[:10], DropEthTruncated},
		{"other host's MAC", func() []byte { b := good(); b[5] = 0x99; return b }(), DropEthNotForUs},
		{"multicast destination", func() []byte { b := good(); b[0] = 0x01; return b }(), DropEthNotForUs},
		{"our own source MAC", func() []byte { b := good(); copy(b[6:12], ourMAC[:]); return b }(), DropEthBadSource},
		{"IPv6", ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv6, make([]byte, 40)), DropEthUnknownType},
		{"VLAN tag", ethFrame(ourMAC, peerMAC, wire.EtherTypeVLAN, make([]byte, 40)), DropEthUnknownType},
		{"IPv4 truncated", good()[:ipOff+12], DropIPv4Truncated},
		{"IPv4 version 6", withIP(func(h wire.IPv4) { h[0] = 0x65 }), DropIPv4Version},
		{"IHL 4", withIP(func(h wire.IPv4) { h[0] = 0x44 }), DropIPv4HeaderLen},
		{"IHL past end", func() []byte { b := good(); b[ipOff] = 0x4f; return b }(), DropIPv4HeaderLen},
		{"total length beyond frame", withIP(func(h wire.IPv4) { h.SetTotalLen(h.TotalLen() + 1) }), DropIPv4TotalLen},
		{"total length below header", withIP(func(h wire.IPv4) { h.SetTotalLen(19) }), DropIPv4TotalLen},
		{"bad header checksum", func() []byte { b := good(); b[ipOff+10] ^= 0xff; return b }(), DropIPv4Checksum},
		{"TTL 0", withIP(func(h wire.IPv4) { h.SetTTL(0) }), DropIPv4TTLZero},
		{"other destination", withIP(func(h wire.IPv4) { h.SetDst([4]byte{198, 18, 0, 3}) }), DropIPv4NotForUs},
		{"LAND (source is us)", withIP(func(h wire.IPv4) { h.SetSrc(ourIP) }), DropIPv4BadSource},
		{"broadcast source", withIP(func(h wire.IPv4) { h.SetSrc([4]byte{255, 255, 255, 255}) }), DropIPv4BadSource},
		{"subnet broadcast source", withIP(func(h wire.IPv4) { h.SetSrc([4]byte{198, 18, 0, 255}) }), DropIPv4BadSource},
		{"multicast source", withIP(func(h wire.IPv4) { h.SetSrc([4]byte{224, 0, 0, 1}) }), DropIPv4BadSource},
		{"loopback source", withIP(func(h wire.IPv4) { h.SetSrc([4]byte{127, 0, 0, 1}) }), DropIPv4BadSource},
		{"more fragments", withIP(func(h wire.IPv4) { h[6] |= 0x20 }), DropIPv4Fragment},
		{"fragment offset", withIP(func(h wire.IPv4) { h[7] = 1 }), DropIPv4Fragment},
		{"ICMP truncated", func() []byte {
			return ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipv4Packet(peerIP, ourIP, wire.ProtoICMP, []byte{8, 0, 0}))
		}(), DropICMPMalformed},
		{"ICMP bad checksum", func() []byte { b := good(); b[len(b)-1] ^= 1; return b }(), DropICMPChecksum},
		{"ICMP timestamp request", func() []byte {
			m := echoRequest(1, 1, nil)
			m[0] = 13
			wire.ICMPv4(m).SetChecksum(0)
			wire.ICMPv4(m).SetChecksum(wire.ICMPv4(m).ComputeChecksum())
			return ethFrame(ourMAC, peerMAC, wire.EtherTypeIPv4, ipv4Packet(peerIP, ourIP, wire.ProtoICMP, m))
		}(), DropICMPUnhandled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.learnPeer()
			before := h.s.Stats()
			h.inject(c.frame)
			h.expectNone(c.name)
			after := h.s.Stats()
			for r := DropReason(0); r < numDropReasons; r++ {
				want := before.Drops[r]
				if r == c.reason {
					want++
				}
				if after.Drops[r] != want {
					t.Errorf("drops[%s] = %d, want %d", r, after.Drops[r], want)
				}
			}
			// The stack still answers a good ping afterwards.
			h.inject(pingFrame([]byte("still alive")))
			h.expectOne("echo reply after bad input")
		})
	}
}

func TestOutputTooBig(t *testing.T) {
	h := newHarness(t, nil)
	h.learnPeer()
	if h.s.Ping(peerIP, 1, 1, make([]byte, 1500), h.now) {
		h.expectNone("oversize")
	}
	if st := h.s.Stats(); st.Drops[DropTooBig] != 1 {
		t.Fatalf("too-big not counted: %+v", st.Drops)
	}
}

func TestZeroAllocsARPReplyAndEcho(t *testing.T) {
	h := newHarness(t, nil)
	h.learnPeer()
	arp := arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, [6]byte{}, ourIP)
	ping := pingFrame(make([]byte, 56))
	for _, c := range []struct {
		name  string
		frame []byte
	}{{"ARP reply", arp}, {"ICMP echo", ping}} {
		n := testing.AllocsPerRun(500, func() {
			p := h.slab.Alloc()
			copy(p.Append(len(c.frame)), c.frame)
			h.s.Input(p, h.now)
			for i, q := range h.tx.frames {
				q.Release()
				h.tx.frames[i] = nil
			}
			h.tx.frames = h.tx.frames[:0]
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", c.name, n)
		}
	}
}

func BenchmarkEcho(b *testing.B) {
	slab, _ := buf.NewSlab(64, buf.DefaultFrameSize, buf.DefaultHeadroom)
	defer slab.Close()
	tx := &capture{frames: make([]*buf.Packet, 0, 4)}
	w := timer.NewWheel(1e6, 64, 0)
	s, _ := New(Config{MAC: ourMAC, Addr: ourIP, PrefixLen: 24}, slab, tx, w)
	s.arp.learn(s, peerIP, peerMAC, true, 0)
	ping := pingFrame(make([]byte, 56))
	b.ReportAllocs()
	b.SetBytes(int64(len(ping)))
	for b.Loop() {
		p := slab.Alloc()
		copy(p.Append(len(ping)), ping)
		s.Input(p, 0)
		tx.frames[0].Release()
		tx.frames = tx.frames[:0]
	}
}
