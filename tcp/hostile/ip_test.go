package hostile

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/wire"
)

// frameCase is a frame (or several) built from a valid SYN of the made-up
// host to the peer listener, broken in one way. The shard must answer
// with nothing (every frame counted under ipDrop or tcpDrop, exactly n
// times) or, for oddities that are legal, with a SYN-ACK.
type frameCase struct {
	name    string
	frames  func(r *rig, syn *segSpec) [][]byte
	ipDrop  ip.DropReason
	tcpDrop tcp.DropReason
	layer   byte // 'i': ipDrop moves, 't': tcpDrop moves, 'a': accepted (SYN-ACK)
	n       uint64
}

func one(b []byte) [][]byte { return [][]byte{b} }

// ipCases: IPv4 and link-layer lies, fragments, LAND, bad sources.
var ipCases = []frameCase{
	{name: "ipv4-bad-checksum", layer: 'i', ipDrop: ip.DropIPv4Checksum, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			b := s.build()
			b[offIP+10] ^= 0x5a
			return one(b)
		}},
	{name: "ipv4-version-6", layer: 'i', ipDrop: ip.DropIPv4Version, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			b := s.build()
			b[offIP] = 6<<4 | 5
			fixIPChecksum(b)
			return one(b)
		}},
	{name: "ihl-below-5", layer: 'i', ipDrop: ip.DropIPv4HeaderLen, n: 5,
		frames: func(r *rig, s *segSpec) [][]byte {
			var out [][]byte
			for ihl := byte(0); ihl < 5; ihl++ {
				b := s.build()
				b[offIP] = 4<<4 | ihl
				fixIPChecksum(b)
				out = append(out, b)
			}
			return out
		}},
	{name: "ihl-beyond-packet", layer: 'i', ipDrop: ip.DropIPv4HeaderLen, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			b := s.build()
			b[offIP] = 4<<4 | 15 // 60-byte header in a 40-byte datagram
			return one(b)
		}},
	{name: "ihl-beyond-total-length", layer: 'i', ipDrop: ip.DropIPv4TotalLen, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.payload = make([]byte, 40) // room for the longer header
			b := s.build()
			b[offIP] = 4<<4 | 15
			binary.BigEndian.PutUint16(b[offIP+2:], 40) // total length < IHL*4
			return one(b)
		}},
	{name: "total-length-beyond-frame", layer: 'i', ipDrop: ip.DropIPv4TotalLen, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			a := s.build()
			binary.BigEndian.PutUint16(a[offIP+2:], uint16(len(a)-offIP+1))
			fixIPChecksum(a)
			b := s.build()
			binary.BigEndian.PutUint16(b[offIP+2:], 65535)
			fixIPChecksum(b)
			return [][]byte{a, b}
		}},
	{name: "total-length-below-header", layer: 'i', ipDrop: ip.DropIPv4TotalLen, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			a := s.build()
			binary.BigEndian.PutUint16(a[offIP+2:], 19)
			fixIPChecksum(a)
			b := s.build()
			binary.BigEndian.PutUint16(b[offIP+2:], 0)
			fixIPChecksum(b)
			return [][]byte{a, b}
		}},
	{name: "truncated-ipv4-header", layer: 'i', ipDrop: ip.DropIPv4Truncated, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			b := s.build()
			return [][]byte{b[:offIP+19], b[:offIP+1]}
		}},
	{name: "ttl-zero", layer: 'i', ipDrop: ip.DropIPv4TTLZero, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.ttl = 0
			b := s.build()
			b[offIP+8] = 0
			fixIPChecksum(b)
			return one(b)
		}},
	{name: "fragment-first", layer: 'i', ipDrop: ip.DropIPv4Fragment, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.ipFlags = wire.IPv4FlagMF
			return one(s.build())
		}},
	{name: "fragment-later-and-last", layer: 'i', ipDrop: ip.DropIPv4Fragment, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.ipFlags, s.fragOff = wire.IPv4FlagMF, 8
			a := s.build()
			s.ipFlags, s.fragOff = 0, 1480
			return [][]byte{a, s.build()}
		}},
	{name: "tiny-overlapping-fragments", layer: 'i', ipDrop: ip.DropIPv4Fragment, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			// The classic filter evasion (RFC 1858): an 8-byte first
			// fragment, then one at offset 8 overwriting the flags.
			full := s.build()
			a := append([]byte(nil), full[:offTCP+8]...)
			binary.BigEndian.PutUint16(a[offIP+2:], 28)
			binary.BigEndian.PutUint16(a[offIP+6:], 0x2000)
			fixIPChecksum(a)
			b := append(append([]byte(nil), full[:offTCP]...), full[offTCP+8:]...)
			binary.BigEndian.PutUint16(b[offIP+2:], uint16(len(b)-offIP))
			binary.BigEndian.PutUint16(b[offIP+6:], 1) // offset 8
			fixIPChecksum(b)
			return [][]byte{a, b}
		}},
	{name: "land", layer: 'i', ipDrop: ip.DropIPv4BadSource, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.src, s.sport = r.stack, peerPort // to itself, from itself
			return one(s.build())
		}},
	{name: "source-broadcast-and-multicast", layer: 'i', ipDrop: ip.DropIPv4BadSource, n: 5,
		frames: func(r *rig, s *segSpec) [][]byte {
			var out [][]byte
			for _, src := range [][4]byte{{255, 255, 255, 255}, {198, 18, r.subnet, 255}, {224, 0, 0, 1}, {239, 1, 2, 3}, {0, 0, 0, 0}} {
				s.src = src
				out = append(out, s.build())
			}
			return out
		}},
	{name: "source-loopback", layer: 'i', ipDrop: ip.DropIPv4BadSource, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.src = [4]byte{127, 0, 0, 1}
			return one(s.build())
		}},
	{name: "ethernet-multicast-source", layer: 'i', ipDrop: ip.DropEthBadSource, n: 3,
		frames: func(r *rig, s *segSpec) [][]byte {
			var out [][]byte
			for _, mac := range [][6]byte{wire.BroadcastMAC, {0x01, 0x00, 0x5e, 0, 0, 1}, r.stackMA} {
				s.srcMAC = mac
				out = append(out, s.build())
			}
			return out
		}},
	{name: "broadcast-destination", layer: 'i', ipDrop: ip.DropIPv4NotForUs, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			a := *s
			a.dstMAC = wire.BroadcastMAC // link broadcast, our address
			b := *s
			b.dstMAC, b.dst = wire.BroadcastMAC, [4]byte{198, 18, r.subnet, 255}
			return [][]byte{a.build(), b.build()}
		}},
	{name: "other-destination", layer: 'i', ipDrop: ip.DropIPv4NotForUs, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.dst = [4]byte{198, 18, r.subnet, 99}
			return one(s.build())
		}},
	{name: "unknown-ethertype", layer: 'i', ipDrop: ip.DropEthUnknownType, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			a := s.build()
			binary.BigEndian.PutUint16(a[12:], wire.EtherTypeIPv6)
			b := s.build()
			binary.BigEndian.PutUint16(b[12:], wire.EtherTypeVLAN)
			return [][]byte{a, b}
		}},
	{name: "ethernet-padding-after-total-length", layer: 'a',
		frames: func(r *rig, s *segSpec) [][]byte {
			b := s.build()
			junk := make([]byte, 30)
			for i := range junk {
				junk[i] = byte(rand.Uint32())
			}
			return one(append(b, junk...)) // TotalLen stops before it
		}},
}

func TestHostileIPv4(t *testing.T) {
	r := newRig(t, rigConfig{})
	g := r.startLegit(2, 256<<10)
	runFrameCases(t, r, g, ipCases)
}

// runFrameCases runs each case against the shard while g's transfers run.
func runFrameCases(t *testing.T, r *rig, g *legit, cases []frameCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			mark, _ := g.status()
			port := uint16(20000 + rand.IntN(20000))
			iss := rand.Uint32()
			syn := r.seg(segSpec{sport: port, dport: peerPort, seq: iss, flags: fSYN, window: 65535})
			frames := tc.frames(r, syn)
			before := r.counters()
			for _, f := range frames {
				r.sock.send(t, f)
			}
			if tc.layer == 'r' {
				r.sock.expect(t, "RST", 10*time.Second, func(f frame) bool {
					return f.tcp != nil && f.ip.Src() == r.stack && f.tcp.DstPort() == port && f.tcp.Flags()&fRST != 0
				})
			}
			if tc.layer == 'a' {
				r.sock.expect(t, "SYN-ACK", 10*time.Second, func(f frame) bool {
					return f.isTCP(r.stack, peerPort, port) && f.tcp.Flags() == fSYN|fACK && uint32(f.tcp.Ack()) == iss+1
				})
				r.sock.send(t, r.seg(segSpec{sport: port, dport: peerPort, seq: iss + 1, flags: fRST}).build())
			}
			for _, f := range r.fence() {
				if f.tcp != nil {
					t.Errorf("the shard answered: %v", f)
				}
			}
			after := r.counters()
			checkDrops(t, before, after, tc)
			g.servedSince(t, mark)
		})
	}
}

// strictTCP are the TCP drop reasons that the legitimate transfers of a
// clean link never move, so any movement is the case's doing. (A
// connection-level reason such as out_of_window can move now and then: a
// kernel retransmission that crossed our ACK is an old duplicate.)
var strictTCP = map[tcp.DropReason]bool{
	tcp.DropBadHeader: true, tcp.DropBadChecksum: true, tcp.DropNotForUs: true, tcp.DropNoListener: true,
	tcp.DropChallengeAck: true, tcp.DropChallengeLimit: true, tcp.DropAckTooNew: true, tcp.DropBacklogFull: true,
	tcp.DropConnLimit: true, tcp.DropCookieFailed: true, tcp.DropListenNoSyn: true, tcp.DropRstIgnored: true,
	tcp.DropRstRateLimit: true, tcp.DropNoBuf: true, tcp.DropNoAck: true, tcp.DropAckTooOld: true,
}

// checkDrops asserts that the case's counter moved by exactly n and that
// no other IPv4 or strict TCP drop counter moved.
func checkDrops(t *testing.T, before, after counters, tc frameCase) {
	t.Helper()
	for i := 0; i < ip.NumDropReasons; i++ {
		d := after.ip.Drops[i] - before.ip.Drops[i]
		want := uint64(0)
		if tc.layer == 'i' && ip.DropReason(i) == tc.ipDrop {
			want = tc.n
		}
		if d != want {
			t.Errorf("ip drop %v moved by %d, want %d", ip.DropReason(i), d, want)
		}
	}
	for i := 0; i < tcp.NumDropReasons; i++ {
		d := after.tcp.Drops[i] - before.tcp.Drops[i]
		want := uint64(0)
		if (tc.layer == 't' || tc.layer == 'r') && tcp.DropReason(i) == tc.tcpDrop {
			want = tc.n
			if !strictTCP[tcp.DropReason(i)] && d >= want {
				continue // legitimate traffic may add to it
			}
		} else if !strictTCP[tcp.DropReason(i)] {
			continue
		}
		if d != want {
			t.Errorf("tcp drop %v moved by %d, want %d", tcp.DropReason(i), d, want)
		}
	}

}
