package wire

import (
	"bytes"
	"testing"
)

// fieldsOf reads back the fields Encode takes.
func ipFieldsOf(ip IPv4) IPv4Fields {
	return IPv4Fields{
		TOS: ip.TOS(), TotalLen: ip.TotalLen(), ID: ip.ID(), Flags: ip.Flags(),
		FragOffset: ip.FragOffset(), TTL: ip.TTL(), Protocol: ip.Protocol(),
		Src: ip.Src(), Dst: ip.Dst(),
	}
}

var goldenIPv4 = []struct {
	name  string
	frame []byte
	f     IPv4Fields
	sum   uint16
}{
	{"echo request", goldenEchoRequest, IPv4Fields{TotalLen: 84, ID: 0xe75e, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoICMP, Src: hostA, Dst: hostB}, 0xc722},
	{"echo reply", goldenEchoReply, IPv4Fields{TotalLen: 84, ID: 0x84eb, TTL: 64, Protocol: ProtoICMP, Src: hostB, Dst: hostA}, 0x6996},
	{"SYN", goldenSYN, IPv4Fields{TotalLen: 60, ID: 0xbf1f, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoTCP, Src: hostA, Dst: hostB}, 0xef74},
	{"SYN-ACK", goldenSYNACK, IPv4Fields{TotalLen: 60, ID: 0, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoTCP, Src: hostB, Dst: hostA}, 0xae94},
	{"data", goldenData, IPv4Fields{TotalLen: 57, ID: 0xbf21, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoTCP, Src: hostA, Dst: hostB}, 0xef75},
}

func TestIPv4Deconstruct(t *testing.T) {
	for _, c := range goldenIPv4 {
		ip := ipOf(c.frame)
		if err := ip.Check(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := ipFieldsOf(ip); got != c.f {
			t.Errorf("%s: fields %+v, want %+v", c.name, got, c.f)
		}
		if ip.Version() != 4 || ip.HeaderLen() != 20 || len(ip.Options()) != 0 || ip.IsFragment() {
			t.Errorf("%s: version %d hl %d options %x fragment %v", c.name, ip.Version(), ip.HeaderLen(), ip.Options(), ip.IsFragment())
		}
		if ip.Checksum() != c.sum || !ip.HeaderChecksumValid() || ip.ComputeHeaderChecksum() != c.sum {
			t.Errorf("%s: checksum %#x valid %v computed %#x, want %#x", c.name, ip.Checksum(), ip.HeaderChecksumValid(), ip.ComputeHeaderChecksum(), c.sum)
		}
		if !bytes.Equal(ip.Payload(), c.frame[EthernetHeaderLen+20:]) {
			t.Errorf("%s: payload %x", c.name, ip.Payload())
		}
	}
}

func TestIPv4Construct(t *testing.T) {
	for _, c := range goldenIPv4 {
		b := bytes.Repeat([]byte{0xee}, IPv4MinHeaderLen+1)
		IPv4(b).Encode(&c.f)
		want := c.frame[EthernetHeaderLen : EthernetHeaderLen+IPv4MinHeaderLen]
		if !bytes.Equal(b[:IPv4MinHeaderLen], want) || b[IPv4MinHeaderLen] != 0xee {
			t.Errorf("%s: Encode =\n%x, want\n%x", c.name, b, want)
		}
	}
}

func TestIPv4Setters(t *testing.T) {
	ip := IPv4(clone(ipOf(goldenEchoRequest)))
	ip.SetSrc(hostB)
	ip.SetDst(hostA)
	ip.SetTTL(1)
	ip.SetTotalLen(40)
	if ip.Src() != hostB || ip.Dst() != hostA || ip.TTL() != 1 || ip.TotalLen() != 40 || len(ip.Payload()) != 20 {
		t.Fatalf("setters: %+v", ipFieldsOf(ip))
	}
	if ip.HeaderChecksumValid() {
		t.Fatal("checksum still valid after edits")
	}
	ip.SetChecksum(ip.ComputeHeaderChecksum())
	if !ip.HeaderChecksumValid() {
		t.Fatal("checksum invalid after SetChecksum(ComputeHeaderChecksum())")
	}
}

func TestIPv4Fragments(t *testing.T) {
	for _, c := range []struct {
		flags uint8
		off   uint16
		frag  bool
	}{
		{0, 0, false},
		{IPv4FlagDF, 0, false},
		{IPv4FlagMF, 0, true},
		{0, 8, true},
		{IPv4FlagMF, 1480, true},
		{IPv4FlagDF | IPv4FlagMF, 65528, true}, // the largest offset
		{0x4, 0, false},                        // reserved bit alone is not a fragment
	} {
		b := make([]byte, 20)
		ip := IPv4(b)
		ip.Encode(&IPv4Fields{TotalLen: 20, Flags: c.flags, FragOffset: c.off, TTL: 1})
		if ip.Flags() != c.flags || ip.FragOffset() != c.off || ip.IsFragment() != c.frag {
			t.Errorf("flags %#x off %d: got flags %#x off %d fragment %v", c.flags, c.off, ip.Flags(), ip.FragOffset(), ip.IsFragment())
		}
		if !ip.HeaderChecksumValid() {
			t.Errorf("flags %#x off %d: Encode left a bad checksum", c.flags, c.off)
		}
	}
	// The wire bits themselves: MF is 0x2000, DF 0x4000, offset in 8s.
	ip := IPv4(clone(ipOf(goldenSYN)))
	ip[6], ip[7] = 0x20, 0x03
	if ip.Flags() != IPv4FlagMF || ip.FragOffset() != 24 || !ip.IsFragment() {
		t.Errorf("0x2003: flags %#x off %d", ip.Flags(), ip.FragOffset())
	}
}

// ipv4WithOptions is the SYN's datagram with a 4-byte option (NOP NOP NOP
// EOL) inserted, IHL 6, checksum fixed.
func ipv4WithOptions() IPv4 {
	src := ipOf(goldenSYN)
	b := append(append(clone(src[:20]), 1, 1, 1, 0), src[20:]...)
	ip := IPv4(b)
	ip[0] = 0x46
	ip.SetTotalLen(ip.TotalLen() + 4)
	ip.SetChecksum(0)
	ip.SetChecksum(ip.ComputeHeaderChecksum())
	return ip
}

func TestIPv4Options(t *testing.T) {
	ip := ipv4WithOptions()
	if err := ip.Check(); err != nil {
		t.Fatal(err)
	}
	if ip.HeaderLen() != 24 || !bytes.Equal(ip.Options(), []byte{1, 1, 1, 0}) {
		t.Errorf("hl %d options %x", ip.HeaderLen(), ip.Options())
	}
	if !bytes.Equal(ip.Payload(), tcpOf(goldenSYN)) {
		t.Errorf("payload %x", ip.Payload())
	}
	if !ip.HeaderChecksumValid() {
		t.Error("checksum over options invalid")
	}
	ip[21] = 0x44 // change an option byte: the checksum covers options
	if ip.HeaderChecksumValid() {
		t.Error("checksum ignores the options")
	}
	// Options that claim to run past the header must not matter to Check:
	// they are skipped by IHL alone.
	ip = ipv4WithOptions()
	copy(ip[20:24], []byte{0x83, 0xff, 0x44, 0xff}) // LSRR with length 255
	if err := ip.Check(); err != nil || ip.HeaderLen() != 24 {
		t.Errorf("odd option bytes: Check = %v", err)
	}
}

func TestIPv4Padding(t *testing.T) {
	// A 57-byte datagram in a 60-byte minimum frame: padding is allowed and
	// is not payload.
	b := append(clone(ipOf(goldenData)), 0, 0, 0)
	ip := IPv4(b)
	if err := ip.Check(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ip.Payload(), tcpOf(goldenData)) {
		t.Errorf("payload includes padding: %x", ip.Payload())
	}
}

func TestIPv4Truncated(t *testing.T) {
	for _, ip := range []IPv4{ipOf(goldenEchoRequest), ipv4WithOptions()} {
		hl, tl := ip.HeaderLen(), int(ip.TotalLen())
		for n := range tl {
			var want error
			switch {
			case n < IPv4MinHeaderLen:
				want = ErrIPv4Truncated
			case n < hl:
				want = ErrIPv4HeaderLen
			default:
				want = ErrIPv4TotalLen
			}
			if err := ip[:n].Check(); err != want {
				t.Errorf("hl %d, %d of %d bytes: Check = %v, want %v", hl, n, tl, err, want)
			}
		}
		if err := ip[:tl].Check(); err != nil {
			t.Errorf("hl %d, whole: %v", hl, err)
		}
	}
}

func TestIPv4Malformed(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(ip IPv4)
		want error
	}{
		{"version 6", func(ip IPv4) { ip[0] = 0x65 }, ErrIPv4Version},
		{"version 0", func(ip IPv4) { ip[0] = 0x05 }, ErrIPv4Version},
		{"IHL 0", func(ip IPv4) { ip[0] = 0x40 }, ErrIPv4HeaderLen},
		{"IHL 4", func(ip IPv4) { ip[0] = 0x44 }, ErrIPv4HeaderLen},
		{"IHL 15: a 60-byte header in an 84-byte datagram", func(ip IPv4) { ip[0] = 0x4f }, nil},
		{"IHL 15 with total length 59", func(ip IPv4) { ip[0] = 0x4f; ip.SetTotalLen(59) }, ErrIPv4TotalLen},
		{"total length 19", func(ip IPv4) { ip.SetTotalLen(19) }, ErrIPv4TotalLen},
		{"total length 0", func(ip IPv4) { ip.SetTotalLen(0) }, ErrIPv4TotalLen},
		{"total length 20", func(ip IPv4) { ip.SetTotalLen(20) }, nil},
		{"total length one past the slice", func(ip IPv4) { ip.SetTotalLen(85) }, ErrIPv4TotalLen},
		{"total length 65535", func(ip IPv4) { ip.SetTotalLen(65535) }, ErrIPv4TotalLen},
	} {
		ip := IPv4(clone(ipOf(goldenEchoRequest)))
		c.edit(ip)
		if err := ip.Check(); err != c.want {
			t.Errorf("%s: Check = %v, want %v", c.name, err, c.want)
		}
	}
}
