package tcp

import (
	"encoding/binary"
	"math/bits"

	"github.com/shardnet/shardnet/wire"
)

// sipHash24 is SipHash-2-4 (Aumasson & Bernstein) of a message of up to
// 24 bytes given as three little-endian words and its length; enough for a
// TCP 4-tuple plus a counter. Written here from the paper's description.
func sipHash24(k0, k1 uint64, m []uint64, length int) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	full := length / 8
	for i := 0; i < full; i++ {
		v3 ^= m[i]
		round()
		round()
		v0 ^= m[i]
	}
	var last uint64
	if length%8 != 0 {
		last = m[full] & (1<<(8*uint(length%8)) - 1)
	}
	last |= uint64(length&0xff) << 56
	v3 ^= last
	round()
	round()
	v0 ^= last
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// tupleWords packs the 4-tuple into SipHash message words.
func tupleWords(m *[3]uint64, laddr, raddr [4]byte, lport, rport uint16) {
	m[0] = uint64(binary.LittleEndian.Uint32(laddr[:])) | uint64(binary.LittleEndian.Uint32(raddr[:]))<<32
	m[1] = uint64(lport) | uint64(rport)<<16
	m[2] = 0
}

// isn returns an initial sequence number per RFC 6528: ISN = M + F(localip,
// localport, remoteip, remoteport, secretkey), with M a timer ticking every
// 4 microseconds and F SipHash-2-4 keyed with the stack's secret.
func (s *Stack) isn(raddr [4]byte, lport, rport uint16, now int64) wire.Seq {
	var m [3]uint64
	tupleWords(&m, s.cfg.Addr, raddr, lport, rport)
	h := sipHash24(s.key0, s.key1, m[:], 12)
	return wire.Seq(uint32(h) + uint32(now/4000))
}

// tsOffset is a per-connection timestamp offset (RFC 7323 §7.1): a keyed
// hash of the 4-tuple, so TSvals do not reveal the host's clock and stay
// monotonic across incarnations of one 4-tuple.
func (s *Stack) tsOffset(raddr [4]byte, lport, rport uint16) uint32 {
	var m [3]uint64
	tupleWords(&m, s.cfg.Addr, raddr, lport, rport)
	m[1] |= 0x5453 << 32 // domain separation from isn
	return uint32(sipHash24(s.key0, s.key1, m[:], 16) >> 32)
}
