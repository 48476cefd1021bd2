package tcp

import (
	"slices"
	"testing"
)

func TestBufPoolClasses(t *testing.T) {
	var p bufPool
	p.init(20000, 64<<10, 1<<20)
	if want := []int{4096, 8192, 16384, 20000, 32768, 65536}; !slices.Equal(p.sizes, want) {
		t.Fatalf("classes %v, want %v", p.sizes, want)
	}
	// A send buffer (limit 20000) grows 4 KiB → 8 KiB → 16 KiB → 20000,
	// never past its limit.
	var b []byte
	for _, want := range []int{4096, 8192, 16384, 20000} {
		nb := p.grow(b, len(b)+1, 20000)
		if len(nb) != want {
			t.Fatalf("grew %d to %d, want %d", len(b), len(nb), want)
		}
		p.recycle(b)
		b = nb
	}
	if p.grow(b, 20001, 20000) != nil || p.refusals != 1 {
		t.Fatal("grew past the limit")
	}
	if p.inUse != 20000 {
		t.Fatalf("inUse %d, want 20000", p.inUse)
	}
	p.put(b)
	if p.inUse != 0 || p.high != 20000 {
		t.Fatalf("inUse %d high %d", p.inUse, p.high)
	}
}

func TestBufPoolBudgetAndFreeBound(t *testing.T) {
	var p bufPool
	p.init(16384, 16384, 40000)
	// 40000 bytes of budget: two 16 KiB buffers, then only 4 KiB more.
	a := p.grow(nil, 16384, 16384)
	c := p.grow(nil, 16384, 16384)
	d := p.grow(nil, 16384, 16384) // settles for the largest class that fits
	if a == nil || c == nil || len(d) != 4096 {
		t.Fatalf("got %d, %d, %d", len(a), len(c), len(d))
	}
	if p.grow(nil, 1, 16384) != nil || p.avail() != 40000-2*16384-4096 {
		t.Fatalf("budget not enforced: avail %d", p.avail())
	}
	// The free lists keep at most maxFree bytes.
	p.put(a)
	p.put(c)
	p.put(d)
	if p.inUse != 0 || p.freeBytes > p.maxFree {
		t.Fatalf("inUse %d, free %d of at most %d", p.inUse, p.freeBytes, p.maxFree)
	}
	if x := p.grow(nil, 16384, 16384); &x[0] != &a[0] && &x[0] != &c[0] {
		t.Fatal("a freed buffer was not reused")
	}
}
