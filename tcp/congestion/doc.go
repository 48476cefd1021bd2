// Package congestion is TCP congestion control for shardnet: the sender's
// congestion window (cwnd) and slow-start threshold (ssthresh), behind one
// interface, Controller, with two implementations: NewReno (RFC 5681 with
// the window rules of RFC 6582) and CUBIC (RFC 9438).
//
// Layer: a leaf under tcp. It imports nothing from shardnet; the tcp engine
// owns one Controller per connection and calls it from the ACK path.
//
// Ownership: a Controller belongs to the connection that created it and so
// to that connection's shard; it is used only from the shard's thread and is
// not safe for concurrent use. It holds no pointers into packets and keeps
// nothing after a call returns but its own scalar state.
//
// Time: every method that advances state takes now, int64 nanoseconds on
// the shard's monotonic clock (the reactor reads it once per loop
// iteration). Tests drive it by hand; nothing here reads a clock.
//
// Units: windows are in bytes. The RFCs count CUBIC's window in segments;
// Cubic converts with the current MSS and says so at each formula.
//
// Division of labour with the tcp engine. The controller owns cwnd and
// ssthresh and nothing else. The engine decides what is an ACK of new data,
// detects loss (three duplicate ACKs or the RFC 6675 IsLost rule, see
// tcp/sack), keeps the recovery point and the partial-ACK logic of RFC 6582,
// computes pipe, and tells the controller about events:
//
//	OnAck              new data cumulatively (or newly SACKed) acknowledged
//	                   outside fast recovery
//	OnCongestionEvent  entering fast recovery
//	OnRecoveryExit     an ACK covered the recovery point
//	OnRTO              the retransmission timer expired
//	OnIdle             sending resumes after nothing was in flight
//
// The controller never inflates cwnd during recovery (RFC 5681 §3.2 steps
// 3-5): with RFC 6675 the engine sends while pipe < cwnd, and a NewReno
// engine without SACK keeps its own inflation on top of Cwnd().
//
// Application-limited senders (RFC 7661 spirit). OnAck does not grow cwnd
// when the sender was not using its window: the rule is that the ACK is
// ignored for growth when 2*flight < cwnd, flight being the bytes in flight
// just before the ACK. In slow start a cwnd-limited sender has flight close
// to cwnd, so the rule only stops growth that the sender never used. CUBIC
// also stops its epoch clock over such ACKs and over idle periods (RFC 9438
// §5.8), so the cubic curve does not run ahead while the window is unused.
//
// Zero allocation: every method but New and Names is allocation-free, and
// the concrete types are usable by value (embed a NewReno or Cubic in the
// connection to avoid even the one allocation of New).
package congestion
