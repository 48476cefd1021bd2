package rss

import (
	"encoding/binary"
	"errors"
)

// MicrosoftKey is the 40-byte key of Microsoft's RSS verification suite
// ("Verifying the RSS Hash Calculation"), also the default of several
// NICs.
var MicrosoftKey = []byte{
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
}

// ErrShortKey: a Toeplitz key must be at least 4 bytes longer than the
// hashed input (16 bytes for IPv4/TCP).
var ErrShortKey = errors.New("rss: Toeplitz key shorter than input + 4 bytes")

// Toeplitz returns the Toeplitz hash of input under key: for each set bit
// i of input (most significant bit of input[0] first), the 32 bits of key
// starting at bit i are XORed into the result. key must be at least
// len(input)+4 bytes; a shorter key is treated as padded with zeros.
func Toeplitz(key, input []byte) uint32 {
	var h uint32
	// v is key bits [n, n+32) while input bit n is looked at.
	v := uint32(keyByte(key, 0))<<24 | uint32(keyByte(key, 1))<<16 | uint32(keyByte(key, 2))<<8 | uint32(keyByte(key, 3))
	for i, b := range input {
		next := keyByte(key, i+4)
		for bit := 7; bit >= 0; bit-- {
			if b>>uint(bit)&1 != 0 {
				h ^= v
			}
			v = v<<1 | uint32(next>>uint(bit)&1)
		}
	}
	return h
}

func keyByte(key []byte, i int) byte {
	if i < len(key) {
		return key[i]
	}
	return 0
}

// tupleIPv4TCP lays out the hash input of a received IPv4/TCP segment:
// source address, destination address, source port, destination port,
// all in network order.
func tupleIPv4TCP(src, dst [4]byte, sport, dport uint16) [12]byte {
	var in [12]byte
	copy(in[0:4], src[:])
	copy(in[4:8], dst[:])
	binary.BigEndian.PutUint16(in[8:], sport)
	binary.BigEndian.PutUint16(in[10:], dport)
	return in
}

// HashIPv4TCP is the RSS hash a NIC computes for a segment it receives
// from src:sport to dst:dport.
func HashIPv4TCP(key []byte, src, dst [4]byte, sport, dport uint16) uint32 {
	in := tupleIPv4TCP(src, dst, sport, dport)
	return Toeplitz(key, in[:])
}

// HashIPv4 is the 2-tuple hash (addresses only), for fragments and
// non-TCP/UDP traffic.
func HashIPv4(key []byte, src, dst [4]byte) uint32 {
	var in [8]byte
	copy(in[0:4], src[:])
	copy(in[4:8], dst[:])
	return Toeplitz(key, in[:])
}
