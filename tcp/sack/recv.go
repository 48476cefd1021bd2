package sack

import "github.com/shardnet/shardnet/wire"

// MaxRecvBlocks is the number of SACK blocks a RecvBlocks remembers: as many
// as one SACK option can carry.
const MaxRecvBlocks = wire.MaxSACKBlocks

// RecvBlocks is the receiver's list of SACK blocks to advertise (RFC 2018
// §4), most recent first: the first block contains the most recently
// received out-of-order segment, and the others repeat the most recently
// reported blocks. With a pending D-SACK (RFC 2883), that block goes first,
// once.
//
// It remembers MaxRecvBlocks blocks; when a new one would make more, the
// least recently added is forgotten (RFC 2018 §4 allows a receiver to
// report only some of its out-of-order data). The zero value is empty; it
// never allocates. Owned by one connection; not safe for concurrent use.
type RecvBlocks struct {
	n        int
	b        [MaxRecvBlocks]wire.SACKBlock
	dsack    wire.SACKBlock
	hasDSACK bool
}

// Reset empties the list and drops a pending D-SACK.
func (r *RecvBlocks) Reset() { *r = RecvBlocks{} }

// Len is the number of blocks held (not counting a pending D-SACK).
func (r *RecvBlocks) Len() int { return r.n }

// touches reports whether [a.Start, a.End) and [b.Start, b.End) overlap or
// are adjacent, so that they merge into one block.
func touches(a, b wire.SACKBlock) bool {
	return a.Start.LessEq(b.End) && b.Start.LessEq(a.End)
}

// Add records that the bytes [start, end) just arrived out of order. The
// block becomes the first one, merged with every held block it overlaps or
// abuts. Best is to pass the whole contiguous run of the out-of-order queue
// that now holds the segment; passing just the segment also works, as it is
// merged with what is known. An empty or inverted range is ignored.
func (r *RecvBlocks) Add(start, end wire.Seq) {
	if !end.GreaterThan(start) {
		return
	}
	nb := wire.SACKBlock{Start: start, End: end}
	// Merge, keeping the others in order. A merge can make the new block
	// touch a block it did not touch before, so repeat until stable.
	for merged := true; merged; {
		merged = false
		k := 0
		for i := 0; i < r.n; i++ {
			if touches(nb, r.b[i]) {
				if r.b[i].Start.LessThan(nb.Start) {
					nb.Start = r.b[i].Start
				}
				if r.b[i].End.GreaterThan(nb.End) {
					nb.End = r.b[i].End
				}
				merged = true
				continue
			}
			r.b[k] = r.b[i]
			k++
		}
		r.n = k
	}
	if r.n == MaxRecvBlocks {
		r.n-- // forget the least recent
	}
	copy(r.b[1:r.n+1], r.b[:r.n])
	r.b[0] = nb
	r.n++
}

// Ack drops what the cumulative acknowledgment now covers: blocks ending at
// or below rcvNxt go, a block straddling it is trimmed to start there.
// Order is kept.
func (r *RecvBlocks) Ack(rcvNxt wire.Seq) {
	k := 0
	for i := 0; i < r.n; i++ {
		b := r.b[i]
		if b.End.LessEq(rcvNxt) {
			continue
		}
		if b.Start.LessThan(rcvNxt) {
			b.Start = rcvNxt
		}
		r.b[k] = b
		k++
	}
	r.n = k
}

// DSACK records a duplicate arrival of [start, end) to report once, as the
// first block of the next Fill (RFC 2883 §4). If the duplicate lies above
// the cumulative ACK inside held out-of-order data, the caller should also
// Add that data's run so that it follows as the second block. A later
// DSACK before the next Fill replaces an earlier one.
func (r *RecvBlocks) DSACK(start, end wire.Seq) {
	if !end.GreaterThan(start) {
		return
	}
	r.dsack = wire.SACKBlock{Start: start, End: end}
	r.hasDSACK = true
}

// Fill writes up to min(max, len(dst)) blocks to dst, a pending D-SACK
// first (and then forgets it), then the held blocks most recent first, and
// returns how many it wrote. Pass max = 3 when timestamps share the option
// space.
func (r *RecvBlocks) Fill(dst []wire.SACKBlock, max int) int {
	lim := min(max, len(dst))
	k := 0
	if r.hasDSACK && k < lim {
		dst[k] = r.dsack
		k++
		r.hasDSACK = false
	}
	for i := 0; i < r.n && k < lim; i++ {
		dst[k] = r.b[i]
		k++
	}
	return k
}
