package reactor

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/wire"
)

func tcpFrame(dst [4]byte, dport uint16, fragOff uint16) []byte {
	b := make([]byte, wire.EthernetHeaderLen+wire.IPv4MinHeaderLen+wire.TCPMinHeaderLen)
	wire.Ethernet(b).Encode(&wire.EthernetFields{EtherType: wire.EtherTypeIPv4})
	ip := wire.IPv4(b[wire.EthernetHeaderLen:])
	ip.Encode(&wire.IPv4Fields{TotalLen: 40, TTL: 64, Protocol: wire.ProtoTCP, Src: [4]byte{198, 18, 0, 1}, Dst: dst, FragOffset: fragOff})
	binary.BigEndian.PutUint16(b[wire.EthernetHeaderLen+wire.IPv4MinHeaderLen+2:], dport)
	return b
}

func TestForwarderSteer(t *testing.T) {
	f, err := NewForwarder(2, 32768, 60999, 4, 2048)
	if err != nil {
		t.Fatal(err)
	}
	us := [4]byte{198, 18, 0, 2}
	lo0, hi0 := f.Ports(0)
	lo1, hi1 := f.Ports(1)
	if lo0 != 32768 || hi0+1 != lo1 || hi1 > 60999 || int(hi1-lo1) != int(hi0-lo0) {
		t.Fatalf("ranges %d-%d, %d-%d", lo0, hi0, lo1, hi1)
	}
	for _, c := range []struct {
		name  string
		frame []byte
		want  int
	}{
		{"shard 0 port", tcpFrame(us, lo0, 0), 0},
		{"shard 0 last port", tcpFrame(us, hi0, 0), 0},
		{"shard 1 port", tcpFrame(us, lo1, 0), 1},
		{"listening port", tcpFrame(us, 8080, 0), -1},
		{"past the range", tcpFrame(us, 61000, 0), -1},
		{"not our address", tcpFrame([4]byte{198, 18, 0, 3}, lo1, 0), -1},
		{"later fragment", tcpFrame(us, lo1, 8), -1},
		{"truncated", tcpFrame(us, lo1, 0)[:30], -1},
		{"ARP", func() []byte { b := tcpFrame(us, lo1, 0); b[12], b[13] = 0x08, 0x06; return b }(), -1},
	} {
		if got := f.steer(c.frame, us); got != c.want {
			t.Errorf("%s: steer = %d, want %d", c.name, got, c.want)
		}
	}
	if _, err := NewForwarder(3, 100, 101, 4, 2048); err == nil {
		t.Error("3 shards sharing 2 ports accepted")
	}
}

func TestFrameRingOrderAndBound(t *testing.T) {
	r := newFrameRing(4, 64)
	for i := 0; i < 4; i++ {
		if !r.push([]byte{byte(i), byte(i)}, uint8(i)) {
			t.Fatalf("push %d refused", i)
		}
	}
	if r.push([]byte{9}, 0) {
		t.Fatal("push into a full ring accepted")
	}
	if r.push(make([]byte, 65), 0) {
		t.Fatal("oversize frame accepted")
	}
	for i := 0; i < 4; i++ {
		b, hops, ok := r.peek()
		if !ok || !bytes.Equal(b, []byte{byte(i), byte(i)}) || hops != uint8(i) {
			t.Fatalf("peek %d = %v hops %d %v", i, b, hops, ok)
		}
		r.advance()
	}
	if _, _, ok := r.peek(); ok || !r.empty() {
		t.Fatal("ring not empty")
	}
}

func TestFrameRingConcurrent(t *testing.T) {
	r := newFrameRing(8, 16)
	const n = 100000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var b [8]byte
		for i := uint64(0); i < n; {
			binary.LittleEndian.PutUint64(b[:], i)
			if r.push(b[:], 0) {
				i++
			}
		}
	}()
	for want := uint64(0); want < n; {
		b, _, ok := r.peek()
		if !ok {
			continue
		}
		if got := binary.LittleEndian.Uint64(b); got != want || len(b) != 8 {
			t.Fatalf("got frame %d (len %d), want %d", got, len(b), want)
		}
		r.advance()
		want++
	}
	wg.Wait()
}

// flows is a fake flowOwner: the set of (remote port) flows a shard has.
type flows map[uint16]bool

func (f flows) HasFlow(_ [4]byte, rport, _ uint16) bool { return f[rport] }

// segFrame is tcpFrame from remote port sport to dport with flags.
func segFrame(dst [4]byte, sport, dport uint16, flags wire.TCPFlags) []byte {
	b := tcpFrame(dst, dport, 0)
	t := b[wire.EthernetHeaderLen+wire.IPv4MinHeaderLen:]
	binary.BigEndian.PutUint16(t, sport)
	t[12] = 5 << 4
	t[13] = byte(flags)
	return b
}

// TestForwarderRoute is the forwarding decision for segments that match
// no flow: which shard a frame goes to with which hop mark, and where a
// query goes next, for 2 and 3 shards.
func TestForwarderRoute(t *testing.T) {
	us := [4]byte{198, 18, 0, 2}
	const ack, syn, rst = wire.TCPFlagACK, wire.TCPFlagSYN, wire.TCPFlagRST
	f2, err := NewForwarder(2, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	lo1, _ := f2.Ports(1)
	for _, c := range []struct {
		name     string
		frame    []byte
		self     int
		owned    flows
		to       int
		hops     uint8
		describe string
	}{
		{"own flow", segFrame(us, 1000, 8080, ack), 0, flows{1000: true}, -1, 0, "processed here"},
		{"moved flow", segFrame(us, 1000, 8080, ack), 0, flows{}, 1, 1, "asks shard 1"},
		{"moved flow on shard 1", segFrame(us, 1000, 8080, ack), 1, flows{}, 0, 1, "asks shard 0"},
		{"moved RST", segFrame(us, 1000, 8080, rst), 0, flows{}, 1, 1, "a RST for a moved flow is asked for too"},
		{"moved FIN", segFrame(us, 1000, 8080, ack|wire.TCPFlagFIN), 0, flows{}, 1, 1, "asks shard 1"},
		{"SYN-ACK", segFrame(us, 1000, 8080, syn|ack), 0, flows{}, 1, 1, "asks shard 1"},
		{"new SYN", segFrame(us, 1000, 8080, syn), 0, flows{}, 1, 1, "asked about: it may be a retransmission another shard holds"},
		{"retransmitted SYN", segFrame(us, 1000, 8080, syn), 0, flows{1000: true}, -1, 0, "ours: processed here"},
		{"dialed port of shard 1", segFrame(us, 1000, lo1, ack), 0, flows{}, 1, hopDeliver, "steered by port"},
		{"own dialed port, no flow", segFrame(us, 1000, lo1, ack), 1, flows{}, -1, 0, "answered here"},
		{"not TCP to us", segFrame([4]byte{198, 18, 0, 3}, 1000, 8080, ack), 0, flows{}, -1, 0, "not ours to steer"},
		{"later fragment", func() []byte { b := segFrame(us, 1000, 8080, ack); b[wire.EthernetHeaderLen+7] = 8; return b }(), 0, flows{}, -1, 0, "no ports"},
		{"no flags byte", segFrame(us, 1000, 8080, ack)[:wire.EthernetHeaderLen+wire.IPv4MinHeaderLen+13], 0, flows{}, -1, 0, "truncated"},
	} {
		to, hops := f2.route(c.frame, us, c.self, c.owned)
		if to != c.to || hops != c.hops {
			t.Errorf("%s: route = shard %d mark %d, want %d mark %d (%s)", c.name, to, hops, c.to, c.hops, c.describe)
		}
	}

	// Relays: a query visits every other shard once, then goes home.
	moved := segFrame(us, 1000, 8080, ack)
	f3, err := NewForwarder(3, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		f         *Forwarder
		self      int
		hops      uint8
		owned     flows
		to        int
		next      uint8
		describes string
	}{
		{"2 shards: owner", f2, 1, 1, flows{1000: true}, -1, 0, "processed by the owner"},
		{"2 shards: nobody", f2, 1, 1, flows{}, 0, hopDeliver, "back to shard 0, which answers"},
		{"deliver mark", f2, 1, hopDeliver, flows{}, -1, 0, "processed whatever the flows"},
		{"3 shards: first asked", f3, 2, 1, flows{}, 0, 2, "on to shard 0"},
		{"3 shards: owner", f3, 0, 2, flows{1000: true}, -1, 0, "processed by the owner"},
		{"3 shards: last asked", f3, 0, 2, flows{}, 1, hopDeliver, "home to shard 1 (0 − 2 mod 3)"},
		{"3 shards: from 0, last", f3, 2, 2, flows{}, 0, hopDeliver, "home to shard 0"},
	} {
		to, next := c.f.relay(moved, us, c.self, c.hops, c.owned)
		if to != c.to || next != c.next {
			t.Errorf("%s: relay = shard %d mark %d, want %d mark %d (%s)", c.name, to, next, c.to, c.next, c.describes)
		}
	}
}

// TestForwarderDefaults: zero arguments mean the documented defaults.
func TestForwarderDefaults(t *testing.T) {
	for _, c := range []struct{ n, slots int }{{1, 512}, {2, 4096}, {3, 2048}, {4, 2048}, {5, 1024}, {8, 1024}, {9, 512}, {64, 512}} {
		f, err := NewForwarder(c.n, 0, 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Slots() != c.slots || f.slotSize != buf.DefaultFrameSize {
			t.Errorf("%d shards: %d slots of %d bytes, want %d of %d", c.n, f.Slots(), f.slotSize, c.slots, buf.DefaultFrameSize)
		}
		if in := (c.n - 1) * f.Slots(); c.n > 1 && in < DefaultForwardInbound {
			t.Errorf("%d shards: rings into a shard hold %d frames, want at least %d", c.n, in, DefaultForwardInbound)
		}
		if lo, _ := f.Ports(0); lo != DefaultEphemeralLow {
			t.Errorf("%d shards: ports start at %d", c.n, lo)
		}
		if _, hi := f.Ports(c.n - 1); hi > DefaultEphemeralHigh {
			t.Errorf("%d shards: ports end at %d", c.n, hi)
		}
	}
	for _, bad := range [][2]int{{3, 0}, {0, 10}, {8, 1 << 17}} {
		if _, err := NewForwarder(2, 0, 0, bad[0], bad[1]); err == nil {
			t.Errorf("rings of %d slots × %d bytes accepted", bad[0], bad[1])
		}
	}
}

// TestForwardDecisionAllocs: routing a received frame, relaying a query
// and the ring's push/peek allocate nothing.
func TestForwardDecisionAllocs(t *testing.T) {
	f, err := NewForwarder(3, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	us := [4]byte{198, 18, 0, 2}
	frame := segFrame(us, 1000, 8080, wire.TCPFlagACK)
	var owner flowOwner = flows{2000: true}
	r := f.rings[0][1]
	allocs := testing.AllocsPerRun(1000, func() {
		to, hops := f.route(frame, us, 0, owner)
		if to != 1 || !r.push(frame, hops) {
			t.Fatal("route")
		}
		b, h, _ := r.peek()
		if to, _ := f.relay(b, us, 1, h, owner); to != 2 {
			t.Fatal("relay")
		}
		r.advance()
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per routed and relayed frame", allocs)
	}
}
