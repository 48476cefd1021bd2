package reactor

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/shardnet/shardnet/wire"
)

// Forwarder steers TCP segments that arrived on the wrong shard's queue to
// the shard that owns their flow. Where the NIC's hash cannot be predicted
// (TAP, veth), each shard dials from its own slice of the ephemeral port
// range, so the owner of a segment to an ephemeral port is known from the
// port alone. Passive connections need no steering: the queue that got the
// SYN gets the rest of the flow.
//
// A misdirected frame is copied into a per-pair single-producer,
// single-consumer ring of frame slots and the owner copies it out into its
// own slab: no packet buffer ever crosses shards, so each is released on
// the shard that allocated it. A full ring drops the frame, counted
// (Stats.ForwardDrops); TCP recovers it like any loss.
//
// One Forwarder serves a group of shards; make it before the shards start
// and give it to every shard's Config.
type Forwarder struct {
	n        int
	low      uint16
	span     int
	rings    [][]*frameRing // rings[from][to]
	slotSize int
}

// NewForwarder makes the rings for n shards dialing from ports
// [low, high], with slots frames of up to slotSize bytes per ring.
func NewForwarder(n int, low, high uint16, slots, slotSize int) (*Forwarder, error) {
	if n < 1 || high < low || int(high-low)+1 < n {
		return nil, fmt.Errorf("%w: %d shards cannot share ports %d..%d", ErrConfig, n, low, high)
	}
	if slots < 1 || slots&(slots-1) != 0 || slotSize < wire.EthernetHeaderLen+wire.IPv4MinHeaderLen+wire.TCPMinHeaderLen {
		return nil, fmt.Errorf("%w: forwarder rings of %d slots × %d bytes", ErrConfig, slots, slotSize)
	}
	f := &Forwarder{n: n, low: low, span: (int(high-low) + 1) / n, slotSize: slotSize}
	f.rings = make([][]*frameRing, n)
	for from := range f.rings {
		f.rings[from] = make([]*frameRing, n)
		for to := range f.rings[from] {
			if from != to {
				f.rings[from][to] = newFrameRing(slots, slotSize)
			}
		}
	}
	return f, nil
}

// Ports returns shard id's slice of the ephemeral range.
func (f *Forwarder) Ports(id int) (low, high uint16) {
	lo := int(f.low) + id*f.span
	return uint16(lo), uint16(lo + f.span - 1)
}

// owner returns the shard that dials from port, or -1.
func (f *Forwarder) owner(port uint16) int {
	if port < f.low {
		return -1
	}
	o := int(port-f.low) / f.span
	if o >= f.n {
		return -1
	}
	return o
}

// steer returns the shard owning the TCP flow of an Ethernet frame sent
// to addr, or -1 when the frame is not a TCP segment to one of the dialing
// ports (those go to whichever shard received them).
func (f *Forwarder) steer(frame []byte, addr [4]byte) int {
	const ip = wire.EthernetHeaderLen
	if len(frame) < ip+wire.IPv4MinHeaderLen+4 ||
		binary.BigEndian.Uint16(frame[12:14]) != wire.EtherTypeIPv4 ||
		frame[ip+9] != wire.ProtoTCP ||
		[4]byte(frame[ip+16:ip+20]) != addr ||
		binary.BigEndian.Uint16(frame[ip+6:ip+8])&0x1fff != 0 { // not a first fragment: no ports
		return -1
	}
	ihl := int(frame[ip]&0x0f) * 4
	if ihl < wire.IPv4MinHeaderLen || len(frame) < ip+ihl+4 {
		return -1
	}
	return f.owner(binary.BigEndian.Uint16(frame[ip+ihl+2:]))
}

// frameRing is a bounded SPSC queue of frame copies. The producer copies a
// frame into the next free slot and then publishes it (tail); the consumer
// copies it out and only then frees the slot (head), so neither side ever
// touches a slot the other may be using.
type frameRing struct {
	head     atomic.Uint64 // next slot to consume; written by the consumer
	_        [56]byte
	tail     atomic.Uint64 // next slot to fill; written by the producer
	_        [56]byte
	mask     uint64
	slotSize int
	lens     []uint16
	slots    []byte
}

func newFrameRing(slots, slotSize int) *frameRing {
	return &frameRing{mask: uint64(slots - 1), slotSize: slotSize, lens: make([]uint16, slots), slots: make([]byte, slots*slotSize)}
}

// push copies b into the ring; false if the ring is full or b too large.
func (r *frameRing) push(b []byte) bool {
	t := r.tail.Load()
	if t-r.head.Load() > r.mask || len(b) > r.slotSize {
		return false
	}
	i := t & r.mask
	off := int(i) * r.slotSize
	r.lens[i] = uint16(copy(r.slots[off:off+r.slotSize], b))
	r.tail.Store(t + 1)
	return true
}

// peek returns the oldest frame (valid until advance), or false if the
// ring is empty.
func (r *frameRing) peek() ([]byte, bool) {
	h := r.head.Load()
	if h == r.tail.Load() {
		return nil, false
	}
	off := int(h&r.mask) * r.slotSize
	return r.slots[off : off+int(r.lens[h&r.mask])], true
}

// advance frees the slot peek returned.
func (r *frameRing) advance() { r.head.Store(r.head.Load() + 1) }

// empty reports whether the ring holds nothing (consumer side).
func (r *frameRing) empty() bool { return r.head.Load() == r.tail.Load() }
