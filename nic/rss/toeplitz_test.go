package rss

import (
	"net/netip"
	"testing"
)

// The IPv4 rows of Microsoft's RSS verification suite, under MicrosoftKey:
// destination, source, the 2-tuple hash and the IPv4/TCP hash.
var msVectors = []struct {
	dst, src      string
	ipv4, ipv4TCP uint32
}{
	{"161.142.100.80:1766", "66.9.149.187:2794", 0x323e8fc2, 0x51ccc178},
	{"65.69.140.83:4739", "199.92.111.2:14230", 0xd718262a, 0xc626b0ea},
	{"12.22.207.184:38024", "24.19.198.95:12898", 0xd2d0a5de, 0x5c2b394a},
	{"209.142.163.6:2217", "38.27.205.30:48228", 0x82989176, 0xafc7327f},
	{"202.188.127.2:1303", "153.39.163.191:44251", 0x5d1809c5, 0x10e828a2},
}

func TestToeplitzMicrosoftVectors(t *testing.T) {
	for _, v := range msVectors {
		dst, src := netip.MustParseAddrPort(v.dst), netip.MustParseAddrPort(v.src)
		if got := HashIPv4(MicrosoftKey, src.Addr().As4(), dst.Addr().As4()); got != v.ipv4 {
			t.Errorf("%s → %s: IPv4 hash %#08x, want %#08x", v.src, v.dst, got, v.ipv4)
		}
		if got := HashIPv4TCP(MicrosoftKey, src.Addr().As4(), dst.Addr().As4(), src.Port(), dst.Port()); got != v.ipv4TCP {
			t.Errorf("%s → %s: IPv4/TCP hash %#08x, want %#08x", v.src, v.dst, got, v.ipv4TCP)
		}
	}
}

// TestToeplitzLinear: the hash is linear over XOR of inputs, which the
// port search relies on.
func TestToeplitzLinear(t *testing.T) {
	a := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	b := []byte{0xff, 0, 0x80, 1, 0x55, 0xaa, 3, 9, 0, 0, 0x12, 0x34}
	x := make([]byte, len(a))
	for i := range a {
		x[i] = a[i] ^ b[i]
	}
	if Toeplitz(MicrosoftKey, x) != Toeplitz(MicrosoftKey, a)^Toeplitz(MicrosoftKey, b) {
		t.Fatal("Toeplitz(a^b) != Toeplitz(a)^Toeplitz(b)")
	}
	if Toeplitz(MicrosoftKey, make([]byte, 12)) != 0 {
		t.Fatal("hash of zeros is not zero")
	}
}
