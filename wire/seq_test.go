package wire

import (
	"math/rand/v2"
	"testing"
)

func TestSeqAcrossWrap(t *testing.T) {
	const top = Seq(0xffffffff)
	if top.Add(1) != 0 || top.Add(10) != 9 || Seq(5).Add(0xfffffffb) != 0 {
		t.Error("Add does not wrap")
	}
	for _, c := range []struct {
		a, b Seq
		d    int32 // b - a
	}{
		{top, 0, 1},
		{0xfffffff0, 0x10, 0x20},
		{0, 0, 0},
		{0x7fffffff, 0x80000000, 1},
		{0x80000000, 0x7fffffff, -1},
		{0, 0x7fffffff, 0x7fffffff},
		{10, 5, -5},
		{5, 0xfffffffb, -10},
	} {
		if got := c.b.Sub(c.a); got != c.d {
			t.Errorf("%#x.Sub(%#x) = %d, want %d", c.b, c.a, got, c.d)
		}
		lt, eq := c.d > 0, c.d == 0
		if c.a.LessThan(c.b) != lt || c.a.LessEq(c.b) != (lt || eq) ||
			c.b.GreaterThan(c.a) != lt || c.b.GreaterEq(c.a) != (lt || eq) ||
			c.b.LessThan(c.a) != (!lt && !eq) || c.a.GreaterThan(c.b) != (!lt && !eq) {
			t.Errorf("comparisons of %#x and %#x (distance %d) wrong", c.a, c.b, c.d)
		}
	}
	// Exactly 2^31 apart the order is undefined; it is documented as "both
	// are less".
	if !Seq(0).LessThan(0x80000000) || !Seq(0x80000000).LessThan(0) {
		t.Error("2^31 apart: documented behaviour changed")
	}
}

func TestSeqAgainstWideArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 100000 {
		a := Seq(r.Uint32())
		d := int64(r.Int32()) // distance in (-2^31, 2^31)
		if d == -1<<31 {
			continue
		}
		b := Seq(uint32(int64(a) + d))
		if b.Sub(a) != int32(d) || a.LessThan(b) != (d > 0) || a.LessEq(b) != (d >= 0) ||
			a.GreaterThan(b) != (d < 0) || a.GreaterEq(b) != (d <= 0) {
			t.Fatalf("a %#x b %#x d %d", a, b, d)
		}
		size := r.Uint32()
		in := d >= 0 && uint64(d) < uint64(size)
		if b.InWindow(a, size) != in {
			t.Fatalf("%#x.InWindow(%#x, %d) = %v, want %v", b, a, size, !in, in)
		}
		hi := a.Add(size)
		if b.InRange(a, hi) != in {
			t.Fatalf("%#x.InRange(%#x, %#x) = %v, want %v", b, a, hi, !in, in)
		}
	}
}

func TestSeqWindows(t *testing.T) {
	start := Seq(0xfffffff0)
	for _, c := range []struct {
		s    Seq
		size uint32
		in   bool
	}{
		{0xfffffff0, 0x20, true},
		{0xffffffff, 0x20, true},
		{0, 0x20, true},
		{0xf, 0x20, true},
		{0x10, 0x20, false}, // one past the end
		{0xffffffef, 0x20, false},
		{0xfffffff0, 0, false}, // an empty window holds nothing, not even start
		{0xfffffff0, 1, true},
		{0xfffffff1, 1, false},
		{0xffffffef, 0xffffffff, false}, // everything but start-1
		{0xffffffee, 0xffffffff, true},
	} {
		if got := c.s.InWindow(start, c.size); got != c.in {
			t.Errorf("%#x.InWindow(%#x, %#x) = %v", c.s, start, c.size, got)
		}
		if got := c.s.InRange(start, start.Add(c.size)); got != c.in {
			t.Errorf("%#x.InRange(%#x, %#x) = %v", c.s, start, start.Add(c.size), got)
		}
	}
	if Seq(7).InRange(7, 7) {
		t.Error("lo == hi is not empty")
	}
}
