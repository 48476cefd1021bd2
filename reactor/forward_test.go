package reactor

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"

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
		if !r.push([]byte{byte(i), byte(i)}) {
			t.Fatalf("push %d refused", i)
		}
	}
	if r.push([]byte{9}) {
		t.Fatal("push into a full ring accepted")
	}
	if r.push(make([]byte, 65)) {
		t.Fatal("oversize frame accepted")
	}
	for i := 0; i < 4; i++ {
		b, ok := r.peek()
		if !ok || !bytes.Equal(b, []byte{byte(i), byte(i)}) {
			t.Fatalf("peek %d = %v %v", i, b, ok)
		}
		r.advance()
	}
	if _, ok := r.peek(); ok || !r.empty() {
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
			if r.push(b[:]) {
				i++
			}
		}
	}()
	for want := uint64(0); want < n; {
		b, ok := r.peek()
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
