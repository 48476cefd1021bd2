package rss

import (
	"errors"
	"testing"
)

func indir(n, queues int) []uint32 {
	t := make([]uint32, n)
	for i := range t {
		t[i] = uint32(i % queues) // ethtool's default spread
	}
	return t
}

// TestPortFor: every port PortFor returns hashes (by the full Toeplitz
// computation) to the asked queue, the search finds the first such port
// from its start, wraps, and reports ErrNoPort when no port fits.
func TestPortFor(t *testing.T) {
	local, remote := [4]byte{198, 18, 0, 2}, [4]byte{198, 18, 0, 1}
	for _, queues := range []int{2, 3, 4} {
		tab, err := NewTable(MicrosoftKey, indir(128, queues))
		if err != nil {
			t.Fatal(err)
		}
		for q := 0; q < queues; q++ {
			from := uint16(32768)
			for k := 0; k < 200; k++ {
				p, err := tab.PortFor(q, local, remote, 80, 32768, 60999, from)
				if err != nil {
					t.Fatalf("queue %d from %d: %v", q, from, err)
				}
				if got := tab.QueueIPv4TCP(remote, local, 80, p); got != q {
					t.Fatalf("%d queues: port %d for queue %d: its replies hash to queue %d", queues, p, q, got)
				}
				for s := from; s < p; s++ { // nothing skipped
					if tab.QueueIPv4TCP(remote, local, 80, s) == q {
						t.Fatalf("port %d (before %d) also fits queue %d", s, p, q)
					}
				}
				from = p + 1
			}
		}
	}
	tab, _ := NewTable(MicrosoftKey, indir(128, 2))
	// Wrap: from the top of a small range back to its start.
	p0, err := tab.PortFor(0, local, remote, 80, 40000, 40100, 40000)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := tab.PortFor(0, local, remote, 80, 40000, p0, p0+1); err == nil && p != p0 {
		t.Fatalf("wrapping search found %d, want %d", p, p0)
	}
	// A queue no bucket points to has no port.
	if _, err := tab.PortFor(5, local, remote, 80, 32768, 60999, 0); !errors.Is(err, ErrNoPort) {
		t.Fatalf("queue 5 of 2: %v, want ErrNoPort", err)
	}
	xor := &Table{Key: MicrosoftKey, Indir: indir(128, 2), HFunc: HashXOR}
	if _, err := xor.PortFor(0, local, remote, 80, 1, 2, 1); !errors.Is(err, ErrNotToeplitz) {
		t.Fatalf("XOR hash: %v, want ErrNotToeplitz", err)
	}
	if _, err := NewTable(MicrosoftKey[:12], indir(8, 2)); !errors.Is(err, ErrShortKey) {
		t.Fatalf("12-byte key: %v", err)
	}
}

func TestPortForAllocs(t *testing.T) {
	tab, _ := NewTable(MicrosoftKey, indir(128, 4))
	local, remote := [4]byte{198, 18, 0, 2}, [4]byte{198, 18, 0, 1}
	if a := testing.AllocsPerRun(100, func() { tab.PortFor(3, local, remote, 443, 32768, 60999, 40000) }); a != 0 {
		t.Fatalf("%.1f allocations per PortFor", a)
	}
}

func TestParseKey(t *testing.T) {
	k, err := parseKey("6d:5a:56:da")
	if err != nil || len(k) != 4 || k[0] != 0x6d || k[3] != 0xda {
		t.Fatalf("parseKey = %x, %v", k, err)
	}
	if _, err := parseKey("00:00:00"); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("zero key: %v", err)
	}
	if _, err := parseKey("6d:5"); err == nil {
		t.Fatal("malformed key accepted")
	}
}

func BenchmarkPortFor(b *testing.B) {
	tab, _ := NewTable(MicrosoftKey, indir(128, 8))
	local, remote := [4]byte{198, 18, 0, 2}, [4]byte{198, 18, 0, 1}
	b.ReportAllocs()
	p := uint16(32768)
	for i := 0; i < b.N; i++ {
		q, _ := tab.PortFor(i&7, local, remote, 443, 32768, 60999, p)
		p = q + 1
	}
}
