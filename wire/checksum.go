package wire

import (
	"encoding/binary"
	"math/bits"
)

// The Internet checksum (RFC 1071): the 16-bit one's-complement of the
// one's-complement sum of the data taken as big-endian 16-bit words, an odd
// final byte padded with a zero byte.
//
// Sum is the fast part. One's-complement addition is commutative and
// associative, and byte-swapping every word swaps the sum (RFC 1071 §2(B)),
// so Sum adds the data as little-endian 64-bit words in one carry chain
// (math/bits.Add64, which compiles to ADC), folds the 64-bit total to 16
// bits with end-around carries and swaps the two bytes once at the end.
// On the development machine (AMD EPYC, Zen 5) that is about 26 GB/s for
// 1460 bytes, against 3.4 GB/s for a 16-bit-word loop (BenchmarkChecksum);
// pure Go, no assembly.

// Sum adds b to the running one's-complement sum initial and returns the
// new running sum. b is taken to start on a 16-bit word boundary of the
// checksummed data (its address may be anything; odd addresses are fine),
// and an odd final byte is the high byte of a word padded with zero; to sum
// data in pieces, split it at even lengths.
//
// initial may be any uint32 (0 to start, or the sum of earlier Sum and
// PseudoHeaderSum results). The result is folded to at most 0xffff, so
// tens of thousands of results can be added together in a uint32 without
// overflow before Fold or Checksum folds them. The result is 0 only when
// initial is 0 and every byte of b is 0.
func Sum(b []byte, initial uint32) uint32 {
	// initial joins the little-endian sum byte-swapped within each 16-bit
	// half (≡ 2^8·initial mod 0xffff, as is each swapped data word).
	sw := uint64((initial&0x00ff00ff)<<8 | (initial>>8)&0x00ff00ff)
	return uint32(bits.ReverseBytes16(fold64(sumLE(b, sw))))
}

// Fold folds the carries of a running sum into 16 bits: the one's-complement
// sum, not complemented.
func Fold(sum uint32) uint16 { return fold32(sum) }

// Checksum is the Internet checksum of b after the running sum initial:
// ^Fold(Sum(b, initial)).
func Checksum(b []byte, initial uint32) uint16 { return ^Fold(Sum(b, initial)) }

// PseudoHeaderSum is the running sum of the IPv4 pseudo-header (RFC 9293
// §3.1) for a transport segment of length bytes (header and data).
func PseudoHeaderSum(src, dst [4]byte, proto uint8, length uint16) uint32 {
	return word(src[0], src[1]) + word(src[2], src[3]) +
		word(dst[0], dst[1]) + word(dst[2], dst[3]) +
		uint32(proto) + uint32(length)
}

// ChecksumUpdate16 returns the checksum cksum after a 16-bit word of the
// covered data changed from old to new, by RFC 1624 equation 3:
// HC' = ~(~HC + ~m + m'). It equals a full recomputation unless the new
// data is all zeros (then recomputation gives 0xffff and this 0x0000,
// equivalent in one's complement).
func ChecksumUpdate16(cksum, old, new uint16) uint16 {
	return ^fold32(uint32(^cksum) + uint32(^old) + uint32(new))
}

// ChecksumUpdate32 is ChecksumUpdate16 for a 4-byte field such as an IPv4
// address (two big-endian words).
func ChecksumUpdate32(cksum uint16, old, new [4]byte) uint16 {
	s := uint32(^cksum) +
		0xffff - word(old[0], old[1]) + 0xffff - word(old[2], old[3]) +
		word(new[0], new[1]) + word(new[2], new[3])
	return ^fold32(s)
}

// word is the big-endian 16-bit word hi:lo.
func word(hi, lo byte) uint32 { return uint32(hi)<<8 | uint32(lo) }

// fold32 folds a 32-bit sum to 16 bits with end-around carry.
func fold32(s uint32) uint16 {
	s = s&0xffff + s>>16 // <= 0x1fffe
	s = s&0xffff + s>>16 // <= 0xffff
	return uint16(s)
}

// fold64 folds a 64-bit sum to 16 bits with end-around carry.
func fold64(s uint64) uint16 {
	t, c := bits.Add32(uint32(s), uint32(s>>32), 0)
	return fold32(t + c)
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// sumLE is the one's-complement sum of b read as little-endian words, kept
// in 64 bits (2^64 ≡ 1 mod 0xffff, so adding carries back at bit 0 keeps
// the value congruent). Each block is one ADC chain; the chain's final
// carry goes to a separate counter so blocks do not wait on each other.
func sumLE(b []byte, s uint64) uint64 {
	var c, carries uint64
	for len(b) >= 64 {
		s, c = bits.Add64(s, le64(b[0:8]), 0)
		s, c = bits.Add64(s, le64(b[8:16]), c)
		s, c = bits.Add64(s, le64(b[16:24]), c)
		s, c = bits.Add64(s, le64(b[24:32]), c)
		s, c = bits.Add64(s, le64(b[32:40]), c)
		s, c = bits.Add64(s, le64(b[40:48]), c)
		s, c = bits.Add64(s, le64(b[48:56]), c)
		s, c = bits.Add64(s, le64(b[56:64]), c)
		carries += c
		b = b[64:]
	}
	if len(b) >= 32 {
		s, c = bits.Add64(s, le64(b[0:8]), 0)
		s, c = bits.Add64(s, le64(b[8:16]), c)
		s, c = bits.Add64(s, le64(b[16:24]), c)
		s, c = bits.Add64(s, le64(b[24:32]), c)
		carries += c
		b = b[32:]
	}
	if len(b) >= 16 {
		s, c = bits.Add64(s, le64(b[0:8]), 0)
		s, c = bits.Add64(s, le64(b[8:16]), c)
		carries += c
		b = b[16:]
	}
	if len(b) >= 8 {
		s, c = bits.Add64(s, le64(b[0:8]), 0)
		carries += c
		b = b[8:]
	}
	// At most 7 bytes left. Each piece starts at an even offset, so it adds
	// in without shifting (2^16 ≡ 1); a lone last byte is the low byte of a
	// little-endian word, i.e. the high byte of its big-endian word.
	var t uint64
	if len(b) >= 4 {
		t = uint64(binary.LittleEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		t += uint64(binary.LittleEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		t += uint64(b[0])
	}
	s, c = bits.Add64(s, t, 0)
	carries += c
	s, c = bits.Add64(s, carries, 0)
	return s + c // cannot overflow: s <= 2^64-2 when c is 1
}
