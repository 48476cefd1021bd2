package ip

import (
	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/wire"
)

// maxPendingPerHop bounds how many packets wait for one neighbour (Linux's
// unres_qlen_bytes plays this role; a handful is enough for a TCP
// handshake).
const maxPendingPerHop = 4

const (
	arpFree       uint8 = iota
	arpIncomplete       // request sent, no answer yet
	arpReachable        // answered within ARPReachable
	arpStale            // answer too old: still used, being re-probed
)

type arpEntry struct {
	ip      uint32
	state   uint8
	probes  uint8
	npend   uint8
	mac     [6]byte
	expires int64 // reachable until (arpReachable); when to probe next (arpIncomplete, arpStale)
	pending [maxPendingPerHop]*buf.Packet
}

// arpTable is an open-addressed neighbour table with linear probing and
// backward-shift deletion: fixed size, no allocation after init, no
// tombstones. A full table refuses new neighbours (counted) rather than
// evicting ones in use.
type arpTable struct {
	e        []arpEntry
	mask     uint32
	n        int
	npending int
}

func (t *arpTable) init(size int) {
	t.e = make([]arpEntry, size)
	t.mask = uint32(size - 1)
}

func arpHash(ip uint32) uint32 {
	ip ^= ip >> 16
	ip *= 0x45d9f3b
	ip ^= ip >> 16
	return ip
}

// find returns the slot index of ip, or -1.
func (t *arpTable) find(ip uint32) int {
	for i, n := arpHash(ip)&t.mask, 0; n <= int(t.mask); i, n = (i+1)&t.mask, n+1 {
		switch {
		case t.e[i].state == arpFree:
			return -1
		case t.e[i].ip == ip:
			return int(i)
		}
	}
	return -1
}

// insert adds ip (absent) as an incomplete entry and returns its slot, or
// -1 when the table is three-quarters full (keeps probe sequences short).
func (t *arpTable) insert(ip uint32) int {
	if (t.n+1)*4 > len(t.e)*3 {
		return -1
	}
	i := arpHash(ip) & t.mask
	for t.e[i].state != arpFree {
		i = (i + 1) & t.mask
	}
	t.e[i] = arpEntry{ip: ip, state: arpIncomplete}
	t.n++
	return int(i)
}

// remove deletes slot i, shifting later members of its probe run back so
// lookups never stop early.
func (t *arpTable) remove(i uint32) {
	t.e[i] = arpEntry{}
	t.n--
	for j := (i + 1) & t.mask; t.e[j].state != arpFree; j = (j + 1) & t.mask {
		home := arpHash(t.e[j].ip) & t.mask
		// Move e[j] into the hole at i if its home does not lie in (i, j].
		if (j-home)&t.mask >= (j-i)&t.mask {
			t.e[i] = t.e[j]
			t.e[j] = arpEntry{}
			i = j
		}
	}
}

// lookup returns the MAC for an on-link address. A stale entry is still
// used while it is re-probed (as Linux's STALE/PROBE states do).
func (t *arpTable) lookup(s *Stack, ip [4]byte, now int64) ([6]byte, bool) {
	i := t.find(be32(ip))
	if i < 0 {
		return [6]byte{}, false
	}
	e := &t.e[i]
	switch e.state {
	case arpReachable:
		if now < e.expires {
			return e.mac, true
		}
		e.state, e.probes, e.expires = arpStale, 1, now+s.cfg.ARPRetry
		s.sendARP(wire.ARPRequest, e.mac, e.mac, ip) // unicast probe
		return e.mac, true
	case arpStale:
		return e.mac, true
	}
	return [6]byte{}, false
}

// enqueue parks p (an IPv4 datagram) until hop resolves, sending the first
// request when the neighbour is new.
func (t *arpTable) enqueue(s *Stack, hop [4]byte, p *buf.Packet, now int64) {
	ip := be32(hop)
	i := t.find(ip)
	if i < 0 {
		if i = t.insert(ip); i < 0 {
			s.drop(p, DropARPTableFull)
			return
		}
		e := &t.e[i]
		e.state, e.probes, e.expires = arpIncomplete, 1, now+s.cfg.ARPRetry
		s.sendARP(wire.ARPRequest, wire.BroadcastMAC, [6]byte{}, hop)
	}
	e := &t.e[i]
	if int(e.npend) == maxPendingPerHop || t.npending >= s.cfg.ARPPendingTotal {
		s.drop(p, DropARPQueueFull)
		return
	}
	e.pending[e.npend] = p
	e.npend++
	t.npending++
}

// learn records ip → mac. create says whether a new entry may be made
// (RFC 826: only when the ARP packet was addressed to us). Packets waiting
// for the neighbour are sent.
func (t *arpTable) learn(s *Stack, ip [4]byte, mac [6]byte, create bool, now int64) {
	key := be32(ip)
	i := t.find(key)
	if i < 0 {
		if !create {
			return
		}
		if i = t.insert(key); i < 0 {
			s.stats.Drops[DropARPTableFull]++
			return
		}
	}
	e := &t.e[i]
	e.mac, e.state, e.probes, e.expires = mac, arpReachable, 0, now+s.cfg.ARPReachable
	for k := 0; k < int(e.npend); k++ {
		p := e.pending[k]
		e.pending[k] = nil
		s.sendEthernet(p, mac, wire.EtherTypeIPv4)
	}
	t.npending -= int(e.npend)
	e.npend = 0
}

// tick retries incomplete and stale neighbours and forgets those that
// stopped answering, dropping (and counting) what waited for them.
func (t *arpTable) tick(s *Stack, now int64) {
	for i := 0; i < len(t.e); i++ {
		e := &t.e[i]
		if (e.state != arpIncomplete && e.state != arpStale) || now < e.expires {
			continue
		}
		if int(e.probes) >= s.cfg.ARPMaxProbes {
			t.flush(s, e, DropARPUnresolved)
			t.remove(uint32(i))
			i-- // a later entry may have shifted into slot i
			continue
		}
		e.probes++
		e.expires = now + s.cfg.ARPRetry
		if e.state == arpStale {
			s.sendARP(wire.ARPRequest, e.mac, e.mac, fromBE32(e.ip))
		} else {
			s.sendARP(wire.ARPRequest, wire.BroadcastMAC, [6]byte{}, fromBE32(e.ip))
		}
	}
}

func (t *arpTable) flush(s *Stack, e *arpEntry, r DropReason) {
	for k := 0; k < int(e.npend); k++ {
		s.drop(e.pending[k], r)
		e.pending[k] = nil
	}
	t.npending -= int(e.npend)
	e.npend = 0
}

func (t *arpTable) flushAll(s *Stack) {
	for i := range t.e {
		t.flush(s, &t.e[i], DropARPUnresolved)
	}
}

func (s *Stack) arpTick(now int64) {
	s.arp.tick(s, now)
	s.wheel.Schedule(&s.arpTimer, now+s.cfg.ARPRetry)
}

// Neighbor reports the cached MAC of an on-link address and whether it is
// usable.
func (s *Stack) Neighbor(ip [4]byte) ([6]byte, bool) {
	i := s.arp.find(be32(ip))
	if i < 0 || s.arp.e[i].state == arpIncomplete {
		return [6]byte{}, false
	}
	return s.arp.e[i].mac, true
}

// LearnNeighbor records a mapping another shard learned from an ARP packet
// addressed to us (see OnLearn), and sends what waited for it.
func (s *Stack) LearnNeighbor(ip [4]byte, mac [6]byte, now int64) {
	s.arp.learn(s, ip, mac, true, now)
}

// arpInput implements RFC 826's packet reception algorithm with RFC 5227's
// conflict check. p.Data() starts at the Ethernet header.
func (s *Stack) arpInput(p *buf.Packet, now int64) {
	p.TrimFront(wire.EthernetHeaderLen)
	a := wire.ARP(p.Data())
	if a.Check() != nil {
		s.drop(p, DropARPMalformed)
		return
	}
	op := a.Op()
	if op == wire.ARPRequest {
		s.stats.ARPRequestIn++
	} else {
		s.stats.ARPReplyIn++
	}
	sha, spa, tpa := a.SenderHW(), a.SenderIP(), a.TargetIP()
	if wire.IsMulticastMAC(sha) || sha == ([6]byte{}) {
		s.drop(p, DropARPMalformed)
		return
	}
	if spa == s.cfg.Addr {
		s.drop(p, DropARPConflict)
		return
	}
	forUs := tpa == s.cfg.Addr
	if spa != ([4]byte{}) { // 0.0.0.0 is an RFC 5227 probe: nothing to learn
		s.arp.learn(s, spa, sha, forUs, now)
		if s.onLearn != nil && forUs {
			s.onLearn(spa, sha)
		}
	}
	if !forUs {
		s.drop(p, DropARPNotForUs)
		return
	}
	if op != wire.ARPRequest {
		p.Release()
		return
	}
	// Answer in place: the request's frame becomes the reply.
	a.Encode(&wire.ARPFields{Op: wire.ARPReply, SenderHW: s.cfg.MAC, SenderIP: s.cfg.Addr, TargetHW: sha, TargetIP: spa})
	p.Truncate(wire.ARPLen)
	p.Meta = buf.Meta{}
	s.stats.ARPReplyOut++
	s.sendEthernet(p, sha, wire.EtherTypeARP)
}

// sendARP builds and transmits an ARP packet from us asking for or
// announcing tpa.
func (s *Stack) sendARP(op uint16, ethDst, tha [6]byte, tpa [4]byte) {
	p := s.slab.Alloc()
	if p == nil {
		s.stats.Drops[DropNoBuf]++
		return
	}
	wire.ARP(p.Append(wire.ARPLen)).Encode(&wire.ARPFields{
		Op: op, SenderHW: s.cfg.MAC, SenderIP: s.cfg.Addr, TargetHW: tha, TargetIP: tpa,
	})
	if op == wire.ARPRequest {
		s.stats.ARPRequestOut++
	} else {
		s.stats.ARPReplyOut++
	}
	s.sendEthernet(p, ethDst, wire.EtherTypeARP)
}
