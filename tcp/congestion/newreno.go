package congestion

// NewReno is the congestion window of RFC 5681 with the window rules of RFC
// 6582: slow start with RFC 3465 byte counting (L = 2), congestion avoidance
// of one MSS per window of acknowledged bytes, halving on a congestion event
// and the one-MSS loss window on RTO. The partial-ACK and recovery-point
// logic of RFC 6582 lives in the tcp engine.
//
// The zero value is ready after Init; a NewReno is owned by one connection
// and used from its shard only.
type NewReno struct {
	window
}

var _ Controller = (*NewReno)(nil)

// Name is "newreno".
func (r *NewReno) Name() string { return "newreno" }

// Init resets r for a new connection with the given MSS.
func (r *NewReno) Init(mss uint32, now int64) { r.window.init(mss) }

// SetMSS changes the MSS (see Controller).
func (r *NewReno) SetMSS(mss uint32) { r.window.setMSS(mss) }

// OnAck grows cwnd for acked newly acknowledged bytes:
//   - slow start (cwnd < ssthresh), RFC 5681 §3.1 with RFC 3465 §2.2:
//     cwnd += min(acked, 2*SMSS);
//   - congestion avoidance, RFC 5681 §3.1 byte counting (RFC 3465 §2.1):
//     bytes_acked += acked, and when bytes_acked >= cwnd, bytes_acked -=
//     cwnd and cwnd += SMSS: about one SMSS per RTT, at most one per ACK.
//
// Bytes that carry cwnd across ssthresh count toward congestion avoidance.
// An application-limited ACK (2*flight < cwnd) does not grow cwnd.
func (r *NewReno) OnAck(acked uint32, rtt int64, flight uint32, now int64) {
	if acked == 0 {
		return
	}
	r.rtoHeld = false
	r.fresh = false
	if r.appLimited(flight) {
		return
	}
	if r.cwnd < r.ssthresh {
		if acked = r.slowStart(acked); acked == 0 {
			return
		}
	}
	r.congestionAvoidance(acked)
}

func (r *NewReno) congestionAvoidance(acked uint32) {
	sum := uint64(r.caAcked) + uint64(acked)
	if sum >= uint64(r.cwnd) {
		sum -= uint64(r.cwnd)
		r.cwnd = min(r.cwnd+r.mss, MaxCwnd)
	}
	// Carry the remainder, but less than a window, so that one ACK never
	// grows cwnd by more than one SMSS.
	r.caAcked = uint32(min(sum, uint64(r.cwnd)-1))
}

// OnCongestionEvent enters fast recovery: ssthresh = max(FlightSize/2,
// 2*SMSS) (RFC 5681 equation 4), cwnd = ssthresh (RFC 6582 §3.2 step 3
// without the 3*SMSS inflation, which belongs to the engine if it wants it).
func (r *NewReno) OnCongestionEvent(flight uint32, now int64) {
	r.ssthresh = r.lossSsthresh(flight)
	r.cwnd = r.ssthresh
	r.caAcked = 0
	r.fresh = false
	r.rtoHeld = false
}

// OnRecoveryExit deflates cwnd to ssthresh (RFC 6582 §3.2 step 3, option
// 2) if it is above it; it never raises cwnd.
func (r *NewReno) OnRecoveryExit(now int64) {
	r.cwnd = min(r.cwnd, r.ssthresh)
	r.caAcked = 0
}

// OnRTO sets ssthresh by RFC 5681 equation 4 (held on a repeated RTO) and
// cwnd to the loss window, one SMSS.
func (r *NewReno) OnRTO(flight uint32, now int64) {
	if !r.rtoHeld {
		r.ssthresh = r.lossSsthresh(flight)
	}
	r.cwnd = r.mss
	r.caAcked = 0
	r.fresh = false
	r.rtoHeld = true
}

// OnIdle applies the restart window of RFC 5681 §4.1.
func (r *NewReno) OnIdle(idle int64, rto int64, now int64) { r.restart(idle, rto) }
