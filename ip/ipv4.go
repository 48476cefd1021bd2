package ip

import (
	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/wire"
)

// ipv4Input validates a datagram (RFC 791, RFC 1122 §3.2.1) and hands it to
// its protocol. p.Data() starts at the Ethernet header.
func (s *Stack) ipv4Input(p *buf.Packet, linkBroadcast bool, now int64) {
	p.TrimFront(wire.EthernetHeaderLen)
	h := wire.IPv4(p.Data())
	switch h.Check() {
	case nil:
	case wire.ErrIPv4Version:
		s.drop(p, DropIPv4Version)
		return
	case wire.ErrIPv4HeaderLen:
		s.drop(p, DropIPv4HeaderLen)
		return
	case wire.ErrIPv4TotalLen:
		s.drop(p, DropIPv4TotalLen)
		return
	default:
		s.drop(p, DropIPv4Truncated)
		return
	}
	if !h.HeaderChecksumValid() {
		s.drop(p, DropIPv4Checksum)
		return
	}
	if h.TTL() == 0 {
		s.drop(p, DropIPv4TTLZero)
		return
	}
	dst := be32(h.Dst())
	if dst != s.addr || linkBroadcast {
		// Broadcast and multicast datagrams are not for a TCP server:
		// counted, not answered (RFC 1122 §3.2.2.6 forbids echoing them).
		s.drop(p, DropIPv4NotForUs)
		return
	}
	if src := be32(h.Src()); src == s.addr || src == s.bcast || src == 0 ||
		src == 0xffffffff || src>>28 == 0xe || src>>24 == 127 {
		s.drop(p, DropIPv4BadSource)
		return
	}
	if h.IsFragment() {
		s.drop(p, DropIPv4Fragment)
		return
	}
	s.stats.IPv4In++
	proto := h.Protocol()
	src, dstA := h.Src(), h.Dst()
	hl, tl := h.HeaderLen(), int(h.TotalLen())
	p.Truncate(tl) // drop link-layer padding
	p.TrimFront(hl)
	if proto == wire.ProtoICMP {
		s.icmpInput(p, src, now)
		return
	}
	if hp := s.protos[proto]; hp != nil {
		s.stats.Delivered++
		hp.Deliver(p, src, dstA, now)
		return
	}
	s.drop(p, DropIPv4NoProto)
}

// HeaderRoom is the headroom Output needs in front of a transport header.
const HeaderRoom = wire.EthernetHeaderLen + wire.IPv4MinHeaderLen

// Output sends a transport packet to dst. p.Data() holds the transport
// header and payload, with at least HeaderRoom bytes of headroom. Output
// owns p: it prepends the IPv4 and Ethernet headers and transmits, queues
// the packet until the next hop is resolved, or drops it (counted).
func (s *Stack) Output(p *buf.Packet, dst [4]byte, proto uint8, now int64) {
	if p.Len()+wire.IPv4MinHeaderLen > s.cfg.MTU {
		s.drop(p, DropTooBig)
		return
	}
	s.ipID++
	h := wire.IPv4(p.Prepend(wire.IPv4MinHeaderLen))
	h.Encode(&wire.IPv4Fields{
		TotalLen: uint16(p.Len()),
		ID:       s.ipID,
		Flags:    wire.IPv4FlagDF,
		TTL:      s.cfg.TTL,
		Protocol: proto,
		Src:      s.cfg.Addr,
		Dst:      dst,
	})
	if p.Meta.CsumPartial {
		p.Meta.CsumStart += wire.EthernetHeaderLen + wire.IPv4MinHeaderLen
	}
	s.stats.IPv4Out++
	s.resolveAndSend(p, dst, now)
}

// nextHop picks the on-link address to resolve for dst.
func (s *Stack) nextHop(dst [4]byte) ([4]byte, bool) {
	d := be32(dst)
	if d&s.mask == s.addr&s.mask {
		return dst, true
	}
	if s.cfg.Gateway != ([4]byte{}) {
		return s.cfg.Gateway, true
	}
	return [4]byte{}, false
}

// resolveAndSend finds the next hop's MAC for an IPv4 packet (p.Data()
// starts at the IPv4 header), prepends Ethernet and transmits, or parks the
// packet in the ARP queue.
func (s *Stack) resolveAndSend(p *buf.Packet, dst [4]byte, now int64) {
	hop, ok := s.nextHop(dst)
	if !ok {
		s.drop(p, DropNoRoute)
		return
	}
	mac, ok := s.arp.lookup(s, hop, now)
	if !ok {
		s.arp.enqueue(s, hop, p, now)
		return
	}
	s.sendEthernet(p, mac, wire.EtherTypeIPv4)
}

// sendEthernet prepends an Ethernet header from us to dst and transmits.
func (s *Stack) sendEthernet(p *buf.Packet, dst [6]byte, etherType uint16) {
	e := wire.Ethernet(p.Prepend(wire.EthernetHeaderLen))
	e.Encode(&wire.EthernetFields{Dst: dst, Src: s.cfg.MAC, EtherType: etherType})
	s.tx.Transmit(p)
}
