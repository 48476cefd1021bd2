package sack

import (
	"iter"

	"github.com/shardnet/shardnet/wire"
)

// MaxRanges is the number of disjoint SACKed ranges a Scoreboard holds.
const MaxRanges = 64

// DupThresh is the RFC 6675 §2 duplicate threshold used by IsLost.
const DupThresh = 3

// SegKind says which RFC 6675 NextSeg rule chose a segment.
type SegKind uint8

// NextSeg's answers. Rule (2), new data, is the caller's (see NextSeg).
const (
	SegNone     SegKind = iota // nothing to retransmit (rule 5)
	SegLost                    // rule (1): the first lost unSACKed bytes above HighRxt
	SegUnsacked                // rule (3): unSACKed bytes above HighRxt, not yet deemed lost
	SegRescue                  // rule (4): the rescue retransmission of the highest unSACKed bytes
)

// String names the kind, for logs and test output.
func (k SegKind) String() string {
	switch k {
	case SegNone:
		return "none"
	case SegLost:
		return "lost"
	case SegUnsacked:
		return "unsacked"
	case SegRescue:
		return "rescue"
	}
	return "SegKind(?)"
}

// Stats counts what Update saw. The counters only grow (Reset clears them).
type Stats struct {
	Blocks   uint64 // SACK blocks passed to Update
	DSACK    uint64 // first blocks taken as D-SACK (RFC 2883)
	Stale    uint64 // blocks wholly at or below una (not D-SACK): ignored
	Invalid  uint64 // empty or inverted blocks, or blocks ending beyond nxt: ignored
	Overflow uint64 // ranges forgotten because MaxRanges was reached
}

// Scoreboard is the RFC 6675 sender-side record of SACKed data: up to
// MaxRanges disjoint, non-adjacent ranges above the cumulative ACK point,
// sorted, in a fixed array inside the struct. The zero value is an empty
// scoreboard. It never allocates.
//
// Overflow: when a new range would make MaxRanges+1, the lowest range (the
// one nearest una) is forgotten and Stats.Overflow counted. Forgetting
// SACKed bytes is always safe: they look unSACKed, so at worst they are
// retransmitted needlessly; a hole is never taken for SACKed data. The
// highest ranges are kept because loss detection (IsLost) and HighSacked
// depend on them, and because the receiver repeats its most recent (usually
// highest) blocks while older ones are not sent again.
//
// Owned by one connection; not safe for concurrent use.
type Scoreboard struct {
	una    wire.Seq // the cumulative ACK point the ranges are above
	n      int
	sacked uint32 // bytes in r[:n]
	r      [MaxRanges + 1]wire.SACKBlock

	dsack    wire.SACKBlock // the D-SACK block of the last Update
	hasDSACK bool
	stats    Stats
}

// Reset forgets all SACK information and clears the counters (for example
// after an RTO, RFC 6675 §5.1, or on reuse for a new connection).
func (s *Scoreboard) Reset() { *s = Scoreboard{} }

// rel is the signed distance of q from base.
func rel(base, q wire.Seq) int64 { return int64(int32(q - base)) }

// Update applies one ACK: una is SND.UNA after this ACK's cumulative
// acknowledgment (the ACK's own acknowledgment number; an ACK older than
// SND.UNA should not be passed), nxt is SND.MAX, blocks are the ACK's SACK
// blocks in option order. It returns the number of bytes that became SACKed.
//
// Call it for every ACK that advances SND.UNA, with no blocks if it carried
// none, so that the scoreboard drops what is acknowledged: ranges left far
// below una become ambiguous once the sequence space moves on by 2^31.
//
//   - Everything below una is dropped (cumulatively acknowledged); a range
//     straddling una is trimmed to start at una.
//   - The first block is a D-SACK (RFC 2883 §4) if it starts below una or
//     lies within the second block; it is not added (the second block, if
//     any, is), and DSACK reports it until the next Update.
//   - Other blocks must satisfy Start < End <= nxt (RFC 2018, RFC 6675 §2);
//     others are counted as Invalid and ignored. Blocks ending at or below
//     una are counted as Stale and ignored; a block starting below una is
//     trimmed to una.
//   - Valid blocks are merged with overlapping or adjacent ranges.
func (s *Scoreboard) Update(una, nxt wire.Seq, blocks []wire.SACKBlock) (newlySacked uint32) {
	s.advance(una)
	s.hasDSACK = false
	window := rel(una, nxt)
	before := s.sacked
	for i := range blocks {
		b := blocks[i]
		s.stats.Blocks++
		if i == 0 && s.isDSACK(una, nxt, blocks) {
			s.dsack, s.hasDSACK = b, true
			s.stats.DSACK++
			continue
		}
		if rel(b.Start, b.End) <= 0 {
			s.stats.Invalid++
			continue
		}
		lo, hi := rel(una, b.Start), rel(una, b.End)
		switch {
		case hi <= 0:
			s.stats.Stale++
		case hi > window:
			s.stats.Invalid++
		default:
			s.insert(max(lo, 0), hi)
		}
	}
	return s.sacked - before
}

// isDSACK applies RFC 2883 §4 to the first block: it reports data below the
// cumulative ACK, or it lies within the second block. A D-SACK must still be
// a proper block and end no later than nxt.
func (s *Scoreboard) isDSACK(una, nxt wire.Seq, blocks []wire.SACKBlock) bool {
	b := blocks[0]
	if rel(b.Start, b.End) <= 0 || rel(nxt, b.End) > 0 {
		return false
	}
	if rel(una, b.Start) < 0 {
		return true
	}
	if len(blocks) > 1 {
		c := blocks[1]
		return rel(c.Start, b.Start) >= 0 && rel(b.End, c.End) >= 0 && rel(c.Start, c.End) > 0
	}
	return false
}

// advance moves the cumulative ACK point to una, dropping and trimming the
// ranges below it. A una behind the current one (a stale ACK) changes
// nothing but the base.
func (s *Scoreboard) advance(una wire.Seq) {
	d := rel(s.una, una)
	s.una = una
	if d <= 0 || s.n == 0 {
		return
	}
	i := 0
	for i < s.n && rel(una, s.r[i].End) <= 0 {
		s.sacked -= uint32(s.r[i].End - s.r[i].Start)
		i++
	}
	if i > 0 {
		copy(s.r[:], s.r[i:s.n])
		s.n -= i
	}
	if s.n > 0 && rel(una, s.r[0].Start) < 0 {
		s.sacked -= uint32(una - s.r[0].Start)
		s.r[0].Start = una
	}
}

// insert adds the range [una+lo, una+hi), 0 <= lo < hi, merging.
func (s *Scoreboard) insert(lo, hi int64) {
	// Ranges i..j-1 overlap or touch [lo, hi).
	i := 0
	for i < s.n && rel(s.una, s.r[i].End) < lo {
		i++
	}
	j := i
	for j < s.n && rel(s.una, s.r[j].Start) <= hi {
		j++
	}
	if i < j {
		lo = min(lo, rel(s.una, s.r[i].Start))
		hi = max(hi, rel(s.una, s.r[j-1].End))
		for k := i; k < j; k++ {
			s.sacked -= uint32(s.r[k].End - s.r[k].Start)
		}
	}
	nr := wire.SACKBlock{Start: s.una.Add(uint32(lo)), End: s.una.Add(uint32(hi))}
	switch {
	case j-i == 1:
		s.r[i] = nr
	case j-i > 1:
		s.r[i] = nr
		copy(s.r[i+1:], s.r[j:s.n])
		s.n -= j - i - 1
	default: // i == j: a new range at i
		copy(s.r[i+1:s.n+1], s.r[i:s.n])
		s.r[i] = nr
		s.n++
	}
	s.sacked += uint32(hi - lo)
	if s.n > MaxRanges {
		s.sacked -= uint32(s.r[0].End - s.r[0].Start)
		copy(s.r[:], s.r[1:s.n])
		s.n--
		s.stats.Overflow++
	}
}

// IsSacked reports whether the byte at seq is SACKed. Bytes below the
// cumulative ACK point are acknowledged, not SACKed: false.
func (s *Scoreboard) IsSacked(seq wire.Seq) bool {
	o := rel(s.una, seq)
	if o < 0 {
		return false
	}
	for i := 0; i < s.n; i++ {
		if o < rel(s.una, s.r[i].End) {
			return o >= rel(s.una, s.r[i].Start)
		}
	}
	return false
}

// SackedBytes is the number of bytes SACKed above the cumulative ACK point.
func (s *Scoreboard) SackedBytes() uint32 { return s.sacked }

// HighSacked is one past the highest SACKed byte (the End of the highest
// range), and false when nothing is SACKed.
func (s *Scoreboard) HighSacked() (wire.Seq, bool) {
	if s.n == 0 {
		return 0, false
	}
	return s.r[s.n-1].End, true
}

// Len is the number of disjoint SACKed ranges.
func (s *Scoreboard) Len() int { return s.n }

// Block is range i, 0 <= i < Len(), in ascending order.
func (s *Scoreboard) Block(i int) wire.SACKBlock { return s.r[i] }

// Blocks iterates over the SACKed ranges in ascending order. The scoreboard
// must not be changed during the iteration.
func (s *Scoreboard) Blocks() iter.Seq[wire.SACKBlock] {
	return func(yield func(wire.SACKBlock) bool) {
		for i := 0; i < s.n; i++ {
			if !yield(s.r[i]) {
				return
			}
		}
	}
}

// DSACK is the D-SACK block (RFC 2883) of the most recent Update, if it had
// one: data the receiver got twice, for spurious-retransmission detection
// (RFC 3708) by the engine.
func (s *Scoreboard) DSACK() (wire.SACKBlock, bool) { return s.dsack, s.hasDSACK }

// Stats returns the counters.
func (s *Scoreboard) Stats() Stats { return s.stats }

// lost is the RFC 6675 §4 IsLost rule given what is SACKed above a byte:
// DupThresh discontiguous SACKed ranges, or more than (DupThresh-1)*SMSS
// SACKed bytes.
func lost(ranges int, bytes int64, mss uint32) bool {
	return ranges >= DupThresh || bytes > int64(DupThresh-1)*int64(mss)
}

// IsLost is RFC 6675 §4 IsLost(seq) with DupThresh = 3: true when either
// DupThresh discontiguous SACKed ranges lie (at least partly) above seq, or
// more than (DupThresh-1)*mss SACKed bytes have sequence numbers greater
// than seq. Exactly 2*mss bytes above is not enough; 2*mss+1 is.
func (s *Scoreboard) IsLost(seq wire.Seq, mss uint32) bool {
	o := rel(s.una, seq)
	ranges, bytes := 0, int64(0)
	for i := s.n - 1; i >= 0; i-- {
		hi := rel(s.una, s.r[i].End)
		if hi <= o+1 {
			break
		}
		ranges++
		bytes += hi - max(rel(s.una, s.r[i].Start), o+1)
	}
	return lost(ranges, bytes, mss)
}

// Pipe is RFC 6675 §4 SetPipe, octet-based: the bytes from una up to
// highData that are not SACKed count once if IsLost is false for them (the
// original may still be in flight) and once more if they were retransmitted
// (below highRxt). Like NextSeg, it first drops the ranges below una if una
// is ahead of the last Update. Within a hole between two SACKed ranges IsLost is the same
// for every byte, so Pipe costs O(Len()), not O(bytes).
func (s *Scoreboard) Pipe(una, highData, highRxt wire.Seq, mss uint32) uint32 {
	if rel(s.una, una) > 0 {
		s.advance(una)
	}
	hd := rel(una, highData)
	if hd <= 0 {
		return 0
	}
	hr := min(max(rel(una, highRxt), 0), hd)
	var pipe int64
	ranges, bytes := 0, int64(0)
	top := hd // the hole below r[i+1]; for the last range, up to highData
	for i := s.n - 1; i >= -1; i-- {
		holeLo := int64(0)
		if i >= 0 {
			holeLo = max(rel(una, s.r[i].End), 0)
		}
		if holeHi := min(top, hd); holeHi > holeLo {
			if !lost(ranges, bytes, mss) {
				pipe += holeHi - holeLo
			}
			if hr > holeLo {
				pipe += min(holeHi, hr) - holeLo
			}
		}
		if i < 0 {
			break
		}
		lo, hi := rel(una, s.r[i].Start), rel(una, s.r[i].End)
		if hi <= 0 {
			break // this and lower ranges are below una
		}
		ranges++
		bytes += hi - max(lo, 0)
		top = max(lo, 0)
	}
	return uint32(pipe)
}

// NextSeg is RFC 6675 §4 NextSeg: what to retransmit next during loss
// recovery, as at most mss bytes starting at start; it never covers SACKed
// bytes (a segment ends at the end of its hole).
//
//	(1) SegLost: the first unSACKed byte S2 at or above highRxt and below
//	    the highest SACKed byte for which IsLost(S2) holds;
//	(3) SegUnsacked: the same first unSACKed byte when IsLost is false for
//	    it (IsLost holds for a byte whenever it holds for a later one, so
//	    rule 1 has found nothing);
//	(4) SegRescue, only if rescueOK (the caller's "HighACK > RescueRxt or
//	    RescueRxt undefined"): the last up to mss bytes of the highest
//	    unSACKed run below highData. The caller then sets RescueRxt to the
//	    recovery point and must not advance HighRxt.
//
// Rule (2), sending new data, is the caller's: it alone knows whether there
// is unsent data and the peer's window allows it. RFC 6675 puts rule 2
// before rules 3 and 4, so a caller with new data to send should send it
// when the kind is not SegLost, and retransmit only otherwise. ok is false
// (SegNone) when no rule applies.
func (s *Scoreboard) NextSeg(una, highData, highRxt wire.Seq, mss uint32, rescueOK bool) (start wire.Seq, n uint32, kind SegKind, ok bool) {
	if rel(s.una, una) > 0 {
		s.advance(una)
	}
	hd := rel(una, highData)
	if hd <= 0 || mss == 0 {
		return 0, 0, SegNone, false
	}
	hr := min(max(rel(una, highRxt), 0), hd)

	// Rules 1 and 3: walk the holes below the highest SACKed range.
	holeLo := int64(0)
	for i := 0; i < s.n; i++ {
		lo, hi := rel(una, s.r[i].Start), rel(una, s.r[i].End)
		if hi <= 0 {
			continue
		}
		holeHi := min(lo, hd)
		if holeHi > hr && holeHi > holeLo {
			s2 := max(holeLo, hr)
			// IsLost(s2): everything SACKed from range i up.
			ranges, bytes := 0, int64(0)
			for k := i; k < s.n; k++ {
				ranges++
				bytes += rel(una, s.r[k].End) - max(rel(una, s.r[k].Start), 0)
			}
			n := uint32(min(holeHi-s2, int64(mss)))
			if lost(ranges, bytes, mss) {
				return una.Add(uint32(s2)), n, SegLost, true
			}
			return una.Add(uint32(s2)), n, SegUnsacked, true
		}
		holeLo = max(hi, 0)
	}

	// Rule 4: one segment ending at the highest unSACKed byte.
	if !rescueOK {
		return 0, 0, SegNone, false
	}
	top, floor := hd, int64(0)
	if s.n > 0 {
		last := s.r[s.n-1]
		if e := rel(una, last.End); e < hd {
			floor = max(e, 0)
		} else {
			top = max(rel(una, last.Start), 0)
			if s.n > 1 {
				floor = max(rel(una, s.r[s.n-2].End), 0)
			}
		}
	}
	if top <= floor {
		return 0, 0, SegNone, false
	}
	lo := max(floor, top-int64(mss))
	return una.Add(uint32(lo)), uint32(top - lo), SegRescue, true
}
