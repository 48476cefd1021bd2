// Package tcptest is a harness for unit tests of package tcp: a Stack on a
// small slab, wired to a capture Output and a manual clock. Tests inject
// crafted segments with Send, check what the stack emits with Expect and
// checker options, and move time with Advance.
//
// Ownership: a Harness belongs to one test goroutine. Captured packets are
// the harness's until Expect (or Drain) consumes them; it releases them.
// At cleanup the harness aborts every connection, releases what is left,
// and fails the test if any slab frame leaked.
package tcptest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/wire"
)

// Default addresses and ports of the harness (198.18.0.0/15, RFC 2544).
var (
	LocalAddr  = [4]byte{198, 18, 0, 1}
	RemoteAddr = [4]byte{198, 18, 0, 2}
)

const (
	LocalPort   = 80
	RemotePort  = 40000
	Millisecond = int64(1e6)
	Second      = int64(1e9)
)

// Harness is a Stack under test with a capture Output and a manual clock.
type Harness struct {
	T     testing.TB
	Slab  *buf.Slab
	Wheel *timer.Wheel
	Stack *tcp.Stack
	Now   int64
	Out   []*buf.Packet // emitted segments not yet consumed, oldest first
	// Remote and RemotePort are the defaults Send uses as the source.
	Remote     [4]byte
	RemotePort uint16
	LocalPort  uint16
}

// Output captures a segment (tcp.Output).
func (h *Harness) Output(p *buf.Packet, dst [4]byte, proto uint8, now int64) {
	if proto != wire.ProtoTCP || dst != h.Remote {
		h.T.Errorf("tcptest: Output to %v proto %d, want %v proto %d", dst, proto, h.Remote, wire.ProtoTCP)
	}
	h.Out = append(h.Out, p)
}

// New returns a harness whose Stack has cfg (Addr defaults to LocalAddr).
func New(t testing.TB, cfg tcp.Config) *Harness {
	t.Helper()
	if cfg.Addr == ([4]byte{}) {
		cfg.Addr = LocalAddr
	}
	slab, err := buf.NewSlab(1024, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	h := &Harness{T: t, Slab: slab, Now: 1000 * Second, Remote: RemoteAddr, RemotePort: RemotePort, LocalPort: LocalPort}
	h.Wheel = timer.NewWheel(Millisecond, 4096, h.Now)
	h.Stack, err = tcp.New(cfg, slab, h, h.Wheel)
	if err != nil {
		slab.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Stack.Shutdown(h.Now)
		h.Drain()
		if n := slab.InUse(); n != 0 {
			t.Errorf("tcptest: %d slab frames leaked", n)
		}
		slab.Close()
	})
	return h
}

// Advance moves the clock by d and fires due timers.
func (h *Harness) Advance(d int64) {
	h.Now += d
	h.Wheel.Advance(h.Now)
}

// Seg is a segment to inject. Zero ports mean the harness defaults;
// Window 0 means 65535 unless ZeroWindow is set.
type Seg struct {
	SrcPort, DstPort uint16
	Seq, Ack         wire.Seq
	Flags            wire.TCPFlags
	Window           uint16
	ZeroWindow       bool
	Opts             wire.TCPOptions
	Payload          []byte
	BadChecksum      bool
	Src              [4]byte // zero: h.Remote
}

// Build encodes s into a packet from the harness slab.
func (h *Harness) Build(s Seg) *buf.Packet {
	if s.SrcPort == 0 {
		s.SrcPort = h.RemotePort
	}
	if s.DstPort == 0 {
		s.DstPort = h.LocalPort
	}
	if s.Window == 0 && !s.ZeroWindow {
		s.Window = 65535
	}
	src := s.Src
	if src == ([4]byte{}) {
		src = h.Remote
	}
	p := h.Slab.Alloc()
	if p == nil {
		h.T.Fatal("tcptest: slab exhausted")
	}
	ol := s.Opts.EncodedLen()
	b := p.Append(wire.TCPMinHeaderLen + ol + len(s.Payload))
	t := wire.TCP(b)
	t.Encode(&wire.TCPFields{SrcPort: s.SrcPort, DstPort: s.DstPort, Seq: s.Seq, Ack: s.Ack, Flags: s.Flags, Window: s.Window, OptionsLen: ol})
	wire.EncodeTCPOptions(b[wire.TCPMinHeaderLen:], &s.Opts)
	copy(b[wire.TCPMinHeaderLen+ol:], s.Payload)
	cs := t.ComputeChecksum(src, h.Stack.Config().Addr)
	if s.BadChecksum {
		cs ^= 0x5a5a
	}
	t.SetChecksum(cs)
	return p
}

// Send injects s into the stack (as if from h.Remote).
func (h *Harness) Send(s Seg) {
	src := s.Src
	if src == ([4]byte{}) {
		src = h.Remote
	}
	h.Stack.Deliver(h.Build(s), src, h.Stack.Config().Addr, h.Now)
}

// Got is an emitted segment, decoded. Its byte slices are copies.
type Got struct {
	Raw     []byte
	SrcPort uint16
	DstPort uint16
	Seq     wire.Seq
	Ack     wire.Seq
	Flags   wire.TCPFlags
	Window  uint16
	Opts    wire.TCPOptions
	Payload []byte
}

func (g *Got) String() string {
	return fmt.Sprintf("%d>%d [%v] seq=%d ack=%d win=%d len=%d", g.SrcPort, g.DstPort, g.Flags, g.Seq, g.Ack, g.Window, len(g.Payload))
}

// Check is one assertion on an emitted segment.
type Check func(g *Got) error

func Flags(f wire.TCPFlags) Check {
	return func(g *Got) error {
		if g.Flags != f {
			return fmt.Errorf("flags %v, want %v", g.Flags, f)
		}
		return nil
	}
}

func Seq(s wire.Seq) Check {
	return func(g *Got) error {
		if g.Seq != s {
			return fmt.Errorf("seq %d, want %d", g.Seq, s)
		}
		return nil
	}
}

func Ack(a wire.Seq) Check {
	return func(g *Got) error {
		if g.Ack != a {
			return fmt.Errorf("ack %d, want %d", g.Ack, a)
		}
		return nil
	}
}

// Window checks the raw (unscaled) window field.
func Window(w uint16) Check {
	return func(g *Got) error {
		if g.Window != w {
			return fmt.Errorf("window %d, want %d", g.Window, w)
		}
		return nil
	}
}

func Payload(b []byte) Check {
	return func(g *Got) error {
		if !bytes.Equal(g.Payload, b) {
			return fmt.Errorf("payload %q (%d bytes), want %q (%d bytes)", trunc(g.Payload), len(g.Payload), trunc(b), len(b))
		}
		return nil
	}
}

func PayloadLen(n int) Check {
	return func(g *Got) error {
		if len(g.Payload) != n {
			return fmt.Errorf("payload length %d, want %d", len(g.Payload), n)
		}
		return nil
	}
}

func MSS(m uint16) Check {
	return func(g *Got) error {
		if !g.Opts.HasMSS || g.Opts.MSS != m {
			return fmt.Errorf("MSS option %v/%d, want %d", g.Opts.HasMSS, g.Opts.MSS, m)
		}
		return nil
	}
}

// WScale checks the window scale option; ws < 0 means absent.
func WScale(ws int) Check {
	return func(g *Got) error {
		if ws < 0 {
			if g.Opts.HasWScale {
				return fmt.Errorf("unexpected window scale %d", g.Opts.WScale)
			}
			return nil
		}
		if !g.Opts.HasWScale || int(g.Opts.WScale) != ws {
			return fmt.Errorf("window scale %v/%d, want %d", g.Opts.HasWScale, g.Opts.WScale, ws)
		}
		return nil
	}
}

func SACKPermitted(want bool) Check {
	return func(g *Got) error {
		if g.Opts.SACKPermitted != want {
			return fmt.Errorf("SACK-permitted %v, want %v", g.Opts.SACKPermitted, want)
		}
		return nil
	}
}

// TSEcr checks that timestamps are present and echo ecr.
func TSEcr(ecr uint32) Check {
	return func(g *Got) error {
		if !g.Opts.HasTimestamps || g.Opts.TSEcr != ecr {
			return fmt.Errorf("timestamps %v ecr %d, want ecr %d", g.Opts.HasTimestamps, g.Opts.TSEcr, ecr)
		}
		return nil
	}
}

// Timestamps checks presence (or absence) of the timestamps option.
func Timestamps(want bool) Check {
	return func(g *Got) error {
		if g.Opts.HasTimestamps != want {
			return fmt.Errorf("timestamps %v, want %v", g.Opts.HasTimestamps, want)
		}
		return nil
	}
}

// SACKBlocks checks the SACK blocks exactly (none: no SACK option).
func SACKBlocks(blocks ...wire.SACKBlock) Check {
	return func(g *Got) error {
		if g.Opts.NumSACK != len(blocks) {
			return fmt.Errorf("%d SACK blocks %v, want %v", g.Opts.NumSACK, g.Opts.SACK[:g.Opts.NumSACK], blocks)
		}
		for i, b := range blocks {
			if g.Opts.SACK[i] != b {
				return fmt.Errorf("SACK blocks %v, want %v", g.Opts.SACK[:g.Opts.NumSACK], blocks)
			}
		}
		return nil
	}
}

func trunc(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// decode pops and decodes the oldest captured segment.
func (h *Harness) pop() (*Got, error) {
	if len(h.Out) == 0 {
		return nil, fmt.Errorf("no segment emitted")
	}
	p := h.Out[0]
	h.Out = h.Out[1:]
	defer p.Release()
	raw := append([]byte(nil), p.Data()...)
	t := wire.TCP(raw)
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("emitted segment fails Check: %v", err)
	}
	if p.Meta.CsumPartial {
		// Offload: the field holds the pseudo-header sum; finish it as a NIC would.
		t.SetChecksum(0)
		t.SetChecksum(t.ComputeChecksum(h.Stack.Config().Addr, h.Remote))
	}
	if !t.ChecksumValid(h.Stack.Config().Addr, h.Remote) {
		return nil, fmt.Errorf("emitted segment has a bad checksum")
	}
	g := &Got{Raw: raw, SrcPort: t.SrcPort(), DstPort: t.DstPort(), Seq: t.Seq(), Ack: t.Ack(), Flags: t.Flags(), Window: t.Window(),
		Payload: t.Payload()}
	if err := wire.ParseTCPOptions(t.Options(), &g.Opts); err != nil {
		return nil, fmt.Errorf("emitted options: %v", err)
	}
	return g, nil
}

// Expect checks the next emitted segment and returns it.
func (h *Harness) Expect(t testing.TB, what string, checks ...Check) *Got {
	t.Helper()
	g, err := h.pop()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for _, c := range checks {
		if err := c(g); err != nil {
			t.Fatalf("%s: %v\n\tgot %v", what, err, g)
		}
	}
	return g
}

// ExpectNone fails if a segment was emitted.
func (h *Harness) ExpectNone(t testing.TB, what string) {
	t.Helper()
	if len(h.Out) != 0 {
		g, _ := h.pop()
		t.Fatalf("%s: unexpected segment %v", what, g)
	}
}

// Drain consumes every captured segment and returns them decoded.
func (h *Harness) Drain() []*Got {
	var out []*Got
	for len(h.Out) > 0 {
		if g, err := h.pop(); err == nil {
			out = append(out, g)
		}
	}
	return out
}

// Event is one Handler call a Recorder saw.
type Event struct {
	Kind   string // "open", "data", "writable", "peerclosed", "close"
	Data   []byte
	Reason tcp.CloseReason
}

// Recorder is a tcp.Handler that records every event. It consumes all
// data unless Consume says otherwise.
type Recorder struct {
	Events  []Event
	Data    []byte
	Conn    *tcp.Conn
	Consume func(data []byte) int // nil: consume everything
	OnOpenF func(c *tcp.Conn, now int64)
	OnDataF func(c *tcp.Conn, data []byte, now int64)
	Closed  bool
	Reason  tcp.CloseReason
}

func (r *Recorder) OnOpen(c *tcp.Conn, now int64) {
	r.Conn = c
	r.Events = append(r.Events, Event{Kind: "open"})
	if r.OnOpenF != nil {
		r.OnOpenF(c, now)
	}
}

func (r *Recorder) OnData(c *tcp.Conn, data []byte, now int64) int {
	n := len(data)
	if r.Consume != nil {
		n = r.Consume(data)
	}
	r.Data = append(r.Data, data[:n]...)
	r.Events = append(r.Events, Event{Kind: "data", Data: append([]byte(nil), data[:n]...)})
	if r.OnDataF != nil {
		r.OnDataF(c, data, now)
	}
	return n
}

func (r *Recorder) OnWritable(c *tcp.Conn, now int64) {
	r.Events = append(r.Events, Event{Kind: "writable"})
}

func (r *Recorder) OnPeerClosed(c *tcp.Conn, now int64) {
	r.Events = append(r.Events, Event{Kind: "peerclosed"})
}

func (r *Recorder) OnClose(c *tcp.Conn, reason tcp.CloseReason, now int64) {
	r.Events = append(r.Events, Event{Kind: "close", Reason: reason})
	r.Closed, r.Reason = true, reason
	r.Conn = nil
}

// Has reports whether an event of kind was recorded.
func (r *Recorder) Has(kind string) bool {
	for _, e := range r.Events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// SynOpts are the options a Linux client puts on its SYN.
func SynOpts(mss uint16, ws uint8, tsval uint32) wire.TCPOptions {
	return wire.TCPOptions{HasMSS: true, MSS: mss, HasWScale: true, WScale: ws, SACKPermitted: true, HasTimestamps: true, TSVal: tsval}
}
