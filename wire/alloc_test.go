package wire

import "testing"

// TestZeroAllocs runs the receive and transmit paths a shard runs per
// packet and requires zero heap allocations, errors included.
func TestZeroAllocs(t *testing.T) {
	rx := clone(goldenData)
	tx := make([]byte, 128)
	bad := clone(tcpOf(goldenSYN))
	bad[20+1] = 5 // MSS length 5: Check fails with a sentinel
	var sink int
	cases := []struct {
		name string
		fn   func()
	}{
		{"receive Ethernet/IPv4/TCP", func() {
			e := Ethernet(rx)
			if e.Check() != nil || e.EtherType() != EtherTypeIPv4 {
				panic("eth")
			}
			ip := IPv4(e.Payload())
			if ip.Check() != nil || !ip.HeaderChecksumValid() || ip.IsFragment() {
				panic("ip")
			}
			seg := TCP(ip.Payload())
			if seg.Check() != nil || !seg.ChecksumValid(ip.Src(), ip.Dst()) {
				panic("tcp")
			}
			var o TCPOptions
			if ParseTCPOptions(seg.Options(), &o) != nil || !o.HasTimestamps {
				panic("opts")
			}
			if seg.Seq().InWindow(0x7e8ee91e, 65535) && seg.Flags().Has(TCPFlagACK) {
				sink += len(seg.Payload())
			}
		}},
		{"reject malformed", func() {
			if TCP(bad).Check() != ErrTCPOptions || IPv4(rx[:10]).Check() != ErrIPv4Truncated ||
				ARP(rx[:5]).Check() != ErrARPTruncated {
				panic("errors")
			}
		}},
		{"transmit Ethernet/IPv4/TCP", func() {
			Ethernet(tx).Encode(&EthernetFields{Dst: macB, Src: macA, EtherType: EtherTypeIPv4})
			ip := IPv4(tx[EthernetHeaderLen:])
			seg := TCP(ip[IPv4MinHeaderLen:])
			o := TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2, NumSACK: 1, SACK: [4]SACKBlock{{1, 2}}}
			n := o.EncodedLen()
			seg.Encode(&TCPFields{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: TCPFlagACK, Window: 5, OptionsLen: n})
			EncodeTCPOptions(seg[TCPMinHeaderLen:], &o)
			seg = seg[:TCPMinHeaderLen+n+10]
			seg.SetChecksum(seg.ComputeChecksum(hostA, hostB))
			ip.Encode(&IPv4Fields{TotalLen: uint16(IPv4MinHeaderLen + len(seg)), TTL: 64, Protocol: ProtoTCP, Src: hostA, Dst: hostB})
		}},
		{"ICMP echo reply in place", func() {
			m := icmpOf(goldenEchoRequest)
			_ = m.ChecksumValid()
			_ = ChecksumUpdate16(m.Checksum(), 0x0800, 0)
			_ = ChecksumUpdate32(m.Checksum(), hostA, hostB)
		}},
		{"ARP", func() {
			a := ARP(tx[EthernetHeaderLen:])
			a.Encode(&ARPFields{Op: ARPReply, SenderHW: macA, SenderIP: hostA, TargetHW: macB, TargetIP: hostB})
			if a.Check() != nil || a.TargetIP() != hostB {
				panic("arp")
			}
		}},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(100, c.fn); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", c.name, n)
		}
	}
	_ = sink
}
