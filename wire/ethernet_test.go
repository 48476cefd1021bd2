package wire

import (
	"bytes"
	"testing"
)

func TestEthernetDeconstruct(t *testing.T) {
	e := Ethernet(goldenARPRequest)
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	if e.Dst() != BroadcastMAC || e.Src() != macA || e.EtherType() != EtherTypeARP {
		t.Errorf("ARP request: dst %x src %x type %#x", e.Dst(), e.Src(), e.EtherType())
	}
	if !bytes.Equal(e.Payload(), goldenARPRequest[14:]) || len(e.Payload()) != ARPLen {
		t.Errorf("payload %x", e.Payload())
	}
	e = Ethernet(goldenSYN)
	if e.Dst() != macB || e.Src() != macA || e.EtherType() != EtherTypeIPv4 {
		t.Errorf("SYN: dst %x src %x type %#x", e.Dst(), e.Src(), e.EtherType())
	}
}

func TestEthernetConstruct(t *testing.T) {
	for _, c := range []struct {
		name  string
		f     EthernetFields
		frame []byte
	}{
		{"ARP request", EthernetFields{Dst: BroadcastMAC, Src: macA, EtherType: EtherTypeARP}, goldenARPRequest},
		{"ARP reply", EthernetFields{Dst: macA, Src: macB, EtherType: EtherTypeARP}, goldenARPReply},
		{"SYN-ACK", EthernetFields{Dst: macA, Src: macB, EtherType: EtherTypeIPv4}, goldenSYNACK},
	} {
		b := bytes.Repeat([]byte{0xee}, EthernetHeaderLen)
		Ethernet(b).Encode(&c.f)
		if !bytes.Equal(b, c.frame[:EthernetHeaderLen]) {
			t.Errorf("%s: Encode wrote\n%x, want\n%x", c.name, b, c.frame[:EthernetHeaderLen])
		}
		b = bytes.Repeat([]byte{0xee}, EthernetHeaderLen)
		e := Ethernet(b)
		e.SetDst(c.f.Dst)
		e.SetSrc(c.f.Src)
		e.SetEtherType(c.f.EtherType)
		if !bytes.Equal(b, c.frame[:EthernetHeaderLen]) {
			t.Errorf("%s: setters wrote\n%x, want\n%x", c.name, b, c.frame[:EthernetHeaderLen])
		}
	}
}

func TestEthernetTruncated(t *testing.T) {
	for n := range EthernetHeaderLen {
		if err := Ethernet(goldenARPRequest[:n]).Check(); err != ErrEthernetTruncated {
			t.Errorf("%d bytes: Check = %v, want ErrEthernetTruncated", n, err)
		}
	}
	if err := Ethernet(nil).Check(); err != ErrEthernetTruncated {
		t.Errorf("nil: Check = %v", err)
	}
	e := Ethernet(goldenARPRequest[:EthernetHeaderLen])
	if err := e.Check(); err != nil || len(e.Payload()) != 0 {
		t.Errorf("bare header: Check = %v, payload %d bytes", err, len(e.Payload()))
	}
}

func TestMACClasses(t *testing.T) {
	for _, c := range []struct {
		m                    [6]byte
		multicast, broadcast bool
	}{
		{BroadcastMAC, true, true},
		{macA, false, false},
		{[6]byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, true, false}, // IPv4 multicast
		{[6]byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x16}, true, false}, // IPv6 multicast
		{[6]byte{0x02, 0, 0, 0, 0, 1}, false, false},               // locally administered unicast
		{[6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, true, false},
		{[6]byte{}, false, false},
	} {
		if got := IsMulticastMAC(c.m); got != c.multicast {
			t.Errorf("IsMulticastMAC(%x) = %v", c.m, got)
		}
		if got := IsBroadcastMAC(c.m); got != c.broadcast {
			t.Errorf("IsBroadcastMAC(%x) = %v", c.m, got)
		}
	}
}
