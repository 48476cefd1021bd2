package congestion

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Controller is one connection's congestion control. All windows are in
// bytes; now is monotonic nanoseconds. See the package doc for which events
// the tcp engine reports and which logic stays in the engine.
type Controller interface {
	// Name is the registered name ("newreno", "cubic").
	Name() string

	// Init resets all state for a new connection: cwnd = IW of RFC 6928,
	// min(10*MSS, max(2*MSS, 14600)); ssthresh = InfiniteSsthresh.
	Init(mss uint32, now int64)

	// SetMSS changes the sender's maximum segment size. If cwnd is still
	// the initial window (nothing acknowledged or lost yet) it becomes the
	// initial window for the new MSS; otherwise cwnd keeps its byte value,
	// floored at one MSS.
	SetMSS(mss uint32)

	// Cwnd is the congestion window in bytes.
	Cwnd() uint32
	// Ssthresh is the slow-start threshold in bytes (InfiniteSsthresh until
	// the first loss).
	Ssthresh() uint32
	// InSlowStart reports cwnd < ssthresh (RFC 5681 §3.1).
	InSlowStart() bool

	// OnAck reports acked bytes of new data, cumulatively or newly SACKed,
	// acknowledged outside fast recovery. rtt is this ACK's RTT sample in
	// nanoseconds, or < 0 when it has none; flight is the bytes that were
	// in flight just before this ACK.
	OnAck(acked uint32, rtt int64, flight uint32, now int64)

	// OnCongestionEvent reports entry into fast recovery (three duplicate
	// ACKs, or RFC 6675 loss detection). flight is FlightSize at that
	// moment. Once per recovery episode.
	OnCongestionEvent(flight uint32, now int64)

	// OnRecoveryExit reports the end of fast recovery: an ACK covered the
	// recovery point. cwnd is never raised by it.
	OnRecoveryExit(now int64)

	// OnRTO reports an expiry of the retransmission timer. flight is
	// FlightSize before the timeout. cwnd becomes the loss window, one MSS
	// (RFC 5681 §3.1). A repeated RTO with no OnAck in between (the same
	// segment timed out again) keeps ssthresh as it is (RFC 5681 §3.1, the
	// note to equation 4).
	OnRTO(flight uint32, now int64)

	// OnIdle reports that sending resumes after idle nanoseconds with
	// nothing in flight; rto is the current retransmission timeout. When
	// idle > rto, cwnd becomes min(cwnd, IW), the restart window of RFC
	// 5681 §4.1.
	OnIdle(idle int64, rto int64, now int64)
}

// InfiniteSsthresh is ssthresh before the first congestion event: "arbitrarily
// high" (RFC 5681 §3.1).
const InfiniteSsthresh = math.MaxUint32

// MaxCwnd caps cwnd so that byte arithmetic never overflows a uint32. It is
// far beyond any window a 32-bit sequence space (with window scaling, at most
// 2^30 bytes) can use.
const MaxCwnd = 1 << 30

// DefaultMSS is used when Init or SetMSS is given 0: the RFC 9293 §3.7.1
// default send MSS for IPv4.
const DefaultMSS = 536

// ErrUnknown is returned (wrapped) by New for a name it does not know.
var ErrUnknown = errors.New("congestion: unknown controller")

// Names lists the names New accepts, sorted. It allocates a new slice.
func Names() []string { return []string{"cubic", "newreno"} }

// New returns a fresh controller by name; call Init before use. An unknown
// name gives an error wrapping ErrUnknown that lists the valid names. It
// allocates; call it at connection setup, not per packet.
func New(name string) (Controller, error) {
	switch name {
	case "newreno":
		return new(NewReno), nil
	case "cubic":
		return new(Cubic), nil
	}
	return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
}

// InitialWindow is IW of RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)) bytes.
func InitialWindow(mss uint32) uint32 {
	m := uint64(mss)
	return uint32(min(10*m, max(2*m, 14600), MaxCwnd))
}

// window is the state and the rules NewReno and CUBIC share: RFC 5681 slow
// start with RFC 3465 byte counting, the loss window, the restart window.
type window struct {
	mss      uint32
	cwnd     uint32
	ssthresh uint32
	iw       uint32
	// caAcked counts bytes acknowledged in congestion avoidance toward the
	// next one-MSS increase (RFC 3465 §2.1, RFC 5681 §3.1 byte counting).
	caAcked uint32
	// fresh: cwnd is still the initial window (SetMSS may recompute it).
	fresh bool
	// rtoHeld: an RTO happened with no new ACK since; a further RTO keeps
	// ssthresh (RFC 5681 §3.1, note to equation 4).
	rtoHeld bool
}

// abcLimit is L of RFC 3465 §2.2, in segments: slow start grows cwnd by at
// most L*SMSS per ACK.
const abcLimit = 2

func (w *window) init(mss uint32) {
	if mss == 0 {
		mss = DefaultMSS
	}
	*w = window{mss: mss, iw: InitialWindow(mss), ssthresh: InfiniteSsthresh, fresh: true}
	w.cwnd = w.iw
}

func (w *window) setMSS(mss uint32) {
	if mss == 0 {
		mss = DefaultMSS
	}
	w.mss = mss
	w.iw = InitialWindow(mss)
	if w.fresh {
		w.cwnd = w.iw
		return
	}
	w.cwnd = max(w.cwnd, mss)
}

// Cwnd is the congestion window in bytes.
func (w *window) Cwnd() uint32 { return w.cwnd }

// Ssthresh is the slow-start threshold in bytes.
func (w *window) Ssthresh() uint32 { return w.ssthresh }

// InSlowStart reports cwnd < ssthresh. RFC 5681 §3.1 allows either
// algorithm at equality; this package uses congestion avoidance there.
func (w *window) InSlowStart() bool { return w.cwnd < w.ssthresh }

// appLimited is the package's RFC 7661-spirit rule: the sender had less than
// half its window in flight, so this ACK says nothing about whether a larger
// window would be safe.
func (w *window) appLimited(flight uint32) bool {
	return 2*uint64(flight) < uint64(w.cwnd)
}

// slowStart applies RFC 5681 §3.1 slow start with RFC 3465 Appropriate
// Byte Counting: cwnd += min(acked, L*SMSS), L = 2, never past ssthresh.
// It returns the acknowledged bytes left over once cwnd reached ssthresh,
// which the caller counts toward congestion avoidance.
func (w *window) slowStart(acked uint32) uint32 {
	inc := min(acked, abcLimit*w.mss)
	room := w.ssthresh - w.cwnd // cwnd < ssthresh here
	if inc < room {
		w.cwnd = min(w.cwnd+inc, MaxCwnd)
		return 0
	}
	w.cwnd = min(w.ssthresh, MaxCwnd)
	return acked - room
}

// lossSsthresh is RFC 5681 equation 4: max(FlightSize/2, 2*SMSS).
func (w *window) lossSsthresh(flight uint32) uint32 {
	return max(flight/2, 2*w.mss)
}

// restart applies the restart window of RFC 5681 §4.1: after an idle period
// longer than the RTO, cwnd = min(IW, cwnd). It reports whether cwnd shrank.
func (w *window) restart(idle, rto int64) bool {
	if idle <= rto || w.cwnd <= w.iw {
		return false
	}
	w.cwnd = w.iw
	w.caAcked = 0
	return true
}
