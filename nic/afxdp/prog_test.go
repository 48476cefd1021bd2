//go:build linux

package afxdp

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

func needBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF, CAP_NET_ADMIN) to load XDP programs")
	}
}

// frame builds an Ethernet frame of the given type with body, padded to
// the Ethernet minimum.
func frame(etherType uint16, body []byte) []byte {
	f := make([]byte, 14, 60)
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 1})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(f[12:], etherType)
	f = append(f, body...)
	for len(f) < 60 {
		f = append(f, 0)
	}
	return f
}

func ipv4(dst [4]byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	h[9] = 1
	copy(h[12:16], []byte{198, 18, 0, 1})
	copy(h[16:20], dst[:])
	return h
}

func arp(hlen, plen byte, tpa [4]byte) []byte {
	a := make([]byte, 28)
	binary.BigEndian.PutUint16(a[0:], 1)
	binary.BigEndian.PutUint16(a[2:], 0x0800)
	a[4], a[5] = hlen, plen
	binary.BigEndian.PutUint16(a[6:], 1)
	copy(a[14:18], []byte{198, 18, 0, 1})
	copy(a[24:28], tpa[:])
	return a
}

// TestSteeringVerdicts runs the program in the kernel (BPF_PROG_TEST_RUN)
// over crafted frames. It is built with XDP_DROP as the redirect fallback
// and an empty XSKMAP, so "redirect" shows as DROP and "pass" as PASS.
func TestSteeringVerdicts(t *testing.T) {
	needBPF(t)
	addr := [4]byte{198, 19, 200, 129} // high bits set in every byte order
	other := [4]byte{198, 19, 200, 130}
	m, err := newXSKMap(4)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	prog, err := loadProgram(m, addr, xdpDrop)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	const redirect, pass = xdpDrop, xdpPass
	cases := []struct {
		name string
		in   []byte
		want uint32
	}{
		{"ipv4 to us", frame(0x0800, ipv4(addr)), redirect},
		{"ipv4 to another host", frame(0x0800, ipv4(other)), pass},
		{"ipv4 to byte-swapped us", frame(0x0800, ipv4([4]byte{129, 200, 19, 198})), pass},
		{"ipv4 truncated before daddr", frame(0x0800, ipv4(addr))[:14+19], pass},
		{"arp for us", frame(0x0806, arp(6, 4, addr)), redirect},
		{"arp for another host", frame(0x0806, arp(6, 4, other)), pass},
		{"arp with odd address lengths", frame(0x0806, arp(8, 4, addr)), pass},
		{"arp truncated", frame(0x0806, arp(6, 4, addr))[:14+27], pass},
		{"ipv6", frame(0x86dd, make([]byte, 40)), pass},
		{"vlan", frame(0x8100, ipv4(addr)), pass},
		{"runt", frame(0x0800, nil)[:14], pass},
	}
	for _, c := range cases {
		got, err := prog.Run(&ebpf.RunOptions{Data: c.in})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: verdict %d, want %d", c.name, got, c.want)
		}
	}
}
