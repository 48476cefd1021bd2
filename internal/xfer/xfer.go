// Package xfer is the transfer protocol of the interop, fault and soak
// tests: a client opens a connection, sends a 24-byte header (bytes it will
// send up, bytes it wants down, a seed), then both sides stream
// deterministic pseudo-random bytes at once (full duplex) and half-close
// when done. Each receiver checks every byte against the generator and
// compares the SHA-256 of what arrived with that of what was meant.
//
// The shard side (Server, Dialer) is a tcp.Handler running on a shard's
// thread; the kernel side (KernelClient, KernelServer) uses net.Conn.
package xfer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// HeaderLen is the size of the request header.
const HeaderLen = 24

// Header is what the client asks for.
type Header struct {
	Up   uint64 // client → server bytes after the header
	Down uint64 // server → client bytes
	Seed uint64 // the up stream uses Seed, the down stream Seed^downSalt
}

const downSalt = 0x5bd1e995deadbeef

// Encode writes the header into b[:HeaderLen].
func (h Header) Encode(b []byte) {
	binary.BigEndian.PutUint64(b[0:], h.Up)
	binary.BigEndian.PutUint64(b[8:], h.Down)
	binary.BigEndian.PutUint64(b[16:], h.Seed)
}

// DecodeHeader reads a header from b[:HeaderLen].
func DecodeHeader(b []byte) Header {
	return Header{binary.BigEndian.Uint64(b[0:]), binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:])}
}

// UpSeed and DownSeed are the generator seeds of the two directions.
func (h Header) UpSeed() uint64   { return h.Seed }
func (h Header) DownSeed() uint64 { return h.Seed ^ downSalt }

func mix(x uint64) uint64 { // splitmix64's finaliser
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func word(seed, pos uint64) uint64 { return mix(seed ^ (pos>>3)*0x9e3779b97f4a7c15) }

// Fill writes bytes [off, off+len(dst)) of the stream seeded by seed: byte
// pos is byte pos%8 (little-endian) of word(seed, pos).
func Fill(seed, off uint64, dst []byte) {
	i := 0
	for i < len(dst) {
		pos := off + uint64(i)
		if pos&7 == 0 && len(dst)-i >= 8 {
			binary.LittleEndian.PutUint64(dst[i:], word(seed, pos))
			i += 8
			continue
		}
		dst[i] = byte(word(seed, pos) >> (8 * (pos & 7)))
		i++
	}
}

// Sum returns the SHA-256 of n bytes of the stream seeded by seed.
func Sum(seed, n uint64) string {
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for off := uint64(0); off < n; {
		k := min(uint64(len(buf)), n-off)
		Fill(seed, off, buf[:k])
		h.Write(buf[:k])
		off += k
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Verifier checks a received stream against the generator.
type Verifier struct {
	seed, want uint64
	got        uint64
	bad        int64 // offset of the first wrong byte, or -1
	h          hash.Hash
	scratch    []byte
}

// NewVerifier expects want bytes of the stream seeded by seed.
func NewVerifier(seed, want uint64) *Verifier {
	return &Verifier{seed: seed, want: want, bad: -1, h: sha256.New(), scratch: make([]byte, 64<<10)}
}

// Write takes received bytes; it never fails (errors are reported by Err).
func (v *Verifier) Write(p []byte) (int, error) {
	n := len(p)
	v.h.Write(p)
	for len(p) > 0 {
		k := min(len(p), len(v.scratch))
		if v.bad < 0 {
			Fill(v.seed, v.got, v.scratch[:k])
			for i := 0; i < k; i++ {
				if p[i] != v.scratch[i] {
					v.bad = int64(v.got) + int64(i)
					break
				}
			}
		}
		v.got += uint64(k)
		p = p[k:]
	}
	return n, nil
}

// Got is how many bytes arrived.
func (v *Verifier) Got() uint64 { return v.got }

// Err reports whether exactly the expected bytes arrived, comparing
// SHA-256 digests as well as bytes.
func (v *Verifier) Err() error {
	if v.bad >= 0 {
		return fmt.Errorf("wrong byte at offset %d of %d", v.bad, v.want)
	}
	if v.got != v.want {
		return fmt.Errorf("received %d bytes, want %d", v.got, v.want)
	}
	if got, want := hex.EncodeToString(v.h.Sum(nil)), Sum(v.seed, v.want); got != want {
		return fmt.Errorf("sha256 %s, want %s", got, want)
	}
	return nil
}

// Send writes n bytes of the stream seeded by seed to w.
func Send(w io.Writer, seed, n uint64) error {
	buf := make([]byte, 64<<10)
	for off := uint64(0); off < n; {
		k := min(uint64(len(buf)), n-off)
		Fill(seed, off, buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return fmt.Errorf("after %d of %d bytes: %w", off, n, err)
		}
		off += k
	}
	return nil
}
