package wire

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// refSum is the plain RFC 1071 definition: big-endian 16-bit words, an odd
// last byte padded with zero, added with end-around carry, one word at a
// time. It is the reference the fast Sum is held to.
func refSum(b []byte, initial uint32) uint16 {
	s := uint64(initial)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func checkSum(t *testing.T, what string, b []byte, initial uint32) {
	t.Helper()
	s := Sum(b, initial)
	if s > 0xffff {
		t.Fatalf("%s: Sum = %#x, not folded to 16 bits", what, s)
	}
	if want := refSum(b, initial); uint16(s) != want || Fold(s) != want {
		t.Fatalf("%s (%d bytes, initial %#x): Sum = %#x, want %#x", what, len(b), initial, s, want)
	}
}

func TestSumRFC1071Example(t *testing.T) {
	// RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if s := Sum(b, 0); s != 0xddf2 || Checksum(b, 0) != 0x220d {
		t.Fatalf("Sum = %#x, Checksum = %#x; want 0xddf2, 0x220d", s, Checksum(b, 0))
	}
}

func TestSumAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 2100)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	// Every length up to 2048 at every start address mod 16 (odd ones
	// included): covers each unrolled step and tail combination.
	for off := range 16 {
		for n := 0; n <= 2048; n++ {
			checkSum(t, "random", buf[off:off+n], 0)
		}
	}
	for _, initial := range []uint32{1, 0xffff, 0x10000, 0x1fffe, 0xfffffffe, 0xffffffff} {
		for n := range 100 {
			checkSum(t, "initial", buf[3:3+n], initial)
		}
	}
}

func TestSumCarries(t *testing.T) {
	// All-ones data makes every 64-bit add carry: the worst case for the
	// carry chain and the final folds.
	ones := make([]byte, 65536+7)
	for i := range ones {
		ones[i] = 0xff
	}
	for _, n := range []int{1, 2, 7, 8, 9, 63, 64, 65, 1460, 9000, 65535, 65536} {
		for off := range 8 {
			checkSum(t, "ones", ones[off:off+n], 0)
			checkSum(t, "ones", ones[off:off+n], 0xffffffff)
		}
	}
	// 0x8000 words pair into exact carries out of 16 bits.
	half := make([]byte, 4096)
	for i := 0; i < len(half); i += 2 {
		half[i] = 0x80
	}
	checkSum(t, "0x8000 words", half, 0)
	// All zero: the sum is 0 (not 0xffff) and the checksum 0xffff.
	zero := make([]byte, 1500)
	if Sum(zero, 0) != 0 || Checksum(zero, 0) != 0xffff {
		t.Fatalf("zeros: Sum %#x Checksum %#x", Sum(zero, 0), Checksum(zero, 0))
	}
}

func TestSumSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 1501)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	whole := Fold(Sum(b, 0))
	for k := 0; k <= len(b); k += 2 {
		if got := Fold(Sum(b[k:], Sum(b[:k], 0))); got != whole {
			t.Fatalf("split at %d: %#x, want %#x", k, got, whole)
		}
	}
	// Results add: many Sum results in one uint32 without overflow.
	var acc uint32
	for range 60000 {
		acc += Sum(b[:2], 0)
	}
	if Fold(acc) != foldMod(uint64(refSum(b[:2], 0))*60000) {
		t.Fatalf("sum of 60000 results: %#x", Fold(acc))
	}
}

// foldMod folds a 64-bit sum the slow way.
func foldMod(s uint64) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestFold(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0, 0}, {1, 1}, {0xffff, 0xffff}, {0x10000, 1}, {0x1fffe, 0xffff}, {0x1ffff, 1},
		{0xffffffff, 0xffff}, {0xfffeffff, 0xfffe}, {0x12345678, 0x68ac},
	} {
		if got := Fold(c.in); got != c.want {
			t.Errorf("Fold(%#x) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	// The pseudo-header laid out as bytes and summed the slow way.
	src, dst := [4]byte{198, 18, 0, 1}, [4]byte{255, 255, 255, 254}
	ph := make([]byte, 12)
	copy(ph, src[:])
	copy(ph[4:], dst[:])
	ph[9] = ProtoTCP
	binary.BigEndian.PutUint16(ph[10:], 0xfffe)
	if got, want := Fold(PseudoHeaderSum(src, dst, ProtoTCP, 0xfffe)), refSum(ph, 0); got != want {
		t.Fatalf("PseudoHeaderSum folds to %#x, want %#x", got, want)
	}
}

// recompute is the checksum of words with word i taken as the checksum
// field (zero).
func recompute(words []uint16, field int) uint16 {
	var s uint64
	for i, w := range words {
		if i != field {
			s += uint64(w)
		}
	}
	return ^foldMod(s)
}

func TestChecksumUpdate16(t *testing.T) {
	corner := []uint16{0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff}
	r := rand.New(rand.NewPCG(5, 6))
	words := make([]uint16, 10) // word 0 is the checksum field
	try := func(i int, nw uint16) {
		t.Helper()
		old := words[i]
		words[0] = recompute(words, 0)
		words[i] = nw
		want := recompute(words, 0)
		got := ChecksumUpdate16(words[0], old, nw)
		allZero := true
		for _, w := range words[1:] {
			allZero = allZero && w == 0
		}
		if allZero {
			// The one documented difference: ±0.
			if got != 0 || want != 0xffff {
				t.Fatalf("all-zero data: got %#x want %#x", got, want)
			}
			return
		}
		if got != want {
			t.Fatalf("words %04x: word %d %#x→%#x: updated %#x, recomputed %#x", words, i, old, nw, got, want)
		}
	}
	for range 200000 {
		for j := 1; j < len(words); j++ {
			words[j] = uint16(r.Uint32())
			if r.IntN(4) == 0 {
				words[j] = corner[r.IntN(len(corner))]
			}
		}
		i := 1 + r.IntN(len(words)-1)
		nw := uint16(r.Uint32())
		if r.IntN(2) == 0 {
			nw = corner[r.IntN(len(corner))]
		}
		try(i, nw)
	}
	// Checksums of exactly 0x0000 before and after: the other words sum to
	// 0xffff.
	words = []uint16{0, 0x1234, 0xedcb, 0, 0, 0, 0, 0, 0, 0}
	try(2, 0x0001) // from checksum 0x0000
	try(2, 0xedcb) // back to 0x0000
	try(1, 0xffff)
	try(1, 0x0000) // 0xffff → 0x0000: the same number in one's complement
	try(2, 0xffff)
	words = []uint16{0, 0xffff, 0, 0, 0, 0, 0, 0, 0, 0}
	try(1, 0x0000) // to all-zero data
	words = []uint16{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	try(5, 0xffff) // from all-zero data
}

func TestChecksumUpdate32(t *testing.T) {
	// NAT-style rewrite of an address: the IPv4 header checksum and the
	// TCP checksum (through the pseudo-header) both follow.
	frame := clone(goldenSYN)
	ip := ipOf(frame)
	seg := TCP(ip.Payload())
	r := rand.New(rand.NewPCG(7, 8))
	for range 10000 {
		var na [4]byte
		binary.BigEndian.PutUint32(na[:], r.Uint32())
		if r.IntN(8) == 0 {
			na = [4]byte{}
		}
		if r.IntN(8) == 0 {
			na = [4]byte{0xff, 0xff, 0xff, 0xff}
		}
		old := ip.Src()
		ip.SetSrc(na)
		ip.SetChecksum(ChecksumUpdate32(ip.Checksum(), old, na))
		seg.SetChecksum(ChecksumUpdate32(seg.Checksum(), old, na))
		if !ip.HeaderChecksumValid() || ip.Checksum() != ip.ComputeHeaderChecksum() {
			t.Fatalf("IP: %v→%v: %#x, recomputed %#x", old, na, ip.Checksum(), ip.ComputeHeaderChecksum())
		}
		if !seg.ChecksumValid(na, ip.Dst()) || seg.Checksum() != seg.ComputeChecksum(na, ip.Dst()) {
			t.Fatalf("TCP: %v→%v: %#x, recomputed %#x", old, na, seg.Checksum(), seg.ComputeChecksum(na, ip.Dst()))
		}
	}
}
