package rss

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Hash functions as ethtool reports them (ETH_RSS_HASH_*, a bit each).
const (
	HashToeplitz uint8 = 1 << 0
	HashXOR      uint8 = 1 << 1
	HashCRC32    uint8 = 1 << 2
)

// Errors from Read and PortFor.
var (
	// ErrNotSupported: the device has no readable RSS configuration
	// (veth, TAP, loopback, or a driver without get_rxfh).
	ErrNotSupported = errors.New("rss: the device does not report an RSS key and indirection table")
	// ErrNotToeplitz: the device hashes with another function (or
	// transforms the input), so its queue choice is not predicted here.
	ErrNotToeplitz = errors.New("rss: the device does not use the plain Toeplitz hash")
	// ErrNoPort: no port in the range hashes to the queue.
	ErrNoPort = errors.New("rss: no local port in the range hashes to the queue")
)

// Table is a device's RSS configuration: the hash key, the indirection
// table (queue number per hash bucket) and the hash function. It is
// read-only once made and may be shared by every shard.
type Table struct {
	Key   []byte
	Indir []uint32
	HFunc uint8 // HashToeplitz etc.; 0 means unknown (assumed Toeplitz)
	// InputXfrm is ethtool's input transform (e.g. symmetric XOR); any
	// value but 0 makes the hash unpredictable here.
	InputXfrm uint8
}

// NewTable checks a configuration: a Toeplitz key long enough for the
// IPv4/TCP tuple and a non-empty indirection table.
func NewTable(key []byte, indir []uint32) (*Table, error) {
	t := &Table{Key: key, Indir: indir, HFunc: HashToeplitz}
	return t, t.check()
}

func (t *Table) check() error {
	switch {
	case t.HFunc != 0 && t.HFunc != HashToeplitz, t.InputXfrm != 0:
		return fmt.Errorf("%w (hash function %#x, input transform %#x)", ErrNotToeplitz, t.HFunc, t.InputXfrm)
	case len(t.Key) < 16:
		return fmt.Errorf("%w: %d bytes", ErrShortKey, len(t.Key))
	case len(t.Indir) == 0:
		return fmt.Errorf("%w: empty indirection table", ErrNotSupported)
	}
	return nil
}

// Queue is the receive queue a hash selects: the indirection table entry
// its low bits index (hash mod table size).
func (t *Table) Queue(hash uint32) int { return int(t.Indir[hash%uint32(len(t.Indir))]) }

// QueueIPv4TCP is the queue a segment from src:sport to dst:dport arrives
// on.
func (t *Table) QueueIPv4TCP(src, dst [4]byte, sport, dport uint16) int {
	return t.Queue(HashIPv4TCP(t.Key, src, dst, sport, dport))
}

// PortFor returns the first local port p, searching from `from` upwards
// through [low, high] and wrapping, such that segments from remote:rport
// to local:p arrive on queue `shard` (shard i owns queue i). The caller
// checks p against its own flows and calls again from p+1 if taken. It
// allocates nothing; the search costs a table lookup and two XORs per
// port, because the Toeplitz hash is linear in its input.
func (t *Table) PortFor(shard int, local, remote [4]byte, rport, low, high, from uint16) (uint16, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	if high < low {
		return 0, fmt.Errorf("%w: empty range %d..%d", ErrNoPort, low, high)
	}
	if from < low || from > high {
		from = low
	}
	// The hash of the reply with destination port 0, and what each byte
	// of the destination port (input bytes 10 and 11) adds to it.
	base := HashIPv4TCP(t.Key, remote, local, rport, 0)
	var in [12]byte
	var hi, lo [8]uint32 // contribution of each bit of the high and low byte
	for b := 0; b < 8; b++ {
		in[10], in[11] = 0x80>>b, 0
		hi[b] = Toeplitz(t.Key, in[:])
		in[10], in[11] = 0, 0x80>>b
		lo[b] = Toeplitz(t.Key, in[:])
	}
	n := int(high-low) + 1
	p := from
	for i := 0; i < n; i++ {
		h := base
		var be [2]byte
		binary.BigEndian.PutUint16(be[:], p)
		for b := 0; b < 8; b++ {
			if be[0]&(0x80>>b) != 0 {
				h ^= hi[b]
			}
			if be[1]&(0x80>>b) != 0 {
				h ^= lo[b]
			}
		}
		if t.Queue(h) == shard {
			return p, nil
		}
		if p == high {
			p = low
		} else {
			p++
		}
	}
	return 0, fmt.Errorf("%w: queue %d, ports %d..%d", ErrNoPort, shard, low, high)
}
