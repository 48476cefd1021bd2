package wire

import (
	"bytes"
	"testing"
)

// Each fuzz target asserts the Check promise (after Check returns nil no
// accessor panics; Check itself never panics) and round-trips what it can:
// accessors → Fields → Encode gives back the same bytes.

func FuzzEthernet(f *testing.F) {
	for _, b := range [][]byte{goldenARPRequest, goldenSYN, goldenARPRequest[:13], nil} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e := Ethernet(b)
		if e.Check() != nil {
			if len(b) >= EthernetHeaderLen {
				t.Fatalf("rejected %d bytes", len(b))
			}
			return
		}
		fl := EthernetFields{Dst: e.Dst(), Src: e.Src(), EtherType: e.EtherType()}
		_ = IsMulticastMAC(fl.Dst) || IsBroadcastMAC(fl.Src)
		if len(e.Payload()) != len(b)-EthernetHeaderLen {
			t.Fatal("payload length")
		}
		out := make([]byte, EthernetHeaderLen)
		Ethernet(out).Encode(&fl)
		if !bytes.Equal(out, b[:EthernetHeaderLen]) {
			t.Fatalf("round trip %x → %x", b[:EthernetHeaderLen], out)
		}
	})
}

func FuzzARP(f *testing.F) {
	f.Add(goldenARPRequest[EthernetHeaderLen:])
	f.Add(goldenARPReply[EthernetHeaderLen:])
	f.Add(append(clone(goldenARPReply[EthernetHeaderLen:]), make([]byte, 18)...))
	f.Add(goldenARPReply[EthernetHeaderLen : EthernetHeaderLen+27])
	f.Fuzz(func(t *testing.T, b []byte) {
		a := ARP(b)
		if a.Check() != nil {
			return
		}
		fl := ARPFields{Op: a.Op(), SenderHW: a.SenderHW(), SenderIP: a.SenderIP(), TargetHW: a.TargetHW(), TargetIP: a.TargetIP()}
		if fl.Op != ARPRequest && fl.Op != ARPReply {
			t.Fatalf("Check passed op %d", fl.Op)
		}
		out := make([]byte, ARPLen)
		ARP(out).Encode(&fl)
		if !bytes.Equal(out, b[:ARPLen]) {
			t.Fatalf("round trip %x → %x", b[:ARPLen], out)
		}
	})
}

func FuzzIPv4(f *testing.F) {
	for _, fr := range [][]byte{goldenEchoRequest, goldenEchoReply, goldenSYN, goldenData} {
		f.Add([]byte(ipOf(fr)))
	}
	f.Add([]byte(ipv4WithOptions()))
	f.Add(append(clone(ipOf(goldenData)), 0, 0, 0))
	f.Add([]byte(ipOf(goldenData)[:30]))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip := IPv4(b)
		if ip.Check() != nil {
			return
		}
		fl := IPv4Fields{
			TOS: ip.TOS(), TotalLen: ip.TotalLen(), ID: ip.ID(), Flags: ip.Flags(),
			FragOffset: ip.FragOffset(), TTL: ip.TTL(), Protocol: ip.Protocol(),
			Src: ip.Src(), Dst: ip.Dst(),
		}
		hl := ip.HeaderLen()
		if ip.Version() != 4 || hl < IPv4MinHeaderLen || len(ip.Options()) != hl-IPv4MinHeaderLen ||
			len(ip.Payload()) != int(fl.TotalLen)-hl {
			t.Fatalf("hl %d options %d payload %d total %d", hl, len(ip.Options()), len(ip.Payload()), fl.TotalLen)
		}
		_ = ip.IsFragment()
		valid, sum, computed := ip.HeaderChecksumValid(), ip.Checksum(), ip.ComputeHeaderChecksum()
		if valid != (sum == computed || sum == 0xffff && computed == 0) {
			t.Fatalf("valid %v but stored %#x computed %#x", valid, sum, computed)
		}
		// Setting the computed checksum makes any header valid.
		c := IPv4(clone(b))
		c.SetChecksum(computed)
		if !c.HeaderChecksumValid() {
			t.Fatal("ComputeHeaderChecksum does not validate")
		}
		if hl != IPv4MinHeaderLen {
			return // Encode writes no options
		}
		out := make([]byte, IPv4MinHeaderLen)
		IPv4(out).Encode(&fl)
		if !bytes.Equal(out, c[:IPv4MinHeaderLen]) {
			t.Fatalf("round trip\n%x →\n%x", c[:IPv4MinHeaderLen], out)
		}
	})
}

func FuzzICMPv4(f *testing.F) {
	f.Add([]byte(icmpOf(goldenEchoRequest)))
	f.Add([]byte(icmpOf(goldenEchoReply)))
	f.Add([]byte{3, 1, 0, 0, 0, 0, 0, 0, 0x45})
	f.Add([]byte{8, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := ICMPv4(b)
		if m.Check() != nil {
			return
		}
		fl := ICMPv4Fields{Type: m.Type(), Code: m.Code(), ID: m.ID(), Seq: m.Seq()}
		if len(m.Payload()) != len(b)-ICMPv4HeaderLen {
			t.Fatal("payload length")
		}
		valid, sum, computed := m.ChecksumValid(), m.Checksum(), m.ComputeChecksum()
		if valid != (sum == computed || sum == 0xffff && computed == 0) {
			t.Fatalf("valid %v but stored %#x computed %#x", valid, sum, computed)
		}
		out := ICMPv4(make([]byte, len(b)))
		out.Encode(&fl)
		copy(out.Payload(), m.Payload())
		out.SetChecksum(computed)
		c := ICMPv4(clone(b))
		c.SetChecksum(computed)
		if !bytes.Equal(out, c) || !out.ChecksumValid() {
			t.Fatalf("round trip\n%x →\n%x", c, out)
		}
	})
}

func FuzzTCP(f *testing.F) {
	for _, fr := range [][]byte{goldenSYN, goldenSYNACK, goldenData} {
		f.Add([]byte(tcpOf(fr)))
	}
	f.Add([]byte(tcpWithOptions(unhex("0101 080a 00000001 00000002 0101 0512 00000001 00000002 00000003 00000004"))))
	f.Add([]byte(tcpWithOptions(unhex("fe05 0000"))))
	f.Add([]byte(tcpOf(goldenSYN)[:39]))
	f.Fuzz(func(t *testing.T, b []byte) {
		seg := TCP(b)
		if seg.Check() != nil {
			return
		}
		var o TCPOptions
		if err := ParseTCPOptions(seg.Options(), &o); err != nil {
			t.Fatalf("Check passed options ParseTCPOptions rejects: %v", err)
		}
		fl := TCPFields{
			SrcPort: seg.SrcPort(), DstPort: seg.DstPort(), Seq: seg.Seq(), Ack: seg.Ack(), Flags: seg.Flags(),
			Window: seg.Window(), Urgent: seg.Urgent(), OptionsLen: seg.HeaderLen() - TCPMinHeaderLen,
		}
		_ = fl.Flags.Has(TCPFlagSYN)
		if len(seg.Options()) != fl.OptionsLen || len(seg.Payload()) != len(b)-seg.HeaderLen() {
			t.Fatal("options/payload lengths")
		}
		src, dst := [4]byte{198, 18, 0, 1}, [4]byte{198, 18, 0, 2}
		valid, sum, computed := seg.ChecksumValid(src, dst), seg.Checksum(), seg.ComputeChecksum(src, dst)
		if len(b) <= 0xffff && valid != (sum == computed || sum == 0xffff && computed == 0) {
			t.Fatalf("valid %v but stored %#x computed %#x", valid, sum, computed)
		}
		out := TCP(make([]byte, len(b)))
		out.Encode(&fl)
		copy(out[TCPMinHeaderLen:], b[TCPMinHeaderLen:])
		c := TCP(clone(b))
		c[12] &= 0xf0 // Encode zeroes the reserved bits
		c.SetChecksum(0)
		if !bytes.Equal(out, c) {
			t.Fatalf("round trip\n%x →\n%x", c, out)
		}
	})
}

func FuzzTCPOptions(f *testing.F) {
	for _, fr := range [][]byte{goldenSYN, goldenSYNACK, goldenData} {
		f.Add([]byte(tcpOf(fr).Options()))
	}
	f.Add(unhex("0101 0522 00000001 00000002 00000003 00000004 00000005 00000006 fffffff0 00000010"))
	f.Add(unhex("080a 00000001 00000002 0303 0e 051a 00000001 00000002 00000003 00000004 00000005 00000006"))
	f.Add(unhex("1e04abcd fe02 00 ff"))
	f.Add(unhex("020405"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var o TCPOptions
		err := ParseTCPOptions(b, &o)
		if len(b) <= MaxTCPOptionsLen {
			// Check applies the same rules to a header holding b.
			if cerr := tcpWithOptions(b).Check(); cerr != err {
				t.Fatalf("TCP.Check = %v, ParseTCPOptions = %v", cerr, err)
			}
		}
		if err != nil {
			if o != (TCPOptions{}) {
				t.Fatalf("error %v left %+v", err, o)
			}
			return
		}
		if o.NumSACK < 0 || o.NumSACK > MaxSACKBlocks {
			t.Fatalf("NumSACK %d", o.NumSACK)
		}
		// Encode → parse gives the same options, less any SACK blocks that
		// did not fit; blocks are dropped only when one more would not fit.
		out := make([]byte, MaxTCPOptionsLen)
		n := EncodeTCPOptions(out, &o)
		if n != o.EncodedLen() || n%4 != 0 || n > MaxTCPOptionsLen {
			t.Fatalf("wrote %d, EncodedLen %d", n, o.EncodedLen())
		}
		var back TCPOptions
		if err := ParseTCPOptions(out[:n], &back); err != nil {
			t.Fatalf("own encoding %x rejected: %v", out[:n], err)
		}
		if back.NumSACK > o.NumSACK {
			t.Fatalf("encoded %d SACK blocks of %d", back.NumSACK, o.NumSACK)
		}
		if back.NumSACK < o.NumSACK {
			grow := 8 // one more block
			if back.NumSACK == 0 {
				grow = 4 + 8 // the option itself and a block
			}
			if n+grow <= MaxTCPOptionsLen {
				t.Fatalf("dropped SACK blocks (%d of %d) when %d bytes had room for more", o.NumSACK-back.NumSACK, o.NumSACK, n)
			}
		}
		o.NumSACK = back.NumSACK
		for i := back.NumSACK; i < MaxSACKBlocks; i++ {
			o.SACK[i] = SACKBlock{}
		}
		if back != o {
			t.Fatalf("round trip\n%+v →\n%+v", o, back)
		}
	})
}

func FuzzChecksum(f *testing.F) {
	f.Add([]byte{}, uint8(0), uint32(0))
	f.Add([]byte{0xff}, uint8(0), uint32(0xffffffff))
	f.Add([]byte(ipOf(goldenSYN)), uint8(1), uint32(0))
	f.Add(bytes.Repeat([]byte{0xff}, 200), uint8(3), uint32(0x1fffe))
	f.Fuzz(func(t *testing.T, b []byte, off uint8, initial uint32) {
		if int(off) > len(b) {
			off = uint8(len(b))
		}
		b = b[off:] // any start address
		s := Sum(b, initial)
		if want := refSum(b, initial); s > 0xffff || uint16(s) != want {
			t.Fatalf("Sum(%x, %#x) = %#x, want %#x", b, initial, s, want)
		}
		if Checksum(b, initial) != ^uint16(s) {
			t.Fatal("Checksum is not ^Fold(Sum)")
		}
		k := len(b) / 2 &^ 1
		if Fold(Sum(b[k:], Sum(b[:k], initial))) != uint16(s) {
			t.Fatalf("split at %d differs", k)
		}
	})
}
