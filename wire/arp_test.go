package wire

import (
	"bytes"
	"testing"
)

func TestARPDeconstruct(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame []byte
		want  ARPFields
	}{
		{"request", goldenARPRequest, ARPFields{Op: ARPRequest, SenderHW: macA, SenderIP: hostA, TargetIP: hostB}},
		{"reply", goldenARPReply, ARPFields{Op: ARPReply, SenderHW: macB, SenderIP: hostB, TargetHW: macA, TargetIP: hostA}},
	} {
		a := ARP(Ethernet(c.frame).Payload())
		if err := a.Check(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := ARPFields{Op: a.Op(), SenderHW: a.SenderHW(), SenderIP: a.SenderIP(), TargetHW: a.TargetHW(), TargetIP: a.TargetIP()}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestARPConstruct(t *testing.T) {
	for _, c := range []struct {
		frame []byte
		f     ARPFields
	}{
		{goldenARPRequest, ARPFields{Op: ARPRequest, SenderHW: macA, SenderIP: hostA, TargetIP: hostB}},
		{goldenARPReply, ARPFields{Op: ARPReply, SenderHW: macB, SenderIP: hostB, TargetHW: macA, TargetIP: hostA}},
	} {
		b := bytes.Repeat([]byte{0xee}, ARPLen+2)
		ARP(b).Encode(&c.f)
		if !bytes.Equal(b[:ARPLen], c.frame[EthernetHeaderLen:]) {
			t.Errorf("Encode(%+v) =\n%x, want\n%x", c.f, b[:ARPLen], c.frame[EthernetHeaderLen:])
		}
		if b[ARPLen] != 0xee || b[ARPLen+1] != 0xee {
			t.Errorf("Encode wrote past ARPLen")
		}
	}
}

func TestARPTruncated(t *testing.T) {
	a := goldenARPRequest[EthernetHeaderLen:]
	for n := range ARPLen {
		if err := ARP(a[:n]).Check(); err != ErrARPTruncated {
			t.Errorf("%d bytes: Check = %v, want ErrARPTruncated", n, err)
		}
	}
	padded := append(clone(a), make([]byte, 18)...) // minimum-size frame padding
	if err := ARP(padded).Check(); err != nil {
		t.Errorf("padded: %v", err)
	}
}

func TestARPMalformed(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(b []byte)
		want error
	}{
		{"hardware type 6 (IEEE 802)", func(b []byte) { b[1] = 6 }, ErrARPHardwareType},
		{"hardware type 0x0101", func(b []byte) { b[0] = 1 }, ErrARPHardwareType},
		{"protocol IPv6", func(b []byte) { b[2], b[3] = 0x86, 0xdd }, ErrARPProtocolType},
		{"hardware length 8", func(b []byte) { b[4] = 8 }, ErrARPAddrLen},
		{"protocol length 16", func(b []byte) { b[5] = 16 }, ErrARPAddrLen},
		{"op 0", func(b []byte) { b[7] = 0 }, ErrARPOp},
		{"op 3 (RARP request)", func(b []byte) { b[7] = 3 }, ErrARPOp},
		{"op 0x0101", func(b []byte) { b[6] = 1 }, ErrARPOp},
	} {
		b := clone(goldenARPRequest[EthernetHeaderLen:])
		c.edit(b)
		if err := ARP(b).Check(); err != c.want {
			t.Errorf("%s: Check = %v, want %v", c.name, err, c.want)
		}
	}
}
