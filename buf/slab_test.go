package buf

import (
	"bytes"
	"errors"
	"testing"
)

func newSlab(t *testing.T, frames int) *Slab {
	t.Helper()
	s, err := NewSlab(frames, DefaultFrameSize, DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n := s.InUse(); n != 0 {
			t.Errorf("slab leak: %d frames in use at end of test", n)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestNewSlabRejectsBadConfig(t *testing.T) {
	for _, c := range []struct{ frames, size, head int }{
		{0, 2048, 256}, {-1, 2048, 256}, {8, 1000, 256}, {8, 128, 0}, {8, 2048, 2000}, {8, 1 << 17, 0}, {8, 2048, -1},
	} {
		if s, err := NewSlab(c.frames, c.size, c.head); !errors.Is(err, ErrBadConfig) {
			t.Errorf("NewSlab(%d, %d, %d) = %v, want ErrBadConfig", c.frames, c.size, c.head, err)
			if s != nil {
				s.Close()
			}
		}
	}
}

func TestAllocUntilExhaustedThenRecover(t *testing.T) {
	s := newSlab(t, 4)
	var ps []*Packet
	for i := 0; i < 4; i++ {
		p := s.Alloc()
		if p == nil {
			t.Fatalf("alloc %d failed with %d free", i, s.Free())
		}
		ps = append(ps, p)
	}
	if p := s.Alloc(); p != nil {
		t.Fatal("alloc on exhausted slab returned a packet")
	}
	if got := s.Stats().AllocFail; got != 1 {
		t.Fatalf("AllocFail = %d, want 1", got)
	}
	seen := map[uint32]bool{}
	for _, p := range ps {
		if seen[p.Index()] {
			t.Fatalf("frame %d handed out twice", p.Index())
		}
		seen[p.Index()] = true
	}
	if s.InUse() != 4 {
		t.Fatalf("InUse = %d, want 4", s.InUse())
	}
	ps[2].Release()
	if p := s.Alloc(); p != ps[2] {
		t.Fatalf("after release, alloc returned frame %v, want the released one (LIFO)", p)
	}
	for _, p := range ps {
		p.Release()
	}
}

func TestDoubleReleaseCountedNotCorrupting(t *testing.T) {
	s := newSlab(t, 2)
	p := s.Alloc()
	p.Release()
	p.Release()
	if got := s.Stats().DoubleRel; got != 1 {
		t.Fatalf("DoubleRel = %d, want 1", got)
	}
	if s.Free() != 2 {
		t.Fatalf("free = %d after double release, want 2", s.Free())
	}
	a, b := s.Alloc(), s.Alloc()
	if a == nil || b == nil || a == b {
		t.Fatal("free list corrupted by double release")
	}
	a.Release()
	b.Release()
}

func TestPrependAppendTrim(t *testing.T) {
	s := newSlab(t, 1)
	p := s.Alloc()
	defer p.Release()
	if p.Len() != 0 || p.Headroom() != DefaultHeadroom {
		t.Fatalf("fresh packet len %d headroom %d", p.Len(), p.Headroom())
	}
	copy(p.Append(5), "hello")
	copy(p.Prepend(3), "<<<")
	if got := string(p.Data()); got != "<<<hello" {
		t.Fatalf("data = %q", got)
	}
	if p.Headroom() != DefaultHeadroom-3 || p.Tailroom() != DefaultFrameSize-DefaultHeadroom-5 {
		t.Fatalf("headroom %d tailroom %d", p.Headroom(), p.Tailroom())
	}
	p.TrimFront(3)
	p.Truncate(4)
	if got := string(p.Data()); got != "hell" {
		t.Fatalf("after trim/truncate data = %q", got)
	}
	if p.Append(p.Tailroom()+1) != nil {
		t.Fatal("Append beyond tailroom succeeded")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Prepend beyond headroom did not panic")
			}
		}()
		p.Prepend(p.Headroom() + 1)
	}()
	if !p.SetData(0, DefaultFrameSize) || p.Len() != DefaultFrameSize {
		t.Fatal("SetData over whole frame failed")
	}
	if p.SetData(1, DefaultFrameSize) {
		t.Fatal("SetData past frame end succeeded")
	}
}

func TestFramesDoNotOverlapAndAddrMatchesArena(t *testing.T) {
	s := newSlab(t, 8)
	var ps []*Packet
	for i := 0; i < 8; i++ {
		p := s.Alloc()
		d := p.Append(16)
		for j := range d {
			d[j] = byte(i)
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		if !bytes.Equal(p.Data(), bytes.Repeat([]byte{byte(i)}, 16)) {
			t.Fatalf("frame %d overwritten", i)
		}
		a := p.Addr()
		if !bytes.Equal(s.Arena()[a:a+16], p.Data()) {
			t.Fatalf("Addr %d does not locate packet %d in the arena", a, i)
		}
		p.Release()
	}
}

func TestCloneCopiesDataAndMeta(t *testing.T) {
	s := newSlab(t, 2)
	p := s.Alloc()
	copy(p.Append(4), "data")
	p.Meta.CsumVerified = true
	q := p.Clone()
	if q == nil || q == p || string(q.Data()) != "data" || !q.Meta.CsumVerified || q.Offset() != p.Offset() {
		t.Fatalf("bad clone %+v", q)
	}
	p.Data()[0] = 'X'
	if string(q.Data()) != "data" {
		t.Fatal("clone shares bytes with original")
	}
	if p.Clone() != nil {
		t.Fatal("clone on exhausted slab succeeded")
	}
	p.Release()
	q.Release()
}

func TestCloseReportsLeak(t *testing.T) {
	s, err := NewSlab(2, DefaultFrameSize, DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	s.Alloc()
	if err := s.Close(); err == nil {
		t.Fatal("Close with a frame in use returned nil")
	}
}

func TestAllocReleaseZeroAllocs(t *testing.T) {
	s := newSlab(t, 16)
	n := testing.AllocsPerRun(1000, func() {
		p := s.Alloc()
		p.Append(64)
		p.Prepend(14)
		p.Release()
	})
	if n != 0 {
		t.Fatalf("Alloc/Release allocates %v per run", n)
	}
}

func BenchmarkAllocRelease(b *testing.B) {
	s, _ := NewSlab(64, DefaultFrameSize, DefaultHeadroom)
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		s.Alloc().Release()
	}
}
