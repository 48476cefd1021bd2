package hostile

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/wire"
)

// opts builds raw option bytes, padded with EOL to a multiple of 4.
func opts(b ...byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// tcpHeaderCases: lies in the TCP header and its options, and odd flag
// combinations sent to a listener.
var tcpHeaderCases = []frameCase{
	{name: "tcp-bad-checksum", layer: 't', tcpDrop: tcp.DropBadChecksum, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			a := s.build()
			a[offTCP+16] ^= 0x5a
			s.payload = []byte("data on a SYN")
			b := s.build()
			b[len(b)-1] ^= 1
			return [][]byte{a, b}
		}},
	{name: "data-offset-below-5", layer: 't', tcpDrop: tcp.DropBadHeader, n: 5,
		frames: func(r *rig, s *segSpec) [][]byte {
			var out [][]byte
			for off := byte(0); off < 5; off++ {
				b := s.build()
				b[offTCP+12] = off << 4
				fixTCPChecksum(b)
				out = append(out, b)
			}
			return out
		}},
	{name: "data-offset-beyond-segment", layer: 't', tcpDrop: tcp.DropBadHeader, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			a := s.build()
			a[offTCP+12] = 15 << 4 // 60-byte header, 20-byte segment
			fixTCPChecksum(a)
			s.payload = make([]byte, 20)
			b := s.build()
			b[offTCP+12] = 11 << 4 // 44-byte header, 40-byte segment
			fixTCPChecksum(b)
			return [][]byte{a, b}
		}},
	{name: "truncated-tcp-header", layer: 't', tcpDrop: tcp.DropBadHeader, n: 2,
		frames: func(r *rig, s *segSpec) [][]byte {
			var out [][]byte
			for _, n := range []int{12, 0} {
				b := s.build()[:offTCP+n]
				wire.IPv4(b[offIP:]).SetTotalLen(uint16(20 + n))
				fixIPChecksum(b)
				out = append(out, b)
			}
			return out
		}},
	{name: "total-length-cuts-tcp-header", layer: 't', tcpDrop: tcp.DropBadHeader, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			b := s.build() // full frame, but the IPv4 length says 8 TCP bytes
			wire.IPv4(b[offIP:]).SetTotalLen(28)
			fixIPChecksum(b)
			return one(b)
		}},
	{name: "malformed-options", layer: 't', tcpDrop: tcp.DropBadHeader, n: 9,
		frames: func(r *rig, s *segSpec) [][]byte {
			var out [][]byte
			for _, o := range [][]byte{
				opts(30, 0),                            // length 0
				opts(30, 1),                            // length 1
				opts(30, 20, 1, 1),                     // runs past the header
				opts(1, 1, 1, 30),                      // no room for the length byte
				opts(2, 3, 5),                          // MSS of length 3
				opts(3, 4, 7, 0),                       // window scale of length 4
				opts(5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0), // SACK of length 11
				opts(8, 9, 0, 0, 0, 0, 0, 0, 0),        // timestamps of length 9
				opts(5, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), // overlong SACK: 42 in 40
			} {
				s.opts = o
				out = append(out, s.build())
			}
			return out
		}},
	{name: "port-zero", layer: 't', tcpDrop: tcp.DropBadHeader, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.sport = 0
			return one(s.build())
		}},
	{name: "syn-rst", layer: 't', tcpDrop: tcp.DropRstIgnored, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.flags = fSYN | fRST
			return one(s.build())
		}},
	{name: "null-and-xmas-to-listener", layer: 't', tcpDrop: tcp.DropListenNoSyn, n: 3,
		frames: func(r *rig, s *segSpec) [][]byte {
			var out [][]byte
			for _, f := range []wire.TCPFlags{0, fFIN | fPSH | fURG, fFIN} {
				s.flags = f
				out = append(out, s.build())
			}
			return out
		}},
	{name: "stray-ack-to-listener", layer: 'r', tcpDrop: tcp.DropCookieFailed, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.flags, s.ack = fACK, rand.Uint32()
			return one(s.build())
		}},
	{name: "syn-to-closed-port", layer: 'r', tcpDrop: tcp.DropNoListener, n: 1,
		frames: func(r *rig, s *segSpec) [][]byte {
			s.dport = 9 // closed
			return one(s.build())
		}},
	{name: "forty-bytes-of-options", layer: 'a',
		frames: func(r *rig, s *segSpec) [][]byte {
			s.opts = opts(2, 4, 5, 180, // MSS 1460
				4, 2, // SACK permitted
				8, 10, 1, 2, 3, 4, 0, 0, 0, 0, // timestamps
				3, 3, 14, // window scale 14
				1,                                             // NOP
				30, 14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // unknown kind, 14 bytes
				1, 0) // NOP, EOL
			return one(s.build())
		}},
	{name: "garbage-after-eol", layer: 'a',
		frames: func(r *rig, s *segSpec) [][]byte {
			s.opts = []byte{2, 4, 5, 180, 0, 0xff, 0xff, 0x03}
			return one(s.build())
		}},
	{name: "absurd-mss-and-window-scale", layer: 'a',
		frames: func(r *rig, s *segSpec) [][]byte {
			s.opts = opts(2, 4, 0, 1, 3, 3, 255) // MSS 1, shift 255
			return one(s.build())
		}},
	{name: "syn-with-data-and-urgent", layer: 'a',
		frames: func(r *rig, s *segSpec) [][]byte {
			s.flags |= fURG | fPSH
			s.urgent = 65535
			s.payload = bytes.Repeat([]byte("syn-data"), 50)
			return one(s.build())
		}},
}

func TestHostileTCPHeaders(t *testing.T) {
	r := newRig(t, rigConfig{})
	g := r.startLegit(2, 256<<10)
	runFrameCases(t, r, g, tcpHeaderCases)
}

// rawConn is a connection of the made-up host, driven by hand: snd is the
// next sequence number it sends, rcv the next it expects from the shard.
type rawConn struct {
	r        *rig
	port     uint16
	snd, rcv uint32
}

// dialRaw opens a connection from the made-up host to the peer listener
// (no options: no window scaling, SACK or timestamps) and returns once
// the shard has it ESTABLISHED.
func (r *rig) dialRaw(t testing.TB) *rawConn {
	t.Helper()
	c := &rawConn{r: r, port: uint16(20000 + rand.IntN(20000)), snd: rand.Uint32()}
	r.sock.send(t, c.seg(segSpec{seq: c.snd, flags: fSYN}))
	sa := r.sock.expect(t, "SYN-ACK", 10*time.Second, func(f frame) bool {
		return f.isTCP(r.stack, peerPort, c.port) && f.tcp.Flags() == fSYN|fACK && uint32(f.tcp.Ack()) == c.snd+1
	})
	c.snd++
	c.rcv = uint32(sa.tcp.Seq()) + 1
	r.sock.send(t, c.seg(segSpec{flags: fACK}))
	r.fence()
	if st := r.peerState(c.port); !st.open || st.state != tcp.StateEstablished {
		t.Fatalf("the shard's side of the hand-made connection is not established: %+v", st)
	}
	return c
}

// seg is a segment of this connection; seq and ack default to snd and rcv
// (zero fields mean "current": tests that need a literal 0 set it after).
func (c *rawConn) seg(s segSpec) []byte {
	s.sport, s.dport = c.port, peerPort
	if s.seq == 0 {
		s.seq = c.snd
	}
	if s.ack == 0 && s.flags&fACK != 0 {
		s.ack = c.rcv
	}
	if s.window == 0 {
		s.window = 65535
	}
	return c.r.seg(s).build()
}

// expectAck waits for a bare ACK from the shard acknowledging ack with
// sequence number c.rcv.
func (c *rawConn) expectAck(t testing.TB, what string, ack uint32) {
	t.Helper()
	var before []frame
	f := c.r.sock.expectCollect(t, what, 5*time.Second, func(f frame) bool {
		if !f.isTCP(c.r.stack, peerPort, c.port) {
			return false
		}
		// An ACK of part of what was sent (the delayed-ACK timer fired
		// between two segments) is not the answer yet.
		a := wire.Seq(f.tcp.Ack())
		partial := f.tcp.Flags() == fACK && a.GreaterEq(wire.Seq(c.snd)) && a.LessThan(wire.Seq(ack))
		return !partial
	}, &before)
	if f.tcp.Flags() != fACK || uint32(f.tcp.Seq()) != c.rcv || uint32(f.tcp.Ack()) != ack || len(f.tcp.Payload()) != 0 {
		t.Fatalf("%s: got %v, want ACK seq %d ack %d", what, f, c.rcv, ack)
	}
}

// expectSilence fences and fails on any segment of this connection sent
// before the fence's answer.
func (c *rawConn) expectSilence(t testing.TB) {
	t.Helper()
	for _, f := range c.r.fence() {
		if f.isTCP(c.r.stack, peerPort, c.port) {
			t.Errorf("the shard answered: %v", f)
		}
	}
}

// connCase is a hostile segment on an established connection.
type connCase struct {
	name    string
	segs    func(c *rawConn) [][]byte
	answer  string // "none", "ack" (a bare ACK of c.snd after advance), "reset" (the connection dies, silently)
	advance uint32 // bytes the shard must accept (in line) from segs
	drop    tcp.DropReason
	n       uint64 // 0: no drop counter moves
	stat    func(s *tcp.Stats) uint64
	statN   uint64
}

var payload = []byte("0123456789abcdefghijklmnopqrstuvwxyz")

var connCases = []connCase{
	{name: "data-beyond-window", answer: "ack", drop: tcp.DropOutOfWindow, n: 1,
		segs: func(c *rawConn) [][]byte {
			return [][]byte{c.seg(segSpec{seq: c.snd + 1<<20, flags: fACK | fPSH, payload: payload})}
		}},
	{name: "old-data-below-window", answer: "ack", drop: tcp.DropOutOfWindow, n: 1,
		segs: func(c *rawConn) [][]byte {
			return [][]byte{c.seg(segSpec{seq: c.snd - 5000, flags: fACK | fPSH, payload: payload})}
		}},
	{name: "rst-in-window-not-exact", answer: "ack", drop: tcp.DropChallengeAck, n: 1,
		stat: func(s *tcp.Stats) uint64 { return s.ChallengeAcks }, statN: 1,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{seq: c.snd + 1000, flags: fRST})} }},
	{name: "rst-ack-in-window-not-exact", answer: "ack", drop: tcp.DropChallengeAck, n: 1,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{seq: c.snd + 1, flags: fRST | fACK})} }},
	{name: "rst-beyond-window", answer: "none", drop: tcp.DropRstIgnored, n: 1,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{seq: c.snd + 1<<20, flags: fRST})} }},
	{name: "rst-below-window", answer: "none", drop: tcp.DropRstIgnored, n: 1,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{seq: c.snd - 1, flags: fRST})} }},
	{name: "syn-in-window", answer: "ack", drop: tcp.DropChallengeAck, n: 1,
		stat: func(s *tcp.Stats) uint64 { return s.ChallengeAcks }, statN: 1,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{seq: c.snd + 10, flags: fSYN})} }},
	{name: "syn-at-rcv-nxt", answer: "ack", drop: tcp.DropChallengeAck, n: 1,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{flags: fSYN})} }},
	{name: "syn-ack-in-window", answer: "ack", drop: tcp.DropChallengeAck, n: 1,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{seq: c.snd + 10, flags: fSYN | fACK})} }},
	{name: "ack-of-unsent-data", answer: "ack", drop: tcp.DropAckTooNew, n: 1,
		segs: func(c *rawConn) [][]byte {
			return [][]byte{c.seg(segSpec{flags: fACK | fPSH, ack: c.rcv + 100000, payload: payload})}
		}},
	{name: "ack-far-below-snd-una", answer: "ack", drop: tcp.DropAckTooOld, n: 1,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{flags: fACK, ack: c.rcv - 1<<30})} }},
	{name: "data-without-ack-bit", answer: "none", drop: tcp.DropNoAck, n: 1,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{flags: fPSH, payload: payload})} }},
	{name: "urgent-data-in-line", answer: "ack", advance: uint32(len(payload)),
		segs: func(c *rawConn) [][]byte {
			return [][]byte{c.seg(segSpec{flags: fACK | fPSH | fURG, urgent: 3, payload: payload})}
		}},
	{name: "urgent-pointer-beyond-data", answer: "ack", advance: 2 * uint32(len(payload)),
		segs: func(c *rawConn) [][]byte {
			return [][]byte{
				c.seg(segSpec{flags: fACK | fURG, urgent: 65535, payload: payload}),
				c.seg(segSpec{seq: c.snd + uint32(len(payload)), flags: fACK | fPSH | fURG, urgent: 0, payload: payload}),
			}
		}},
	{name: "urgent-without-data", answer: "none",
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{flags: fACK | fURG, urgent: 100})} }},
	{name: "rst-at-rcv-nxt-resets", answer: "reset",
		// ResetsRecv counts the fence's RST to its half-open too.
		stat: func(s *tcp.Stats) uint64 { return s.ResetsRecv }, statN: 2,
		segs: func(c *rawConn) [][]byte { return [][]byte{c.seg(segSpec{flags: fRST})} }},
}

// TestHostileEstablished sends hostile segments into connections whose
// sequence numbers the test knows exactly (RFC 5961 and RFC 9293
// §3.10.7.4), one fresh connection per case.
func TestHostileEstablished(t *testing.T) {
	r := newRig(t, rigConfig{})
	g := r.startLegit(2, 256<<10)
	for _, tc := range connCases {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			mark, _ := g.status()
			c := r.dialRaw(t)
			segs := tc.segs(c)
			before := r.counters()
			for _, s := range segs {
				r.sock.send(t, s)
			}
			switch tc.answer {
			case "ack":
				c.expectAck(t, "ACK", c.snd+tc.advance)
				c.expectSilence(t) // and nothing more
			default:
				c.expectSilence(t)
			}
			c.snd += tc.advance
			after := r.counters()
			checkDrops(t, before, after, frameCase{layer: 't', tcpDrop: tc.drop, n: tc.n})
			if tc.stat != nil {
				if d := tc.stat(&after.tcp) - tc.stat(&before.tcp); d != tc.statN {
					t.Errorf("counter moved by %d, want %d", d, tc.statN)
				}
			}
			st := r.peerState(c.port)
			if tc.answer == "reset" {
				if !st.closed || st.reason != tcp.CloseReset {
					t.Fatalf("connection not reset: %+v", st)
				}
			} else {
				if st.closed || st.state != tcp.StateEstablished {
					t.Fatalf("connection did not survive: %+v", st)
				}
				want := bytes.Repeat(payload, int(tc.advance)/len(payload))
				if st.data != string(want) {
					t.Fatalf("the application got %q, want %q", st.data, want)
				}
				r.sock.send(t, c.seg(segSpec{flags: fRST}))
				r.fence()
				if st := r.peerState(c.port); !st.closed || st.reason != tcp.CloseReset {
					t.Fatalf("cleanup RST did not close the connection: %+v", st)
				}
			}
			g.servedSince(t, mark)
		})
	}
}

// TestHostileTimeWaitAssassination: RFC 1337 hazard H1. The shard closes
// first and reaches TIME-WAIT; a RST with the exact sequence number must
// not end TIME-WAIT early (RFC 1337 §3 fix F1: ignore RST in TIME-WAIT),
// or old duplicates of this incarnation could be accepted by the next.
// Whether TIME-WAIT is alive is seen on the wire: an out-of-window ACK
// gets an ACK from TIME-WAIT, a RST from the listener once it is gone.
func TestHostileTimeWaitAssassination(t *testing.T) {
	r := newRig(t, rigConfig{})
	g := r.startLegit(1, 256<<10)
	mark, _ := g.status()
	port := uint16(20000 + rand.IntN(20000))
	r.onShard(func() { r.app.closeFirst[port] = true })
	c := &rawConn{r: r, port: port, snd: rand.Uint32()}
	r.sock.send(t, c.seg(segSpec{seq: c.snd, flags: fSYN}))
	sa := r.sock.expect(t, "SYN-ACK", 10*time.Second, func(f frame) bool {
		return f.isTCP(r.stack, peerPort, port) && f.tcp.Flags() == fSYN|fACK
	})
	c.snd++
	c.rcv = uint32(sa.tcp.Seq()) + 1
	r.sock.send(t, c.seg(segSpec{flags: fACK}))
	fin := r.sock.expect(t, "the shard's FIN", 5*time.Second, func(f frame) bool {
		return f.isTCP(r.stack, peerPort, port) && f.tcp.Flags()&fFIN != 0
	})
	if uint32(fin.tcp.Seq()) != c.rcv {
		t.Fatalf("FIN at %d, want %d", uint32(fin.tcp.Seq()), c.rcv)
	}
	c.rcv++
	r.sock.send(t, c.seg(segSpec{flags: fACK | fFIN}))
	c.snd++
	c.expectAck(t, "ACK of our FIN", c.snd)
	if st := r.peerState(port); !st.closed || st.reason != tcp.CloseNormal || st.state != tcp.StateTimeWait {
		t.Fatalf("the shard is not in TIME-WAIT: %+v", st)
	}
	probe := func() frame {
		r.sock.send(t, c.seg(segSpec{seq: c.snd + 1<<20, flags: fACK}))
		return r.sock.expect(t, "answer to the probe", 5*time.Second, func(f frame) bool {
			return f.isTCP(r.stack, peerPort, port)
		})
	}
	if f := probe(); f.tcp.Flags() != fACK || uint32(f.tcp.Ack()) != c.snd {
		t.Fatalf("TIME-WAIT answered the probe with %v, want an ACK of %d", f, c.snd)
	}
	before := r.counters()
	r.sock.send(t, c.seg(segSpec{flags: fRST})) // exactly at RCV.NXT
	f := probe()
	after := r.counters()
	g.servedSince(t, mark)
	if f.tcp.Flags() != fACK || uint32(f.tcp.Ack()) != c.snd {
		t.Fatalf("after the RST, the probe got %v, want an ACK from TIME-WAIT", f)
	}
	if d := after.tcp.ResetsRecv - before.tcp.ResetsRecv; d != 0 {
		t.Errorf("ResetsRecv moved by %d, want 0", d)
	}
	// ≥ 1: the legitimate transfers' own closes can add RSTs in TIME-WAIT.
	if d := after.tcp.Drops[tcp.DropRstTimeWait] - before.tcp.Drops[tcp.DropRstTimeWait]; d < 1 {
		t.Errorf("rst_in_time_wait moved by %d, want ≥ 1", d)
	}
}
