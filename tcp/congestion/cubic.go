package congestion

import "math"

// CUBIC constants (RFC 9438 §4.1.1 and §5).
const (
	// cubicC is C, the scaling constant of the window increase function
	// (§4.2, §5.1: C = 0.4), in segments per second cubed.
	cubicC = 0.4
	// betaCubic is the multiplicative decrease factor β_cubic (§4.6: 0.7).
	// Integer arithmetic uses betaNum/betaDen so that 0.7*flight is exact.
	betaCubic = 0.7
	betaNum   = 7
	betaDen   = 10
	// alphaCubic is α_cubic = 3*(1-β_cubic)/(1+β_cubic) ≈ 0.529 (§4.3):
	// the additive increase, in segments per RTT, that gives CUBIC the
	// average window of Reno (AIMD(1, 0.5)) in the Reno-friendly region.
	alphaCubic = 3 * (1 - betaCubic) / (1 + betaCubic)
)

// Cubic is the congestion control of RFC 9438. Slow start, the loss window
// and the restart window are those of RFC 5681 (with RFC 3465 byte counting,
// as in NewReno); congestion avoidance follows the cubic window increase
// function with its Reno-friendly region, the decrease is by β_cubic = 0.7,
// and fast convergence (§4.7) is on unless DisableFastConvergence is set.
// HyStart++ (RFC 9406, §4.10's SHOULD) and the undo of spurious congestion
// events (§4.9) are not implemented.
//
// Units: RFC 9438 counts windows in segments and time in seconds. Cubic keeps
// its windows in bytes (float64 where fractions matter) and converts with the
// current MSS where a formula needs segments, as each formula below notes.
//
// RTT: the target of §4.2 looks one RTT ahead, W_cubic(t+RTT). The RFC says
// RTT is the smoothed RTT; Cubic uses the minimum RTT over the connection's
// samples, as Linux does, so that a growing queue does not speed the growth
// up. Before the first sample it uses 0.
//
// The zero value is ready after Init; a Cubic is owned by one connection and
// used from its shard only.
type Cubic struct {
	window

	// DisableFastConvergence turns off §4.7 (the RFC lets a sender that
	// knows it is the only flow on its path do so). Init keeps it.
	DisableFastConvergence bool

	wMax      float64 // W_max, bytes (§4.1.2)
	cwndPrior float64 // cwnd_prior, bytes: cwnd when ssthresh was last set (§4.1.2)
	haveWMax  bool    // W_max is defined (there was a congestion event or an epoch)
	afterRTO  bool    // the next epoch is the first after an RTO (§4.8)

	inEpoch    bool    // a congestion avoidance stage is under way
	epochStart int64   // t_epoch, ns, shifted forward over unused time (§5.8)
	cwndEpoch  float64 // cwnd_epoch, bytes (§4.1.2)
	k          float64 // K, seconds (§4.2 Figure 2)
	wEst       float64 // W_est, bytes (§4.3)
	frac       float64 // growth of §4.4/§4.5 not yet applied, a fraction of a byte

	minRTT  int64 // ns; < 0 until the first sample
	lastAck int64 // ns, time of the last OnAck (or resumption after idle)
}

var _ Controller = (*Cubic)(nil)

// Name is "cubic".
func (c *Cubic) Name() string { return "cubic" }

// Init resets c for a new connection with the given MSS. It keeps
// DisableFastConvergence.
func (c *Cubic) Init(mss uint32, now int64) {
	*c = Cubic{DisableFastConvergence: c.DisableFastConvergence, minRTT: -1, lastAck: now}
	c.window.init(mss)
}

// SetMSS changes the MSS (see Controller). A congestion avoidance stage under
// way ends, since K depends on the segment size; the next ACK starts a new
// one from the current cwnd.
func (c *Cubic) SetMSS(mss uint32) {
	c.window.setMSS(mss)
	c.inEpoch = false
}

// WMax is W_max in bytes (0 before the first congestion event or epoch).
func (c *Cubic) WMax() uint32 { return uint32(c.wMax) }

// K is K of the current congestion avoidance stage in nanoseconds: the time
// the cubic function takes from cwnd_epoch back to W_max (RFC 9438 §4.2).
func (c *Cubic) K() int64 { return int64(c.k * 1e9) }

// MinRTT is the smallest RTT sample seen, in nanoseconds, or -1 if none.
func (c *Cubic) MinRTT() int64 { return c.minRTT }

// OnAck grows cwnd. Slow start is RFC 5681's with RFC 3465 byte counting
// (L = 2); congestion avoidance is RFC 9438 §4.2-§4.5, described at
// congestionAvoidance. An application-limited ACK (2*flight < cwnd) grows
// nothing and stops the epoch clock over the time since the previous ACK
// (§5.8: t should not include application-limited periods).
func (c *Cubic) OnAck(acked uint32, rtt int64, flight uint32, now int64) {
	if rtt >= 0 && (c.minRTT < 0 || rtt < c.minRTT) {
		c.minRTT = rtt
	}
	if acked == 0 {
		return
	}
	c.rtoHeld = false
	c.fresh = false
	last := c.lastAck
	c.lastAck = now
	if c.appLimited(flight) {
		if c.inEpoch && now > last {
			c.epochStart += now - last
		}
		return
	}
	if c.cwnd < c.ssthresh {
		if acked = c.slowStart(acked); acked == 0 {
			return
		}
	}
	c.congestionAvoidance(acked, now)
}

// wCubic is the window increase function of RFC 9438 §4.2 Figure 1,
// W_cubic(t) = C*(t-K)^3 + W_max, with t and K in seconds; C*(t-K)^3 is
// segments, so it is scaled by the MSS to bytes.
func (c *Cubic) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*d*d*d*float64(c.mss) + c.wMax
}

// startEpoch begins a congestion avoidance stage at now (RFC 9438 §4.2):
// t_epoch = now, cwnd_epoch = cwnd, K = cubic_root((W_max - cwnd_epoch)/C)
// with the windows in segments (Figure 2), and W_est = cwnd_epoch (§4.3).
// K = 0 and W_max = cwnd_epoch when W_max is not above cwnd_epoch, in the
// first stage after an RTO (§4.8), and when there was never a congestion
// event (§4.10, which also sets cwnd_prior = cwnd).
func (c *Cubic) startEpoch(now int64) {
	c.inEpoch = true
	c.epochStart = now
	c.frac = 0
	c.cwndEpoch = float64(c.cwnd)
	if !c.haveWMax {
		c.cwndPrior = c.cwndEpoch
	}
	if c.afterRTO || !c.haveWMax || c.wMax <= c.cwndEpoch {
		c.wMax = c.cwndEpoch
		c.k = 0
	} else {
		c.k = math.Cbrt((c.wMax - c.cwndEpoch) / float64(c.mss) / cubicC)
	}
	c.haveWMax = true
	c.afterRTO = false
	c.wEst = c.cwndEpoch
}

// congestionAvoidance is RFC 9438 §4.2-§4.5 for acked bytes at now:
//
//   - t = now - t_epoch in seconds (the epoch clock stops over
//     application-limited and idle time, §5.8);
//   - §4.3: W_est += α_cubic * segments_acked / cwnd (segments); in bytes
//     W_est += α * acked * MSS / cwnd. α_cubic becomes 1 once W_est >=
//     cwnd_prior. If W_cubic(t) < W_est, CUBIC is in the Reno-friendly
//     region and cwnd = W_est (never lowering cwnd);
//   - otherwise (concave §4.4 if cwnd < W_max, convex §4.5 if above, same
//     rule): target = W_cubic(t+RTT) clamped to [cwnd, 1.5*cwnd] (§4.2),
//     and cwnd += (target - cwnd)/cwnd per segment acknowledged. In bytes,
//     with byte counting so that delayed ACKs do not slow the growth, that
//     is cwnd += (target - cwnd) * acked / cwnd, never past target.
func (c *Cubic) congestionAvoidance(acked uint32, now int64) {
	if !c.inEpoch {
		c.startEpoch(now)
	}
	cwnd := float64(c.cwnd)
	t := float64(now-c.epochStart) / 1e9

	alpha := alphaCubic
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst += alpha * float64(acked) * float64(c.mss) / cwnd

	var next float64
	if c.wCubic(t) < c.wEst {
		next = max(cwnd, math.Floor(c.wEst))
		c.frac = 0
	} else {
		rtt := 0.0
		if c.minRTT > 0 {
			rtt = float64(c.minRTT) / 1e9
		}
		target := min(max(c.wCubic(t+rtt), cwnd), 1.5*cwnd)
		c.frac += (target - cwnd) * float64(acked) / cwnd
		whole := math.Floor(c.frac)
		c.frac -= whole
		next = min(cwnd+whole, math.Floor(target))
	}
	c.cwnd = uint32(min(next, MaxCwnd))
}

// OnCongestionEvent is RFC 9438 §4.6 with fast convergence (§4.7):
//
//	cwnd_prior = cwnd
//	W_max = cwnd * (1+β_cubic)/2  if cwnd < W_max (fast convergence), else cwnd
//	ssthresh = max(flight_size * β_cubic, 2*SMSS)
//	cwnd = ssthresh
//
// The next ACK in congestion avoidance starts a new epoch.
func (c *Cubic) OnCongestionEvent(flight uint32, now int64) {
	cwnd := float64(c.cwnd)
	c.cwndPrior = cwnd
	if !c.DisableFastConvergence && c.haveWMax && cwnd < c.wMax {
		c.wMax = cwnd * (1 + betaCubic) / 2
	} else {
		c.wMax = cwnd
	}
	c.haveWMax = true
	c.ssthresh = c.betaSsthresh(flight)
	c.cwnd = c.ssthresh
	c.inEpoch = false
	c.afterRTO = false
	c.caAcked = 0
	c.fresh = false
	c.rtoHeld = false
}

// betaSsthresh is max(flight_size * β_cubic, 2*SMSS) (RFC 9438 §4.6), in
// exact integer arithmetic.
func (c *Cubic) betaSsthresh(flight uint32) uint32 {
	return max(uint32(uint64(flight)*betaNum/betaDen), 2*c.mss)
}

// OnRecoveryExit deflates cwnd to ssthresh if it is above it (it never
// raises cwnd). The congestion avoidance epoch starts at the next ACK, so
// time spent in recovery does not count toward t.
func (c *Cubic) OnRecoveryExit(now int64) {
	c.cwnd = min(c.cwnd, c.ssthresh)
	c.caAcked = 0
	c.inEpoch = false
}

// OnRTO is RFC 9438 §4.8: cwnd = one SMSS (the RFC 5681 loss window),
// ssthresh = max(flight_size * β_cubic, 2*SMSS) as in §4.6 (held on a
// repeated RTO, RFC 5681 §3.1), and the first congestion avoidance stage
// afterwards uses K = 0 and W_max = cwnd_epoch.
func (c *Cubic) OnRTO(flight uint32, now int64) {
	if !c.rtoHeld {
		c.cwndPrior = float64(c.cwnd)
		c.ssthresh = c.betaSsthresh(flight)
	}
	c.cwnd = c.mss
	c.afterRTO = true
	c.inEpoch = false
	c.caAcked = 0
	c.fresh = false
	c.rtoHeld = true
}

// OnIdle applies the restart window of RFC 5681 §4.1; if cwnd shrank, a new
// epoch starts with the next congestion avoidance ACK. Otherwise the epoch
// clock skips the idle time (RFC 9438 §5.8).
func (c *Cubic) OnIdle(idle int64, rto int64, now int64) {
	if c.restart(idle, rto) {
		c.inEpoch = false
	} else if c.inEpoch && idle > 0 {
		c.epochStart = min(c.epochStart+idle, now)
	}
	c.lastAck = max(c.lastAck, now)
}
