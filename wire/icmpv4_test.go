package wire

import (
	"bytes"
	"testing"
)

func TestICMPv4Deconstruct(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame []byte
		typ   uint8
		sum   uint16
	}{
		{"echo request", goldenEchoRequest, ICMPEchoRequest, 0x4c4c},
		{"echo reply", goldenEchoReply, ICMPEchoReply, 0x544c},
	} {
		m := icmpOf(c.frame)
		if err := m.Check(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if m.Type() != c.typ || m.Code() != 0 || m.ID() != 0x2b16 || m.Seq() != 1 {
			t.Errorf("%s: type %d code %d id %#x seq %d", c.name, m.Type(), m.Code(), m.ID(), m.Seq())
		}
		if m.Checksum() != c.sum || !m.ChecksumValid() || m.ComputeChecksum() != c.sum {
			t.Errorf("%s: checksum %#x valid %v computed %#x, want %#x", c.name, m.Checksum(), m.ChecksumValid(), m.ComputeChecksum(), c.sum)
		}
		if len(m.Payload()) != 56 || !bytes.Equal(m.Payload()[16:], pingData) {
			t.Errorf("%s: payload %x", c.name, m.Payload())
		}
	}
}

func TestICMPv4Construct(t *testing.T) {
	want := icmpOf(goldenEchoRequest)
	b := bytes.Repeat([]byte{0xee}, len(want))
	m := ICMPv4(b)
	m.Encode(&ICMPv4Fields{Type: ICMPEchoRequest, ID: 0x2b16, Seq: 1})
	if !bytes.Equal(b[:ICMPv4HeaderLen], []byte{8, 0, 0, 0, 0x2b, 0x16, 0, 1}) {
		t.Fatalf("Encode header = %x", b[:ICMPv4HeaderLen])
	}
	copy(m.Payload(), want.Payload())
	m.SetChecksum(m.ComputeChecksum())
	if !bytes.Equal(b, want) {
		t.Fatalf("built\n%x, want\n%x", b, want)
	}
	// Echo reply in place, the way ip answers a ping: type changed, the
	// checksum updated incrementally, and the result is the kernel's reply.
	m.SetType(ICMPEchoReply)
	m.SetChecksum(ChecksumUpdate16(m.Checksum(), uint16(ICMPEchoRequest)<<8, uint16(ICMPEchoReply)<<8))
	if !bytes.Equal(b, icmpOf(goldenEchoReply)) {
		t.Fatalf("in-place reply\n%x, want\n%x", b, icmpOf(goldenEchoReply))
	}
	m.SetCode(3)
	if m.Code() != 3 || m.ChecksumValid() {
		t.Fatalf("code %d, checksum still valid %v", m.Code(), m.ChecksumValid())
	}
}

func TestICMPv4OddLength(t *testing.T) {
	// An odd-length message: the last byte is padded with zero for the sum.
	b := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 7, 0xab}
	m := ICMPv4(b)
	m.SetChecksum(m.ComputeChecksum())
	// 0800 + 1234 + 0007 + ab00 = c53b; complement 3ac4.
	if m.Checksum() != 0x3ac4 || !m.ChecksumValid() {
		t.Fatalf("checksum %#x, want 0x3ac4", m.Checksum())
	}
}

func TestICMPv4Truncated(t *testing.T) {
	m := icmpOf(goldenEchoRequest)
	for n := range ICMPv4HeaderLen {
		if err := m[:n].Check(); err != ErrICMPv4Truncated {
			t.Errorf("%d bytes: Check = %v, want ErrICMPv4Truncated", n, err)
		}
	}
	if err := m[:ICMPv4HeaderLen].Check(); err != nil || len(m[:ICMPv4HeaderLen].Payload()) != 0 {
		t.Errorf("bare header: %v", err)
	}
}
