package reactor

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/wire"
)

// Forwarder steers TCP segments that arrived on the wrong shard's queue to
// the shard that owns their flow. Two cases need it:
//
//   - Active opens. Where the NIC's hash cannot be predicted (TAP, veth),
//     each shard dials from its own slice of the ephemeral port range, so
//     the owner of a segment to an ephemeral port is known from the port
//     alone and the segment goes straight there.
//
//   - Passive flows that move. The queue that got the SYN normally gets the
//     rest of the flow, but a veth peer (and TAP's kernel side) may pick a
//     new TX queue for a connection — Linux draws a new hash after an RTO or
//     a spurious retransmission (net.core.txrehash) — and the flow then
//     lands on another shard. A shard that receives a TCP segment which
//     matches none of its flows and is not to one of its own dialing ports
//     asks the other shards in turn, without shared state: it passes the
//     frame to the next shard with a hop count; a shard that has the flow
//     processes it, one that does not passes it on; once every other shard
//     has said no, the frame goes back to the shard that first received
//     it, which processes it as its TCP normally would (a new connection
//     from a SYN, a SYN-cookie ACK — valid only there — or a RST). A frame
//     visits at most n shards.
//
//     SYNs are asked about too: a SYN retransmitted after an RTO comes with
//     a new hash, and the shard it lands on must not open a second
//     connection beside the one another shard holds in SYN-RECEIVED (the
//     peer would take one shard's SYN-ACK and the other shard would reset
//     its ACK). A SYN costs n ring hops before it is answered; when a ring
//     is full (a SYN flood) the SYN is answered by the shard holding it
//     instead, so SYN cookies keep working. Other frames that find a ring
//     full are dropped, counted.
//
// A forwarded frame is copied into a per-pair single-producer,
// single-consumer ring of frame slots, and the shard that processes it
// copies it into its own slab: no packet buffer ever crosses shards, so
// each is released on the shard that allocated it. A full ring drops the
// frame, counted (Stats.FwdDrops); TCP recovers it like any loss.
//
// One Forwarder serves a group of shards; make it before the shards start
// and give it to every shard's Config. Ring r[from][to] is written only by
// shard from's thread and read only by shard to's.
type Forwarder struct {
	n        int
	low      uint16
	span     int
	rings    [][]*frameRing // rings[from][to]
	slots    int
	slotSize int
}

// Defaults for NewForwarder's zero arguments.
const (
	// DefaultEphemeralLow and DefaultEphemeralHigh are Linux's default
	// ephemeral port range (net.ipv4.ip_local_port_range), shared out
	// among the shards.
	DefaultEphemeralLow  = 32768
	DefaultEphemeralHigh = 60999
	// DefaultForwardInbound is how many frames the rings into one shard
	// hold together by default: two full AF_XDP RX rings (2 × 2048), i.e.
	// 128 RX bursts of 32. A shard can find a whole RX ring of
	// mis-steered frames (a veth peer that moved its flows) and pass them
	// on faster than their owner, which runs TCP on them, takes them in.
	// They are split over the n−1 rings into a shard: each gets
	// DefaultForwardInbound/(n−1) slots, rounded up to a power of two and
	// at least MinForwardSlots.
	DefaultForwardInbound = 4096
	// MinForwardSlots is the least a default ring holds: 16 RX bursts.
	MinForwardSlots = 512
	// DefaultForwardSlotSize is the largest frame a default ring slot
	// holds: one slab frame.
	DefaultForwardSlotSize = buf.DefaultFrameSize
)

// DefaultForwardSlots is the ring size NewForwarder picks for n shards
// when slots is 0 (see DefaultForwardInbound). Each of the n·(n−1) rings
// takes slots × DefaultForwardSlotSize bytes: 8 MiB each for 2 shards,
// 4 MiB for 3–4, 2 MiB for 5–8.
func DefaultForwardSlots(n int) int {
	if n < 2 {
		return MinForwardSlots
	}
	s := MinForwardSlots
	for s < (DefaultForwardInbound+n-2)/(n-1) {
		s <<= 1
	}
	return s
}

// NewForwarder makes the rings for n shards dialing from ports
// [low, high], with slots frames of up to slotSize bytes per ring. Zero
// values mean the defaults: low = high = 0 the range
// DefaultEphemeralLow..DefaultEphemeralHigh, slots = 0
// DefaultForwardSlots(n), slotSize = 0 DefaultForwardSlotSize.
func NewForwarder(n int, low, high uint16, slots, slotSize int) (*Forwarder, error) {
	if low == 0 && high == 0 {
		low, high = DefaultEphemeralLow, DefaultEphemeralHigh
	}
	if slots == 0 {
		slots = DefaultForwardSlots(n)
	}
	if slotSize == 0 {
		slotSize = DefaultForwardSlotSize
	}
	if n < 1 || n > 255 || high < low || int(high-low)+1 < n {
		return nil, fmt.Errorf("%w: %d shards cannot share ports %d..%d", ErrConfig, n, low, high)
	}
	if slots < 1 || slots&(slots-1) != 0 || slotSize < wire.EthernetHeaderLen+wire.IPv4MinHeaderLen+wire.TCPMinHeaderLen || slotSize > 1<<16-1 {
		return nil, fmt.Errorf("%w: forwarder rings of %d slots × %d bytes (slots a power of two; slots of 54..65535 bytes)", ErrConfig, slots, slotSize)
	}
	f := &Forwarder{n: n, low: low, span: (int(high-low) + 1) / n, slots: slots, slotSize: slotSize}
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

// Slots returns the frames each ring holds.
func (f *Forwarder) Slots() int { return f.slots }

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

// tcpKey is what the forwarder reads of a TCP segment: its flow, seen
// from our side, and its flags.
type tcpKey struct {
	src          [4]byte
	sport, dport uint16
	flags        wire.TCPFlags
}

// parseTCP reads the flow key of an Ethernet frame holding a TCP segment
// sent to addr. It is false for anything else, including IPv4 fragments
// after the first (they carry no ports) and frames too short to hold the
// TCP flags; those are processed by whichever shard received them.
func parseTCP(frame []byte, addr [4]byte) (k tcpKey, ok bool) {
	const ip = wire.EthernetHeaderLen
	if len(frame) < ip+wire.IPv4MinHeaderLen+14 ||
		binary.BigEndian.Uint16(frame[12:14]) != wire.EtherTypeIPv4 ||
		frame[ip+9] != wire.ProtoTCP ||
		[4]byte(frame[ip+16:ip+20]) != addr ||
		binary.BigEndian.Uint16(frame[ip+6:ip+8])&0x1fff != 0 {
		return k, false
	}
	ihl := int(frame[ip]&0x0f) * 4
	t := ip + ihl
	if ihl < wire.IPv4MinHeaderLen || len(frame) < t+14 {
		return k, false
	}
	k.src = [4]byte(frame[ip+12 : ip+16])
	k.sport = binary.BigEndian.Uint16(frame[t:])
	k.dport = binary.BigEndian.Uint16(frame[t+2:])
	k.flags = wire.TCPFlags(frame[t+13])
	return k, true
}

// steer returns the shard owning the TCP flow of an Ethernet frame sent
// to addr by its port alone, or -1 when the frame is not a TCP segment to
// one of the dialing ports.
func (f *Forwarder) steer(frame []byte, addr [4]byte) int {
	k, ok := parseTCP(frame, addr)
	if !ok {
		return -1
	}
	return f.owner(k.dport)
}

// flowOwner is what the forwarder asks of a shard's TCP (*tcp.Stack).
type flowOwner interface {
	HasFlow(raddr [4]byte, rport, lport uint16) bool
}

// Hop marks carried with a forwarded frame. hopDeliver: process it (it
// was steered by port, or it comes back to the shard that first received
// it). 1..n−1: a query — that many shards, the receiver included, have
// been asked for the segment's flow; the first receiver is the receiver's
// ID minus the mark (mod n).
const hopDeliver uint8 = 0

// route decides where shard self processes a frame it received from its
// queue: to < 0 here, else on shard to, the frame carrying mark hops.
func (f *Forwarder) route(frame []byte, addr [4]byte, self int, tcp flowOwner) (to int, hops uint8) {
	k, ok := parseTCP(frame, addr)
	if !ok {
		return -1, 0
	}
	if o := f.owner(k.dport); o >= 0 {
		if o == self {
			return -1, 0
		}
		return o, hopDeliver
	}
	if f.n < 2 || tcp.HasFlow(k.src, k.sport, k.dport) {
		return -1, 0
	}
	return (self + 1) % f.n, 1
}

// pureSYN reports whether frame is a TCP segment to addr with SYN and
// without ACK: one a shard answers itself when it cannot ask the others.
func pureSYN(frame []byte, addr [4]byte) bool {
	k, ok := parseTCP(frame, addr)
	return ok && k.flags&(wire.TCPFlagSYN|wire.TCPFlagACK) == wire.TCPFlagSYN
}

// relay decides what shard self does with a frame taken from a ring with
// mark hops: to < 0 process it here; else pass it to shard to with mark
// next (hopDeliver: back to the shard that first received it, which
// answers it).
func (f *Forwarder) relay(frame []byte, addr [4]byte, self int, hops uint8, tcp flowOwner) (to int, next uint8) {
	if hops == hopDeliver {
		return -1, 0
	}
	k, ok := parseTCP(frame, addr)
	if !ok || tcp.HasFlow(k.src, k.sport, k.dport) {
		return -1, 0
	}
	if int(hops) < f.n-1 {
		return (self + 1) % f.n, hops + 1
	}
	return (self - int(hops) + f.n) % f.n, hopDeliver
}

// frameRing is a bounded SPSC queue of frame copies, each with a hop
// mark. The producer copies a frame into the next free slot and then
// publishes it (tail); the consumer copies it out and only then frees the
// slot (head), so neither side ever touches a slot the other may be using.
type frameRing struct {
	head     atomic.Uint64 // next slot to consume; written by the consumer
	_        [56]byte
	tail     atomic.Uint64 // next slot to fill; written by the producer
	_        [56]byte
	mask     uint64
	slotSize int
	lens     []uint16
	hops     []uint8
	slots    []byte
}

func newFrameRing(slots, slotSize int) *frameRing {
	return &frameRing{mask: uint64(slots - 1), slotSize: slotSize, lens: make([]uint16, slots),
		hops: make([]uint8, slots), slots: make([]byte, slots*slotSize)}
}

// push copies b into the ring with mark hops; false if the ring is full
// or b too large.
func (r *frameRing) push(b []byte, hops uint8) bool {
	t := r.tail.Load()
	if t-r.head.Load() > r.mask || len(b) > r.slotSize {
		return false
	}
	i := t & r.mask
	off := int(i) * r.slotSize
	r.lens[i] = uint16(copy(r.slots[off:off+r.slotSize], b))
	r.hops[i] = hops
	r.tail.Store(t + 1)
	return true
}

// peek returns the oldest frame (valid until advance) and its mark, or
// false if the ring is empty.
func (r *frameRing) peek() ([]byte, uint8, bool) {
	h := r.head.Load()
	if h == r.tail.Load() {
		return nil, 0, false
	}
	i := h & r.mask
	off := int(i) * r.slotSize
	return r.slots[off : off+int(r.lens[i])], r.hops[i], true
}

// advance frees the slot peek returned.
func (r *frameRing) advance() { r.head.Store(r.head.Load() + 1) }

// empty reports whether the ring holds nothing (consumer side).
func (r *frameRing) empty() bool { return r.head.Load() == r.tail.Load() }
