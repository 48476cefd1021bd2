package tcp

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/wire"
)

// SipHash-2-4 test vector from the paper (Appendix A): key 00..0f,
// message 00..0e (15 bytes).
func TestSipHashVector(t *testing.T) {
	var key [16]byte
	var msg [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	for i := 0; i < 15; i++ {
		msg[i] = byte(i)
	}
	k0 := binary.LittleEndian.Uint64(key[:8])
	k1 := binary.LittleEndian.Uint64(key[8:])
	m := []uint64{binary.LittleEndian.Uint64(msg[:8]), binary.LittleEndian.Uint64(msg[8:])}
	if got := sipHash24(k0, k1, m, 15); got != 0xa129ca6149be45e5 {
		t.Fatalf("SipHash-2-4 = %#x, want 0xa129ca6149be45e5", got)
	}
	// Empty message (first entry of the reference vector table).
	if got := sipHash24(k0, k1, []uint64{0}, 0); got != 0x726fdb47dd0e0e31 {
		t.Fatalf("SipHash-2-4(empty) = %#x, want 0x726fdb47dd0e0e31", got)
	}
}

func TestFlowTableAgainstMap(t *testing.T) {
	var ft flowTable
	ft.init(64, 12345)
	ref := map[flowKey]int32{}
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() flowKey {
		// A small key space so that inserts, hits and deletes collide.
		return flowKey{raddr: [4]byte{198, 18, 0, byte(rng.IntN(4))}, rport: uint16(rng.IntN(40)), lport: 80}
	}
	for i := 0; i < 200000; i++ {
		k := key()
		switch rng.IntN(3) {
		case 0:
			if _, ok := ref[k]; !ok && len(ref) < 64 {
				v := int32(rng.IntN(1000))
				ft.insert(k, v)
				ref[k] = v
			}
		case 1:
			_, ok := ref[k]
			if ft.remove(k) != ok {
				t.Fatalf("remove(%v) disagrees with the map (present=%v)", k, ok)
			}
			delete(ref, k)
		}
		if v, ok := ref[k]; ft.lookup(k) != map[bool]int32{true: v, false: -1}[ok] {
			t.Fatalf("step %d: lookup(%v) = %d, map has %d,%v", i, k, ft.lookup(k), v, ok)
		}
		if ft.count != len(ref) {
			t.Fatalf("count %d, map %d", ft.count, len(ref))
		}
	}
	for k, v := range ref {
		if ft.lookup(k) != v {
			t.Fatalf("final lookup(%v)", k)
		}
	}
}

func TestFlowTableZeroAlloc(t *testing.T) {
	var ft flowTable
	ft.init(1024, 1)
	k := flowKey{raddr: [4]byte{1, 2, 3, 4}, rport: 5, lport: 6}
	if a := testing.AllocsPerRun(1000, func() {
		ft.insert(k, 3)
		ft.lookup(k)
		ft.remove(k)
	}); a != 0 {
		t.Fatalf("%.1f allocs", a)
	}
}

// TestReassemblyAgainstReference inserts random overlapping segments and
// compares the bytes delivered with a byte-map reference.
func TestReassemblyAgainstReference(t *testing.T) {
	slab, err := buf.NewSlab(512, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	defer slab.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 200; round++ {
		var r reassembly
		r.e = make([]oooEntry, 0, 64)
		base := wire.Seq(rng.Uint32()) // exercise the 2^32 wrap
		const span = 4000
		stream := make([]byte, span)
		for i := range stream {
			stream[i] = byte(rng.Uint32())
		}
		have := make([]bool, span)
		rcvNxt := base
		var got []byte
		for step := 0; step < 300 && rcvNxt != base.Add(span); step++ {
			off := rng.IntN(span)
			n := 1 + rng.IntN(300)
			if off+n > span {
				n = span - off
			}
			if int(rcvNxt.Sub(base)) > off {
				continue // the caller trims below RCV.NXT first
			}
			p := slab.Alloc()
			copy(p.Append(n), stream[off:off+n])
			seq := base.Add(uint32(off))
			if seq == rcvNxt {
				got = append(got, p.Data()...)
				rcvNxt = rcvNxt.Add(uint32(n))
				p.Release()
				for q := r.next(rcvNxt); q != nil; q = r.next(rcvNxt) {
					got = append(got, q.Data()...)
					rcvNxt = rcvNxt.Add(uint32(q.Len()))
					q.Release()
				}
				continue
			}
			switch r.insert(seq, p, 1<<20) {
			case oooInserted:
				for i := off; i < off+n; i++ {
					have[i] = true
				}
			default:
				p.Release()
			}
			// Invariants: sorted, non-overlapping, byte count.
			total := 0
			for i, e := range r.e {
				if e.end.Sub(e.seq) != int32(e.p.Len()) || !bytes.Equal(e.p.Data(), stream[e.seq.Sub(base):e.end.Sub(base)]) {
					t.Fatalf("round %d: entry %d holds the wrong bytes", round, i)
				}
				if i > 0 && r.e[i-1].end.GreaterThan(e.seq) {
					t.Fatalf("round %d: entries overlap", round)
				}
				total += e.p.Len()
			}
			if total != r.bytes {
				t.Fatalf("bytes %d, entries hold %d", r.bytes, total)
			}
		}
		if !bytes.Equal(got, stream[:rcvNxt.Sub(base)]) {
			t.Fatalf("round %d: delivered bytes differ", round)
		}
		r.releaseAll()
		if slab.InUse() != 0 {
			t.Fatalf("round %d: %d frames leaked", round, slab.InUse())
		}
	}
}

func TestReassemblyBounds(t *testing.T) {
	slab, _ := buf.NewSlab(16, buf.DefaultFrameSize, buf.DefaultHeadroom)
	defer slab.Close()
	var r reassembly
	r.e = make([]oooEntry, 0, 2)
	mk := func(n int) *buf.Packet { p := slab.Alloc(); p.Append(n); return p }
	if r.insert(100, mk(10), 25) != oooInserted || r.insert(200, mk(10), 25) != oooInserted {
		t.Fatal("inserts failed")
	}
	p := mk(10)
	if r.insert(300, p, 25) != oooFull {
		t.Fatal("entry bound not enforced")
	}
	p.Release()
	// A segment covering both held ones replaces them (fits the bound).
	p = mk(20)
	if r.insert(95, p, 25) != oooFull {
		t.Fatal("byte bound not enforced")
	}
	p.Release()
	p = mk(5)
	if r.insert(102, p, 25) != oooDuplicate {
		t.Fatal("duplicate not detected")
	}
	p.Release()
	r.releaseAll()
	if slab.InUse() != 0 {
		t.Fatal("leak")
	}
}

func TestCookieRoundTrip(t *testing.T) {
	s := &Stack{cfg: Config{Addr: [4]byte{198, 18, 0, 1}}, key0: 1, key1: 2}
	r := [4]byte{198, 18, 0, 2}
	now := int64(1e12)
	for _, mss := range []uint16{100, 536, 1459, 1460, 9000} {
		c, got := s.makeCookie(r, 80, 4000, 777, mss, now)
		m, ok := s.checkCookie(r, 80, 4000, 777, c, now+50e9)
		if !ok || m != got || m > mss && mss >= 536 {
			t.Fatalf("mss %d: cookie %#x -> %d,%v (encoded %d)", mss, c, m, ok, got)
		}
		if _, ok := s.checkCookie(r, 80, 4001, 777, c, now); ok {
			t.Fatal("cookie valid for another port")
		}
		if _, ok := s.checkCookie(r, 80, 4000, 778, c, now); ok {
			t.Fatal("cookie valid for another client ISN")
		}
		if _, ok := s.checkCookie(r, 80, 4000, 777, c, now+3*cookiePeriod); ok {
			t.Fatal("stale cookie accepted")
		}
	}
}

func TestSendBufWrap(t *testing.T) {
	var b sendBuf
	var p bufPool
	p.init(10, 10, 100)
	b.head = 0xfffffffe
	if b.write([]byte("abcdefgh"), &p, 10) != 8 {
		t.Fatal("write")
	}
	b.consume(6, &p)
	if b.write([]byte("0123456789"), &p, 10) != 8 {
		t.Fatal("write after consume")
	}
	out := make([]byte, 10)
	b.copyOut(out, 0)
	if string(out) != "gh01234567" || b.head != 4 || b.end() != 14 {
		t.Fatalf("got %q head %d end %d", out, b.head, b.end())
	}
}

// RFC 6528: the ISN of one 4-tuple advances with the 4 µs clock; other
// tuples get unrelated ISNs.
func TestISN(t *testing.T) {
	s := &Stack{cfg: Config{Addr: [4]byte{198, 18, 0, 1}}, key0: 11, key1: 22}
	r := [4]byte{198, 18, 0, 2}
	a := s.isn(r, 80, 4000, 1e9)
	if b := s.isn(r, 80, 4000, 1e9+4000*1000); b.Sub(a) != 1000 {
		t.Fatalf("ISN advanced by %d over 4 ms, want 1000", b.Sub(a))
	}
	if s.isn(r, 80, 4001, 1e9) == a || s.isn([4]byte{198, 18, 0, 3}, 80, 4000, 1e9) == a {
		t.Fatal("different tuples share an ISN")
	}
	s2 := &Stack{cfg: s.cfg, key0: 12, key1: 22}
	if s2.isn(r, 80, 4000, 1e9) == a {
		t.Fatal("ISN does not depend on the secret")
	}
}
