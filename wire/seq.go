package wire

// Seq is a TCP sequence number: arithmetic modulo 2^32 with comparisons
// that stay right across the wrap (RFC 9293 §3.4, RFC 1982 serial-number
// style): a is before b when the signed 32-bit distance b-a is positive.
// The order is only meaningful for numbers less than 2^31 apart; at exactly
// 2^31 both a.LessThan(b) and b.LessThan(a) are true.
type Seq uint32

// Add is s advanced by n bytes (mod 2^32).
func (s Seq) Add(n uint32) Seq { return s + Seq(n) }

// Sub is the signed distance s-o: positive when s is after o.
func (s Seq) Sub(o Seq) int32 { return int32(s - o) }

// LessThan reports s < o.
func (s Seq) LessThan(o Seq) bool { return int32(s-o) < 0 }

// LessEq reports s <= o.
func (s Seq) LessEq(o Seq) bool { return int32(s-o) <= 0 }

// GreaterThan reports s > o.
func (s Seq) GreaterThan(o Seq) bool { return int32(s-o) > 0 }

// GreaterEq reports s >= o.
func (s Seq) GreaterEq(o Seq) bool { return int32(s-o) >= 0 }

// InWindow reports start <= s < start+size; an empty window holds nothing.
// size may be up to 2^32-1.
func (s Seq) InWindow(start Seq, size uint32) bool { return uint32(s-start) < size }

// InRange reports lo <= s < hi, walking forward from lo; lo == hi is empty.
func (s Seq) InRange(lo, hi Seq) bool { return uint32(s-lo) < uint32(hi-lo) }
