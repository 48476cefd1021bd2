package wire

import (
	"strconv"
	"testing"
)

func BenchmarkChecksum(b *testing.B) {
	for _, n := range []int{20, 64, 1460, 9000} {
		buf := make([]byte, n+1)
		for i := range buf {
			buf[i] = byte(i*131 + 7)
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			var s uint16
			for b.Loop() {
				s += Checksum(buf[:n], 0)
			}
			sink16 = s
		})
		b.Run(strconv.Itoa(n)+"-oddaddr", func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			var s uint16
			for b.Loop() {
				s += Checksum(buf[1:n+1], 0)
			}
			sink16 = s
		})
	}
}

// BenchmarkChecksumReference is the byte-pair loop the fast Sum replaces.
func BenchmarkChecksumReference(b *testing.B) {
	buf := make([]byte, 1460)
	b.SetBytes(int64(len(buf)))
	var s uint16
	for b.Loop() {
		s += refSum(buf, 0)
	}
	sink16 = s
}

var (
	sink16   uint16
	sinkBool bool
)

// BenchmarkTCPCheck validates a timestamped segment and parses its options.
func BenchmarkTCPCheck(b *testing.B) {
	seg := tcpOf(goldenData)
	b.ReportAllocs()
	var o TCPOptions
	for b.Loop() {
		if seg.Check() != nil || ParseTCPOptions(seg.Options(), &o) != nil {
			b.Fatal("rejected")
		}
	}
	sinkBool = o.HasTimestamps
}

// BenchmarkRxHeaders is the per-packet header work on receive: Ethernet,
// IPv4 (with header checksum), TCP (with checksum over 5 data bytes) and
// options.
func BenchmarkRxHeaders(b *testing.B) {
	frame := goldenData
	b.ReportAllocs()
	var o TCPOptions
	for b.Loop() {
		e := Ethernet(frame)
		ip := IPv4(e.Payload())
		if e.Check() != nil || ip.Check() != nil || !ip.HeaderChecksumValid() {
			b.Fatal("ip")
		}
		seg := TCP(ip.Payload())
		if seg.Check() != nil || !seg.ChecksumValid(ip.Src(), ip.Dst()) || ParseTCPOptions(seg.Options(), &o) != nil {
			b.Fatal("tcp")
		}
	}
	sinkBool = o.HasTimestamps
}

// BenchmarkTxHeaders builds the IPv4 and TCP headers of a timestamped ACK.
func BenchmarkTxHeaders(b *testing.B) {
	buf := make([]byte, IPv4MinHeaderLen+TCPMinHeaderLen+12)
	b.ReportAllocs()
	o := TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2}
	for b.Loop() {
		ip := IPv4(buf)
		seg := TCP(buf[IPv4MinHeaderLen:])
		seg.Encode(&TCPFields{SrcPort: 80, DstPort: 40000, Seq: 1, Ack: 2, Flags: TCPFlagACK, Window: 512, OptionsLen: 12})
		EncodeTCPOptions(seg[TCPMinHeaderLen:], &o)
		seg.SetChecksum(seg.ComputeChecksum(hostA, hostB))
		ip.Encode(&IPv4Fields{TotalLen: uint16(len(buf)), TTL: 64, Protocol: ProtoTCP, Src: hostA, Dst: hostB})
	}
}
