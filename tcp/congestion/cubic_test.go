package congestion

import (
	"math"
	"testing"
)

// cubicAt returns a Cubic that has just left fast recovery after a
// congestion event at a window of wmax segments (flight = cwnd), driven by
// a sim with the given RTT; MSS is 1000 bytes.
func cubicAt(t *testing.T, wmax uint32, rtt int64) (*Cubic, *sim) {
	t.Helper()
	c := new(Cubic)
	s := newSim(c, 1000, rtt)
	s.grow(t, wmax)
	c.OnCongestionEvent(wmax*1000, s.now)
	c.OnRecoveryExit(s.now)
	s.mark()
	return c, s
}

// wCubicSegs is RFC 9438 Figure 1 in segments, written out independently.
func wCubicSegs(t, k, wmax float64) float64 { return 0.4*math.Pow(t-k, 3) + wmax }

func TestCubicDecreaseAndK(t *testing.T) {
	c, s := cubicAt(t, 100, 200*ms)
	if c.Cwnd() != 70000 || c.Ssthresh() != 70000 {
		t.Fatalf("after congestion event at W_max = 100 segments: cwnd %d ssthresh %d, want 70000 both", c.Cwnd(), c.Ssthresh())
	}
	if c.WMax() != 100000 {
		t.Fatalf("W_max = %d bytes, want 100000", c.WMax())
	}
	s.round(1)                          // the first CA ACK starts the epoch
	wantK := math.Cbrt(100 * 0.3 / 0.4) // ≈ 4.2172 s
	if math.Abs(wantK-4.2172) > 1e-4 {
		t.Fatalf("reference K %v", wantK)
	}
	if gotK := float64(c.K()) / 1e9; math.Abs(gotK-wantK) > 1e-6 {
		t.Fatalf("K = %v s, want %v", gotK, wantK)
	}
}

func TestCubicTrajectory(t *testing.T) {
	// RTT 200 ms keeps W_est (0.53 segments per RTT) below the cubic
	// curve until well past K, so the curve alone sets cwnd.
	_, s := cubicAt(t, 100, 200*ms)
	K := math.Cbrt(75)
	var prev, prevRise float64
	var samples []struct{ t, w float64 }
	for s.now-s.first < int64((K+3.2)*1e9) || s.first < 0 {
		s.round(1)
		el := float64(s.now-s.first) / 1e9
		w := s.segs()
		samples = append(samples, struct{ t, w float64 }{el, w})
		if want := wCubicSegs(el, K, 100); math.Abs(w-want) > 1.5 {
			t.Fatalf("t=%.2fs: cwnd %.2f segments, W_cubic(t) = %.2f", el, w, want)
		}
		if w < prev {
			t.Fatalf("t=%.2fs: cwnd fell %.2f -> %.2f", el, prev, w)
		}
		prev = w
	}
	// Reaches W_max at about K.
	at := func(x float64) float64 {
		for _, p := range samples {
			if p.t >= x {
				return p.w
			}
		}
		t.Fatalf("no sample at %v", x)
		return 0
	}
	if w := at(K); math.Abs(w-100) > 1 {
		t.Fatalf("cwnd at t=K=%.3fs is %.2f segments, want ≈ 100", K, w)
	}
	if w := at(K - 1); w > 99.8 || w < 99 {
		t.Fatalf("cwnd at K-1s is %.2f, want ≈ 99.6 (just under the plateau)", w)
	}
	// Concave before K, convex after: compare rises over equal intervals.
	rise := func(a, b float64) float64 { return at(b) - at(a) }
	if r1, r2 := rise(0.5, 1.5), rise(1.5, 2.5); !(r1 > r2) {
		t.Fatalf("not concave before K: rise %.2f then %.2f", r1, r2)
	}
	prevRise = rise(K+0.2, K+1.2)
	if r := rise(K+1.2, K+2.2); !(r > prevRise) || at(K+2.2) <= 100.5 {
		t.Fatalf("not convex after K: rise %.2f then %.2f, cwnd %.2f", prevRise, r, at(K+2.2))
	}
}

func TestCubicRenoFriendlyRegion(t *testing.T) {
	// Short RTT and small window: Reno's additive increase beats the cubic
	// curve, so cwnd follows W_est (§4.3): α_cubic ≈ 0.529 segments per RTT
	// until W_est reaches cwnd_prior (20), then 1 segment per RTT.
	c, s := cubicAt(t, 20, ms)
	if c.Cwnd() != 14000 {
		t.Fatalf("cwnd %d after event at 20 segments", c.Cwnd())
	}
	alpha := 3 * (1 - 0.7) / (1 + 0.7)
	model := 14.0
	K := math.Cbrt(6 / 0.4)
	for r := 1; r <= 300; r++ {
		s.round(1)
		if model >= 20 {
			model++
		} else {
			model += alpha
		}
		el := float64(s.now-s.first) / 1e9
		w := s.segs()
		if math.Abs(w-model) > 1+0.02*model {
			t.Fatalf("round %d: cwnd %.2f segments, Reno model %.2f", r, w, model)
		}
		if r == 300 {
			if cub := wCubicSegs(el, K, 20); w < cub+100 {
				t.Fatalf("cwnd %.2f not in the Reno-friendly region (W_cubic(t) = %.2f)", w, cub)
			}
		}
	}
}

func TestCubicGrowthClampedToOneAndAHalf(t *testing.T) {
	// A 10 s RTT puts W_cubic(t+RTT) far above cwnd; §4.2 caps the target at
	// 1.5*cwnd, so one RTT of ACKs grows cwnd by at most half (plus a byte
	// of carried rounding).
	c, s := cubicAt(t, 10, 10*sec)
	for r := 0; r < 6; r++ {
		before := c.Cwnd()
		s.round(1)
		if lim := before + before/2 + 1; c.Cwnd() > lim || c.Cwnd() < before+before/3 {
			t.Fatalf("round %d: cwnd %d -> %d, want growth to about but not over %d", r, before, c.Cwnd(), lim)
		}
	}
}

func TestCubicFastConvergence(t *testing.T) {
	for _, disable := range []bool{false, true} {
		c := new(Cubic)
		c.DisableFastConvergence = disable
		s := newSim(c, 1000, 50*ms)
		s.grow(t, 100)
		c.OnCongestionEvent(100000, s.now)
		if c.WMax() != 100000 {
			t.Fatalf("first event: W_max %d", c.WMax())
		}
		c.OnRecoveryExit(s.now)
		// Ten rounds later cwnd is still below the old W_max: another loss.
		for r := 0; r < 10; r++ {
			s.round(1)
		}
		w := c.Cwnd()
		if w >= 100000 {
			t.Fatalf("cwnd %d already past W_max", w)
		}
		c.OnCongestionEvent(w, s.now)
		want := uint32(float64(w) * 0.85) // (1+β)/2
		if disable {
			want = w
		}
		if got := c.WMax(); got < want-1 || got > want+1 {
			t.Fatalf("fast convergence disabled=%v: W_max %d after a loss at %d, want %d", disable, got, w, want)
		}
		if c.Cwnd() != w*7/10 {
			t.Fatalf("cwnd %d after loss at %d", c.Cwnd(), w)
		}
		// A loss above W_max sets W_max to cwnd.
		c.OnRecoveryExit(s.now)
		for c.Cwnd() <= c.WMax() {
			s.round(1)
		}
		w = c.Cwnd()
		c.OnCongestionEvent(w, s.now)
		if c.WMax() != w {
			t.Fatalf("loss above W_max: W_max %d, want %d", c.WMax(), w)
		}
	}
}

func TestCubicFirstEpochAfterRTO(t *testing.T) {
	c := new(Cubic)
	s := newSim(c, 1000, 100*ms)
	s.grow(t, 100)
	c.OnRTO(100000, s.now)
	if c.Cwnd() != 1000 || c.Ssthresh() != 70000 {
		t.Fatalf("after RTO: cwnd %d ssthresh %d, want 1000, 70000", c.Cwnd(), c.Ssthresh())
	}
	for c.InSlowStart() {
		s.now += ms
		c.OnAck(1000, 100*ms, c.Cwnd(), s.now)
	}
	if c.Cwnd() != 70000 {
		t.Fatalf("slow start ended at %d, want ssthresh 70000", c.Cwnd())
	}
	s.mark()
	s.round(1) // epoch starts: K = 0, W_max = cwnd_epoch
	if c.K() != 0 || c.WMax() != 70000 {
		t.Fatalf("first epoch after RTO: K %d ns, W_max %d; want 0, 70000", c.K(), c.WMax())
	}
	// Convex from the start: each second's rise is larger than the last.
	var last float64
	for sec := 1; sec <= 4; sec++ {
		before := s.segs()
		for r := 0; r < 10; r++ {
			s.round(1)
		}
		rise := s.segs() - before
		if rise <= last {
			t.Fatalf("second %d: rise %.2f not above %.2f", sec, rise, last)
		}
		last = rise
	}
}

func TestCubicEpochPausesWhileApplicationLimited(t *testing.T) {
	a, sa := cubicAt(t, 100, 100*ms)
	b, sb := cubicAt(t, 100, 100*ms)
	for r := 0; r < 20; r++ {
		sa.round(1)
		sb.round(1)
	}
	// b: 5 s in which the application keeps little in flight.
	for i := 0; i < 500; i++ {
		sb.now += 10 * ms
		b.OnAck(1000, 100*ms, b.Cwnd()/4, sb.now)
	}
	// ... and then 5 s of nothing in flight at all, reported on resumption.
	sb.now += 5 * sec
	b.OnIdle(5*sec, 10*sec, sb.now)
	if b.Cwnd() != a.Cwnd() {
		t.Fatalf("unused time changed cwnd: %d vs %d", b.Cwnd(), a.Cwnd())
	}
	for r := 0; r < 20; r++ {
		sa.round(1)
		sb.round(1)
	}
	// Without the pause b's curve would be 10 s ahead (far convex).
	if d := int64(a.Cwnd()) - int64(b.Cwnd()); d > 1000 || d < -1000 {
		t.Fatalf("after resuming: cwnd %d (paused) vs %d (never paused)", b.Cwnd(), a.Cwnd())
	}
}

func TestCubicMinRTT(t *testing.T) {
	c := new(Cubic)
	c.Init(1000, 0)
	if c.MinRTT() != -1 {
		t.Fatalf("MinRTT before samples: %d", c.MinRTT())
	}
	for _, r := range []int64{30 * ms, 20 * ms, -1, 25 * ms} {
		c.OnAck(1000, r, c.Cwnd(), 1)
	}
	if c.MinRTT() != 20*ms {
		t.Fatalf("MinRTT %d", c.MinRTT())
	}
	c.OnAck(0, 5*ms, 0, 2) // a sample with no new data still counts
	if c.MinRTT() != 5*ms {
		t.Fatalf("MinRTT %d", c.MinRTT())
	}
}

func TestCubicInitKeepsConfig(t *testing.T) {
	c := &Cubic{DisableFastConvergence: true}
	c.Init(1000, 0)
	if !c.DisableFastConvergence {
		t.Fatal("Init cleared DisableFastConvergence")
	}
}
