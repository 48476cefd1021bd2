package wire_test

import (
	"fmt"

	"github.com/shardnet/shardnet/wire"
)

// Reading a received segment: Check once, then read fields freely.
func ExampleTCP() {
	frame := []byte{ // Ethernet + IPv4 + TCP, as captured
		0xaa, 0x94, 0x09, 0xad, 0xcd, 0xe1, 0x8a, 0x7d, 0x94, 0xbf, 0xce, 0x5b, 0x08, 0x00,
		0x45, 0x00, 0x00, 0x39, 0xbf, 0x21, 0x40, 0x00, 0x40, 0x06, 0xef, 0x75,
		0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02,
		0x98, 0x9e, 0x1f, 0x90, 0x7e, 0x8e, 0xe9, 0x1e, 0x39, 0x81, 0x21, 0x09,
		0x80, 0x18, 0x00, 0x3f, 0x15, 0x36, 0x00, 0x00,
		0x01, 0x01, 0x08, 0x0a, 0xdc, 0x4d, 0x80, 0x57, 0x7b, 0x06, 0x3f, 0x2f,
		'h', 'e', 'l', 'l', 'o',
	}
	eth := wire.Ethernet(frame)
	if eth.Check() != nil || eth.EtherType() != wire.EtherTypeIPv4 {
		return
	}
	ip := wire.IPv4(eth.Payload())
	if ip.Check() != nil || !ip.HeaderChecksumValid() || ip.Protocol() != wire.ProtoTCP {
		return
	}
	seg := wire.TCP(ip.Payload())
	if seg.Check() != nil || !seg.ChecksumValid(ip.Src(), ip.Dst()) {
		return
	}
	var opts wire.TCPOptions
	_ = wire.ParseTCPOptions(seg.Options(), &opts) // cannot fail after Check
	fmt.Printf("%v:%d > %v:%d [%v] seq %d ack %d win %d TSval %d %q\n",
		ip.Src(), seg.SrcPort(), ip.Dst(), seg.DstPort(), seg.Flags(),
		seg.Seq(), seg.Ack(), seg.Window(), opts.TSVal, seg.Payload())
	// Output:
	// [198 18 0 1]:39070 > [198 18 0 2]:8080 [PSH|ACK] seq 2123295006 ack 964763913 win 63 TSval 3696066647 "hello"
}

// Building a SYN the way Linux does.
func ExampleEncodeTCPOptions() {
	src, dst := [4]byte{198, 18, 0, 1}, [4]byte{198, 18, 0, 2}
	opts := wire.TCPOptions{
		MSS: 1460, HasMSS: true, SACKPermitted: true,
		HasTimestamps: true, TSVal: 1,
		WScale: 7, HasWScale: true,
	}
	b := make([]byte, wire.TCPMinHeaderLen+opts.EncodedLen())
	seg := wire.TCP(b)
	seg.Encode(&wire.TCPFields{SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: wire.TCPFlagSYN,
		Window: 64240, OptionsLen: opts.EncodedLen()})
	wire.EncodeTCPOptions(b[wire.TCPMinHeaderLen:], &opts)
	seg.SetChecksum(seg.ComputeChecksum(src, dst))
	fmt.Printf("% x\n", seg.Options())
	fmt.Println(seg.Check() == nil, seg.ChecksumValid(src, dst), seg.HeaderLen())
	// Output:
	// 02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 00 01 03 03 07
	// true true 40
}

// Answering a ping in place: flip the type and patch the checksum
// incrementally instead of recomputing it.
func ExampleChecksumUpdate16() {
	m := wire.ICMPv4{wire.ICMPEchoRequest, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'}
	m.SetChecksum(m.ComputeChecksum())
	m.SetType(wire.ICMPEchoReply)
	m.SetChecksum(wire.ChecksumUpdate16(m.Checksum(), wire.ICMPEchoRequest<<8, wire.ICMPEchoReply<<8))
	fmt.Println(m.ChecksumValid(), m.Checksum() == m.ComputeChecksum())
	// Output: true true
}
