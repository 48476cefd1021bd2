package fault

import (
	"math/bits"

	"github.com/shardnet/shardnet/buf"
)

// HeldLimit bounds the frames one direction holds for Delay and Reorder.
const HeldLimit = 256

// readyCap bounds the frames one direction has passed but not yet handed
// on (RX: not yet returned by RxBurst; TX: not yet taken by the inner
// queue). Frames held plus frames ready never exceed it.
const readyCap = 512

// rng is splitmix64 (Steele, Lea & Flood): one add and a 64-bit mix per
// draw, period 2^64, passes BigCrush. Plenty for fault decisions.
type rng struct{ s uint64 }

func newRNG(seed, stream uint64) rng {
	r := rng{s: seed ^ stream*0xd1b54a32d192ed03}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// below reports true with probability th / 2^53.
func (r *rng) below(th uint64) bool { return r.next()>>11 < th }

// intn returns a number in [0, n).
func (r *rng) intn(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

// threshold turns a probability into a bound for rng.below.
func threshold(p float64) uint64 { return uint64(p * (1 << 53)) }

// pktRing is a FIFO of packets with a power-of-two capacity.
type pktRing struct {
	s       []*buf.Packet
	head, n int
	mask    int
}

func newPktRing(size int) pktRing { return pktRing{s: make([]*buf.Packet, size), mask: size - 1} }

func (r *pktRing) len() int { return r.n }

func (r *pktRing) push(p *buf.Packet) {
	r.s[(r.head+r.n)&r.mask] = p
	r.n++
}

// front is the longest run of packets from the head that is contiguous in
// memory.
func (r *pktRing) front() []*buf.Packet {
	return r.s[r.head:min(r.head+r.n, len(r.s))]
}

// discard forgets the first k packets (their owner is someone else now).
func (r *pktRing) discard(k int) {
	for i := 0; i < k; i++ {
		r.s[(r.head+i)&r.mask] = nil
	}
	r.head = (r.head + k) & r.mask
	r.n -= k
}

// popInto moves packets from the head into dst and returns how many.
func (r *pktRing) popInto(dst []*buf.Packet) int {
	k := min(len(dst), r.n)
	for i := 0; i < k; i++ {
		j := (r.head + i) & r.mask
		dst[i] = r.s[j]
		r.s[j] = nil
	}
	r.head = (r.head + k) & r.mask
	r.n -= k
	return k
}

func (r *pktRing) releaseAll() {
	for r.n > 0 {
		r.s[r.head].Release()
		r.discard(1)
	}
}

// heldRing is a FIFO of held packets, each with the point (a time or a
// count of passed frames) at which it may go.
type heldRing struct {
	s       []held
	head, n int
}

type held struct {
	p  *buf.Packet
	at int64
}

func newHeldRing() heldRing { return heldRing{s: make([]held, HeldLimit)} }

func (r *heldRing) push(p *buf.Packet, at int64) {
	r.s[(r.head+r.n)%HeldLimit] = held{p, at}
	r.n++
}

func (r *heldRing) peekAt() int64 { return r.s[r.head].at }

func (r *heldRing) pop() *buf.Packet {
	h := &r.s[r.head]
	p := h.p
	*h = held{}
	r.head = (r.head + 1) % HeldLimit
	r.n--
	return p
}

// dir is the fault state of one direction.
type dir struct {
	f  Faults
	th struct{ drop, dup, reorder, corrupt, delay uint64 }

	rng     rng
	ready   pktRing
	reorder heldRing // at: the passed count at which the frame may go
	delay   heldRing // at: the time at which the frame may go
	passed  int64    // fresh frames passed straight through
	stats   DirStats
}

func newDir(f Faults, seed, stream uint64) dir {
	d := dir{
		rng:     newRNG(seed, stream),
		ready:   newPktRing(readyCap),
		reorder: newHeldRing(),
		delay:   newHeldRing(),
	}
	d.set(f)
	return d
}

func (d *dir) set(f Faults) {
	if f.ReorderGap == 0 {
		f.ReorderGap = 1
	}
	d.f = f
	d.th.drop = threshold(f.Drop)
	d.th.dup = threshold(f.Duplicate)
	d.th.reorder = threshold(f.Reorder)
	d.th.corrupt = threshold(f.Corrupt)
	d.th.delay = threshold(f.Delay)
	if d.th.reorder == 0 {
		for d.reorder.n > 0 {
			d.ready.push(d.reorder.pop())
		}
	}
}

func (d *dir) held() int { return d.reorder.n + d.delay.n }

// needClock reports whether process or releaseDue will use the time.
func (d *dir) needClock() bool { return d.th.delay != 0 || d.delay.n > 0 }

// room reports how many more frames process may take: each can add two
// (itself and a duplicate) to ready plus held.
func (d *dir) room() int { return (readyCap - d.ready.n - d.held()) / 2 }

// process applies the faults to one frame, which it owns from now on.
func (d *dir) process(p *buf.Packet, now int64) {
	if d.th.drop != 0 && d.rng.below(d.th.drop) {
		d.stats.Dropped++
		p.Release()
		return
	}
	var dup *buf.Packet
	if d.th.dup != 0 && d.rng.below(d.th.dup) {
		if dup = p.Clone(); dup == nil {
			d.stats.DupNoBuf++
		} else {
			d.stats.Duplicated++
		}
	}
	if d.th.corrupt != 0 && d.rng.below(d.th.corrupt) {
		if flipBit(p.Data(), &d.rng) {
			// The flip models damage on the wire, before any NIC
			// checksum check: the stack must verify this frame itself.
			p.Meta.CsumVerified = false
			d.stats.Corrupted++
		} else {
			d.stats.CorruptSkipped++
		}
	}
	switch {
	case d.th.delay != 0 && d.rng.below(d.th.delay):
		if d.held() < HeldLimit {
			d.delay.push(p, now+d.f.DelayBy)
			d.stats.Delayed++
			p = nil
		} else {
			d.stats.HeldFull++
		}
	case d.th.reorder != 0 && d.rng.below(d.th.reorder):
		if d.held() < HeldLimit {
			d.reorder.push(p, d.passed+int64(d.f.ReorderGap))
			d.stats.Reordered++
			p = nil
		} else {
			d.stats.HeldFull++
		}
	}
	if p != nil {
		d.ready.push(p)
	}
	if dup != nil {
		d.ready.push(dup)
	}
	if p != nil {
		// A fresh frame passed: frames held for reordering may now go
		// after it (a duplicate does not count as a later frame).
		d.passed++
		for d.reorder.n > 0 && d.reorder.peekAt() <= d.passed {
			d.ready.push(d.reorder.pop())
		}
	}
}

// releaseDue moves delayed frames whose time has come to ready.
func (d *dir) releaseDue(now int64) {
	for d.delay.n > 0 && d.delay.peekAt() <= now {
		d.ready.push(d.delay.pop())
	}
}

// releaseAll gives every frame the direction holds back to its slab.
func (d *dir) releaseAll() {
	d.ready.releaseAll()
	for d.reorder.n > 0 {
		d.reorder.pop().Release()
	}
	for d.delay.n > 0 {
		d.delay.pop().Release()
	}
}

// flipBit flips one random bit of an IPv4 frame d between the end of the
// Ethernet header and the end of the IPv4 packet. It reports false, changing
// nothing, for any other frame.
func flipBit(d []byte, r *rng) bool {
	const eth = 14
	if len(d) < eth+20 || d[12] != 0x08 || d[13] != 0x00 {
		return false
	}
	end := len(d)
	if tl := int(d[eth+2])<<8 | int(d[eth+3]); tl >= 20 && eth+tl < end {
		end = eth + tl
	}
	b := r.intn(uint64(end-eth) * 8)
	d[eth+int(b>>3)] ^= 1 << (b & 7)
	return true
}
