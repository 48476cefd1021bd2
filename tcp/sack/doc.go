// Package sack is TCP selective acknowledgment bookkeeping: the sender's
// scoreboard of RFC 6675 (which bytes the peer has SACKed, which are lost,
// how much is in the pipe, what to retransmit next) and the receiver's list
// of SACK blocks to advertise (RFC 2018 §4, with D-SACK of RFC 2883).
//
// Layer: a leaf under tcp. It imports only wire, for wire.Seq and
// wire.SACKBlock. The tcp engine owns one Scoreboard and one RecvBlocks per
// connection, normally by value inside the connection.
//
// Ownership: both types belong to one connection and so to one shard; they
// are used only from that shard's thread and are not safe for concurrent use.
// Neither keeps a reference to the caller's slices after a call returns.
//
// Bounds: both have a fixed capacity inside the struct (MaxRanges and
// MaxRecvBlocks). They never allocate and never grow; what they drop when
// full is documented at each type and counted.
//
// Sequence numbers: every comparison is modulo 2^32 (wire.Seq), relative to
// the cumulative ACK point, so the scoreboard works across the wrap. All
// ranges are half-open, [Start, End), as in a SACK option.
//
// Conventions for the RFC 6675 variables (the RFC names octets inclusively;
// this package passes exclusive ends, as SND.NXT does):
//
//	una      HighACK+1: SND.UNA, the first byte not cumulatively acknowledged
//	highData HighData+1: SND.MAX, one past the highest byte ever sent
//	highRxt  HighRxt+1: one past the highest byte retransmitted in this
//	         recovery episode; pass una when nothing was retransmitted yet
package sack
