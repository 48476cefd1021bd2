package tap

import "encoding/binary"

// Frame builders and parsers for the tests, written independently of the
// driver (their checksum is a plain 16-bit loop, not csumComplete).

var (
	bcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	stackMAC = [6]byte{0x02, 0x53, 0x48, 0x4e, 0x00, 0x02} // locally administered
)

const (
	ethIPv4 = 0x0800
	ethARP  = 0x0806
)

func sum16(b []byte, initial uint32) uint32 {
	s := initial
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func ethHeader(f []byte, dst, src [6]byte, typ uint16) {
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], typ)
}

// arpFrame builds a 42-byte ARP packet (op 1 request, 2 reply).
func arpFrame(op uint16, ethDst, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) []byte {
	f := make([]byte, 42)
	ethHeader(f, ethDst, sha, ethARP)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:], 1)       // htype Ethernet
	binary.BigEndian.PutUint16(a[2:], ethIPv4) // ptype IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], op)
	copy(a[8:14], sha[:])
	copy(a[14:18], spa[:])
	copy(a[18:24], tha[:])
	copy(a[24:28], tpa[:])
	return f
}

func arpRequest(sha [6]byte, spa, tpa [4]byte) []byte {
	return arpFrame(1, bcastMAC, sha, spa, [6]byte{}, tpa)
}

// arpFields parses an ARP frame; ok is false for anything else.
func arpFields(f []byte) (op uint16, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte, ok bool) {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != ethARP {
		return
	}
	a := f[14:]
	if binary.BigEndian.Uint16(a[0:]) != 1 || binary.BigEndian.Uint16(a[2:]) != ethIPv4 || a[4] != 6 || a[5] != 4 {
		return
	}
	op = binary.BigEndian.Uint16(a[6:])
	copy(sha[:], a[8:14])
	copy(spa[:], a[14:18])
	copy(tha[:], a[18:24])
	copy(tpa[:], a[24:28])
	return op, sha, spa, tha, tpa, true
}

// ipv4Frame builds Ethernet + IPv4 (20 bytes, checksummed) + l4.
func ipv4Frame(dst, src [6]byte, proto byte, sip, dip [4]byte, l4 []byte) []byte {
	f := make([]byte, 14+20+len(l4))
	ethHeader(f, dst, src, ethIPv4)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
	binary.BigEndian.PutUint16(ip[4:], 0x1234)
	ip[6] = 0x40 // DF
	ip[8] = 64
	ip[9] = proto
	copy(ip[12:16], sip[:])
	copy(ip[16:20], dip[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum16(ip, 0)))
	copy(f[34:], l4)
	return f
}

func pseudoSum(sip, dip [4]byte, proto byte, l4len int) uint32 {
	s := sum16(sip[:], 0)
	s = sum16(dip[:], s)
	return s + uint32(proto) + uint32(l4len)
}

// udpFrame builds a UDP datagram in a frame. With partial, the checksum
// field holds only the folded pseudo-header sum (what a stack leaves for
// checksum offload); start and off locate it for buf.Meta.
func udpFrame(dst, src [6]byte, sip, dip [4]byte, sport, dport uint16, payload []byte, partial bool) (f []byte, start, off uint16) {
	u := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], payload)
	ps := pseudoSum(sip, dip, 17, len(u))
	if partial {
		binary.BigEndian.PutUint16(u[6:], fold(ps))
	} else {
		c := ^fold(sum16(u, ps))
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(u[6:], c)
	}
	return ipv4Frame(dst, src, 17, sip, dip, u), 34, 6
}

// icmpEcho builds an ICMP echo request; with partial the checksum field
// is zero (ICMP has no pseudo-header) and left to the offload.
func icmpEcho(dst, src [6]byte, sip, dip [4]byte, id, seq uint16, payload []byte, partial bool) (f []byte, start, off uint16) {
	m := make([]byte, 8+len(payload))
	m[0] = 8
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[8:], payload)
	if !partial {
		binary.BigEndian.PutUint16(m[2:], ^fold(sum16(m, 0)))
	}
	return ipv4Frame(dst, src, 1, sip, dip, m), 34, 2
}

// ipv4Of returns the IPv4 header and L4 bytes of an Ethernet frame, after
// checking the IP header checksum.
func ipv4Of(f []byte) (ip, l4 []byte, ok bool) {
	if len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != ethIPv4 || f[14] != 0x45 {
		return nil, nil, false
	}
	ip = f[14:34]
	tot := int(binary.BigEndian.Uint16(ip[2:]))
	if tot < 20 || 14+tot > len(f) || fold(sum16(ip, 0)) != 0xffff {
		return nil, nil, false
	}
	return ip, f[34 : 14+tot], true
}

// udpOf parses a UDP datagram and verifies its checksum.
func udpOf(f []byte) (sport, dport uint16, payload []byte, ok bool) {
	ip, l4, ok := ipv4Of(f)
	if !ok || ip[9] != 17 || len(l4) < 8 || int(binary.BigEndian.Uint16(l4[4:])) != len(l4) {
		return 0, 0, nil, false
	}
	if binary.BigEndian.Uint16(l4[6:]) != 0 {
		var sip, dip [4]byte
		copy(sip[:], ip[12:16])
		copy(dip[:], ip[16:20])
		if fold(sum16(l4, pseudoSum(sip, dip, 17, len(l4)))) != 0xffff {
			return 0, 0, nil, false
		}
	}
	return binary.BigEndian.Uint16(l4[0:]), binary.BigEndian.Uint16(l4[2:]), l4[8:], true
}

// icmpEchoReplyOf parses an ICMP echo reply and verifies its checksum.
func icmpEchoReplyOf(f []byte) (id, seq uint16, payload []byte, ok bool) {
	ip, l4, ok := ipv4Of(f)
	if !ok || ip[9] != 1 || len(l4) < 8 || l4[0] != 0 || l4[1] != 0 || fold(sum16(l4, 0)) != 0xffff {
		return 0, 0, nil, false
	}
	return binary.BigEndian.Uint16(l4[4:]), binary.BigEndian.Uint16(l4[6:]), l4[8:], true
}

func ethDst(f []byte) (m [6]byte) { copy(m[:], f[0:6]); return m }
func ethSrc(f []byte) (m [6]byte) { copy(m[:], f[6:12]); return m }
