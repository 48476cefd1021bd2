package ip

import (
	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/wire"
)

// icmpInput handles an ICMP message addressed to us; p.Data() is the ICMP
// message. Echo requests are answered in place (RFC 792, RFC 1122
// §3.2.2.6): the same bytes, type changed, checksum updated incrementally.
func (s *Stack) icmpInput(p *buf.Packet, src [4]byte, now int64) {
	m := wire.ICMPv4(p.Data())
	if m.Check() != nil {
		s.drop(p, DropICMPMalformed)
		return
	}
	if !m.ChecksumValid() {
		s.drop(p, DropICMPChecksum)
		return
	}
	switch m.Type() {
	case wire.ICMPEchoRequest:
		if m.Code() != 0 {
			s.drop(p, DropICMPMalformed)
			return
		}
		s.stats.EchoIn++
		old := uint16(wire.ICMPEchoRequest) << 8
		m.SetType(wire.ICMPEchoReply)
		m.SetChecksum(wire.ChecksumUpdate16(m.Checksum(), old, uint16(wire.ICMPEchoReply)<<8))
		p.Meta = buf.Meta{}
		s.Output(p, src, wire.ProtoICMP, now)
	case wire.ICMPEchoReply:
		s.stats.EchoReplyIn++
		if s.onEcho != nil {
			s.onEcho(src, m.ID(), m.Seq(), m.Payload(), now)
		}
		p.Release()
	default:
		s.drop(p, DropICMPUnhandled)
	}
}

// Ping sends an ICMP echo request to dst carrying payload. Replies are
// reported to the OnEchoReply function. It reports false if the packet
// could not be built (slab exhausted or payload too large; counted).
func (s *Stack) Ping(dst [4]byte, id, seq uint16, payload []byte, now int64) bool {
	p := s.slab.Alloc()
	if p == nil {
		s.stats.Drops[DropNoBuf]++
		return false
	}
	b := p.Append(wire.ICMPv4HeaderLen + len(payload))
	if b == nil {
		s.drop(p, DropTooBig)
		return false
	}
	m := wire.ICMPv4(b)
	m.Encode(&wire.ICMPv4Fields{Type: wire.ICMPEchoRequest, ID: id, Seq: seq})
	copy(b[wire.ICMPv4HeaderLen:], payload)
	m.SetChecksum(m.ComputeChecksum())
	s.stats.EchoOut++
	s.Output(p, dst, wire.ProtoICMP, now)
	return true
}
