package congestion

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

const (
	ms  = int64(1e6)
	sec = int64(1e9)
)

// sim drives a Controller on a manual clock as a cwnd-limited sender that
// keeps a full window in flight: every ACK reports flight = cwnd.
type sim struct {
	c     Controller
	mss   uint32
	now   int64
	rtt   int64
	first int64 // time of the first ACK since mark (-1: none yet)
}

func newSim(c Controller, mss uint32, rtt int64) *sim {
	c.Init(mss, 0)
	return &sim{c: c, mss: mss, rtt: rtt, first: -1}
}

// round delivers one RTT of ACKs for the window in flight at its start:
// ACKs of segs segments each (the last one possibly shorter), evenly spaced
// over the RTT.
func (s *sim) round(segs uint32) {
	per := segs * s.mss
	left := s.c.Cwnd()
	n := int64((left + per - 1) / per)
	step := s.rtt / n
	for i := int64(0); i < n; i++ {
		s.now += step
		if s.first < 0 {
			s.first = s.now
		}
		a := min(per, left)
		left -= a
		s.c.OnAck(a, s.rtt, s.c.Cwnd(), s.now)
	}
	s.now += s.rtt - step*n
}

// mark forgets the first-ACK time, so the next round records it.
func (s *sim) mark() { s.first = -1 }

// segs is cwnd in segments.
func (s *sim) segs() float64 { return float64(s.c.Cwnd()) / float64(s.mss) }

// grow runs slow start (one ACK per segment) until cwnd is exactly target
// segments; the IW must be at most target.
func (s *sim) grow(t *testing.T, target uint32) {
	t.Helper()
	for s.c.Cwnd() < target*s.mss {
		s.now += ms
		s.c.OnAck(s.mss, s.rtt, s.c.Cwnd(), s.now)
	}
	if s.c.Cwnd() != target*s.mss {
		t.Fatalf("slow start to %d segments overshot: cwnd = %d", target, s.c.Cwnd())
	}
}

func TestInitialWindowRFC6928(t *testing.T) {
	for _, tc := range []struct{ mss, iw uint32 }{
		{536, 5360},   // 10*MSS is the smallest
		{1000, 10000}, // 10*MSS
		{1460, 14600}, // all three meet
		{1461, 14600}, // 14600 wins over 10*MSS
		{4000, 14600},
		{8960, 17920}, // 2*MSS wins
		{65535, 131070},
	} {
		if got := InitialWindow(tc.mss); got != tc.iw {
			t.Errorf("InitialWindow(%d) = %d, want %d", tc.mss, got, tc.iw)
		}
		for _, name := range Names() {
			c, _ := New(name)
			c.Init(tc.mss, 0)
			if c.Cwnd() != tc.iw || c.Ssthresh() != math.MaxUint32 || !c.InSlowStart() {
				t.Errorf("%s.Init(%d): cwnd %d ssthresh %d slowstart %v, want %d, MaxUint32, true",
					name, tc.mss, c.Cwnd(), c.Ssthresh(), c.InSlowStart(), tc.iw)
			}
		}
	}
}

func TestNewAndNames(t *testing.T) {
	names := Names()
	if strings.Join(names, ",") != "cubic,newreno" {
		t.Fatalf("Names() = %v", names)
	}
	for _, n := range names {
		c, err := New(n)
		if err != nil || c.Name() != n {
			t.Fatalf("New(%q) = %v, %v", n, c, err)
		}
	}
	_, err := New("vegas")
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("New(vegas) error %v does not wrap ErrUnknown", err)
	}
	for _, want := range []string{"vegas", "cubic", "newreno"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestSlowStartDoublesPerRTTWithABC(t *testing.T) {
	for _, name := range Names() {
		for _, segsPerAck := range []uint32{1, 2, 3, 4} {
			c, _ := New(name)
			s := newSim(c, 1000, 50*ms)
			for r := 0; r < 5; r++ {
				// RFC 3465: each ACK adds min(acked, 2*SMSS).
				w := c.Cwnd()
				want := w
				for left := w; left > 0; {
					a := min(left, segsPerAck*1000)
					want += min(a, 2000)
					left -= a
				}
				s.round(segsPerAck)
				if c.Cwnd() != want {
					t.Fatalf("%s, %d segs/ACK, round %d: cwnd %d, want %d", name, segsPerAck, r, c.Cwnd(), want)
				}
				if segsPerAck <= 2 && c.Cwnd() != 2*w {
					t.Fatalf("%s, %d segs/ACK: cwnd %d -> %d, not doubled", name, segsPerAck, w, c.Cwnd())
				}
			}
			if !c.InSlowStart() {
				t.Fatalf("%s left slow start with infinite ssthresh", name)
			}
		}
	}
}

func TestSlowStartStopsAtSsthreshAndCarriesOver(t *testing.T) {
	r := new(NewReno)
	r.Init(1000, 0)
	r.ssthresh = 10500 // cwnd = 10000
	r.OnAck(2000, -1, 10000, 1)
	// 500 bytes of slow start reach ssthresh; 1500 count toward CA.
	if r.cwnd != 10500 || r.caAcked != 1500 || r.InSlowStart() {
		t.Fatalf("cwnd %d caAcked %d slowstart %v; want 10500, 1500, false", r.cwnd, r.caAcked, r.InSlowStart())
	}
}

func TestNewRenoCongestionAvoidanceOneMSSPerRTT(t *testing.T) {
	for _, segsPerAck := range []uint32{1, 2} {
		c := new(NewReno)
		s := newSim(c, 1460, 20*ms)
		s.grow(t, 40)
		c.OnCongestionEvent(40*1460, s.now)
		c.OnRecoveryExit(s.now)
		if c.Cwnd() != 20*1460 || c.Ssthresh() != 20*1460 || c.InSlowStart() {
			t.Fatalf("after event: cwnd %d ssthresh %d", c.Cwnd(), c.Ssthresh())
		}
		for r := 1; r <= 30; r++ {
			s.round(segsPerAck)
			if want := uint32(20+r) * 1460; c.Cwnd() != want {
				t.Fatalf("%d segs/ACK, CA round %d: cwnd %d, want %d", segsPerAck, r, c.Cwnd(), want)
			}
		}
	}
}

func TestNewRenoCAAtMostOneMSSPerACK(t *testing.T) {
	r := new(NewReno)
	r.Init(1000, 0)
	r.OnCongestionEvent(20000, 0) // ssthresh = cwnd = 10000
	r.OnAck(35000, -1, 10000, 1)  // a huge stretch ACK
	if r.cwnd != 11000 {
		t.Fatalf("cwnd %d after a 3.5-window ACK, want 11000 (one MSS)", r.cwnd)
	}
	if r.caAcked >= r.cwnd {
		t.Fatalf("carried %d >= cwnd %d", r.caAcked, r.cwnd)
	}
}

func TestNewRenoCongestionEventHalves(t *testing.T) {
	for _, tc := range []struct{ flight, ssthresh uint32 }{
		{40 * 1000, 20 * 1000},
		{41 * 1000, 20500},
		{3 * 1000, 2 * 1000}, // floor 2*SMSS
		{0, 2 * 1000},
	} {
		c := new(NewReno)
		c.Init(1000, 0)
		c.OnCongestionEvent(tc.flight, 0)
		if c.Ssthresh() != tc.ssthresh || c.Cwnd() != tc.ssthresh {
			t.Errorf("flight %d: ssthresh %d cwnd %d, want both %d", tc.flight, c.Ssthresh(), c.Cwnd(), tc.ssthresh)
		}
	}
}

func TestRTO(t *testing.T) {
	for _, tc := range []struct {
		name   string
		num    uint32 // ssthresh = flight*num/den
		den    uint32
		growTo uint32
	}{
		{"newreno", 1, 2, 64},
		{"cubic", 7, 10, 64},
	} {
		c, _ := New(tc.name)
		s := newSim(c, 1000, 10*ms)
		s.grow(t, tc.growTo)
		flight := tc.growTo * 1000
		c.OnRTO(flight, s.now)
		want := flight * tc.num / tc.den
		if c.Cwnd() != 1000 || c.Ssthresh() != want || !c.InSlowStart() {
			t.Fatalf("%s after RTO: cwnd %d ssthresh %d, want 1000, %d", tc.name, c.Cwnd(), c.Ssthresh(), want)
		}
		// The same segment times out again (backoff): ssthresh is held
		// even though flight is now small.
		c.OnRTO(1000, s.now+200*ms)
		if c.Ssthresh() != want || c.Cwnd() != 1000 {
			t.Fatalf("%s after second RTO: ssthresh %d cwnd %d, want %d held", tc.name, c.Ssthresh(), c.Cwnd(), want)
		}
		// New data acknowledged: a later RTO computes ssthresh afresh.
		c.OnAck(1000, -1, 1000, s.now+300*ms)
		c.OnRTO(10000, s.now+400*ms)
		if want := max(10000*tc.num/tc.den, 2000); c.Ssthresh() != want {
			t.Fatalf("%s after RTO following an ACK: ssthresh %d, want %d", tc.name, c.Ssthresh(), want)
		}
	}
}

func TestRecoveryExitNeverRaises(t *testing.T) {
	for _, name := range Names() {
		c, _ := New(name)
		c.Init(1000, 0)
		c.OnCongestionEvent(40000, 0)
		ss := c.Ssthresh()
		c.OnRTO(30000, 1) // RTO during recovery
		c.OnRecoveryExit(2)
		if c.Cwnd() != 1000 {
			t.Errorf("%s: recovery exit after RTO raised cwnd to %d (ssthresh %d)", name, c.Cwnd(), ss)
		}
	}
}

func TestApplicationLimitedDoesNotGrow(t *testing.T) {
	for _, name := range Names() {
		c, _ := New(name)
		c.Init(1000, 0) // cwnd 10000
		c.OnAck(1000, ms, 4999, ms)
		if c.Cwnd() != 10000 {
			t.Fatalf("%s slow start: app-limited ACK (flight 4999 < cwnd/2) grew cwnd to %d", name, c.Cwnd())
		}
		c.OnAck(1000, ms, 5000, 2*ms)
		if c.Cwnd() != 11000 {
			t.Fatalf("%s slow start: ACK with flight = cwnd/2 did not grow cwnd: %d", name, c.Cwnd())
		}
		c.OnCongestionEvent(30000, 3*ms)
		c.OnRecoveryExit(3 * ms)
		before := c.Cwnd()
		for i := 0; i < 1000; i++ {
			c.OnAck(1000, ms, before/2-1, int64(4+i)*ms)
		}
		if c.Cwnd() != before {
			t.Fatalf("%s congestion avoidance: app-limited ACKs grew cwnd %d -> %d", name, before, c.Cwnd())
		}
	}
}

func TestIdleRestartWindow(t *testing.T) {
	for _, name := range Names() {
		c, _ := New(name)
		s := newSim(c, 1000, 10*ms)
		s.grow(t, 50)
		c.OnIdle(100*ms, 200*ms, s.now+100*ms) // idle < RTO: nothing
		if c.Cwnd() != 50000 {
			t.Fatalf("%s: idle shorter than RTO changed cwnd to %d", name, c.Cwnd())
		}
		c.OnIdle(300*ms, 200*ms, s.now+400*ms)
		if c.Cwnd() != 10000 {
			t.Fatalf("%s: after idle > RTO cwnd %d, want IW 10000", name, c.Cwnd())
		}
		c.OnRTO(50000, s.now+500*ms) // cwnd 1000 < IW
		c.OnIdle(time10s, 200*ms, s.now+10*sec)
		if c.Cwnd() != 1000 {
			t.Fatalf("%s: restart window raised cwnd to %d", name, c.Cwnd())
		}
	}
}

const time10s = 10 * sec

func TestSetMSS(t *testing.T) {
	for _, name := range Names() {
		c, _ := New(name)
		c.Init(536, 0)
		c.SetMSS(1460) // negotiated before any data: IW follows
		if c.Cwnd() != 14600 {
			t.Fatalf("%s: SetMSS on a fresh window: cwnd %d, want 14600", name, c.Cwnd())
		}
		c.OnAck(1460, -1, 14600, 1)
		c.SetMSS(9000)
		if c.Cwnd() != 16060 {
			t.Fatalf("%s: SetMSS after growth changed cwnd to %d", name, c.Cwnd())
		}
		c.OnRTO(16060, 2)
		if c.Cwnd() != 9000 {
			t.Fatalf("%s: loss window with MSS 9000 is %d", name, c.Cwnd())
		}
		c.Init(0, 0)
		if c.Cwnd() != InitialWindow(DefaultMSS) {
			t.Fatalf("%s: Init(0) cwnd %d", name, c.Cwnd())
		}
	}
}

// TestInvariantsRandom throws random event sequences at both controllers
// and checks what must always hold.
func TestInvariantsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range Names() {
		for trial := 0; trial < 200; trial++ {
			c, _ := New(name)
			mss := uint32(500 + rng.IntN(9000))
			c.Init(mss, 0)
			now := int64(0)
			for step := 0; step < 2000; step++ {
				now += rng.Int64N(50 * ms)
				switch k := rng.IntN(100); {
				case k < 90:
					before := c.Cwnd()
					acked := uint32(rng.IntN(int(8 * mss)))
					flight := uint32(rng.Int64N(int64(c.Cwnd()) * 2))
					c.OnAck(acked, rng.Int64N(300*ms)-ms, flight, now)
					if c.Cwnd() < before {
						t.Fatalf("%s: OnAck lowered cwnd %d -> %d", name, before, c.Cwnd())
					}
					if c.Cwnd()-before > 2*mss && c.InSlowStart() {
						t.Fatalf("%s: slow start grew %d in one ACK (> 2*MSS)", name, c.Cwnd()-before)
					}
				case k < 94:
					c.OnCongestionEvent(uint32(rng.Int64N(int64(c.Cwnd())*2)), now)
					c.OnRecoveryExit(now + 10*ms)
				case k < 96:
					c.OnRTO(uint32(rng.Int64N(int64(c.Cwnd())*2)), now)
				default:
					c.OnIdle(rng.Int64N(2*sec), 500*ms, now)
				}
				if c.Cwnd() < mss || c.Cwnd() > MaxCwnd {
					t.Fatalf("%s: cwnd %d out of [MSS %d, MaxCwnd]", name, c.Cwnd(), mss)
				}
				if c.Ssthresh() < 2*mss {
					t.Fatalf("%s: ssthresh %d below 2*MSS", name, c.Ssthresh())
				}
			}
		}
	}
}

func TestOnAckZeroAllocs(t *testing.T) {
	for _, name := range Names() {
		c, _ := New(name)
		c.Init(1460, 0)
		now := int64(0)
		// Slow start.
		if n := testing.AllocsPerRun(1000, func() {
			now += ms
			c.OnAck(1460, 10*ms, c.Cwnd(), now)
		}); n != 0 {
			t.Errorf("%s slow-start OnAck: %v allocs", name, n)
		}
		c.OnCongestionEvent(c.Cwnd(), now)
		c.OnRecoveryExit(now)
		if n := testing.AllocsPerRun(1000, func() {
			now += ms
			c.OnAck(1460, 10*ms, c.Cwnd(), now)
		}); n != 0 {
			t.Errorf("%s congestion-avoidance OnAck: %v allocs", name, n)
		}
		if n := testing.AllocsPerRun(100, func() {
			now += ms
			c.OnCongestionEvent(c.Cwnd(), now)
			c.OnRecoveryExit(now)
			c.OnRTO(c.Cwnd(), now)
			c.OnIdle(sec, 200*ms, now)
			_ = c.Cwnd() + c.Ssthresh()
			_ = c.InSlowStart()
		}); n != 0 {
			t.Errorf("%s events: %v allocs", name, n)
		}
	}
}

func BenchmarkOnAck(b *testing.B) {
	for _, name := range Names() {
		for _, phase := range []string{"slowstart", "avoidance"} {
			b.Run(name+"/"+phase, func(b *testing.B) {
				c, _ := New(name)
				c.Init(1460, 0)
				now := int64(0)
				if phase == "avoidance" {
					c.OnCongestionEvent(1000*1460, now)
					c.OnRecoveryExit(now)
				}
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					now += 10 * 1000 // 10 µs between ACKs
					c.OnAck(1460, 20*ms, c.Cwnd(), now)
					if phase == "slowstart" && i&1023 == 0 {
						c.Init(1460, now) // stay in slow start
					}
				}
			})
		}
	}
}
