package tcp_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/tcp/tcptest"
	"github.com/shardnet/shardnet/wire"
)

const (
	SYN = wire.TCPFlagSYN
	ACK = wire.TCPFlagACK
	FIN = wire.TCPFlagFIN
	RST = wire.TCPFlagRST
	PSH = wire.TCPFlagPSH
)

type (
	Seg = tcptest.Seg
)

var (
	Flags = tcptest.Flags
	Seqn  = tcptest.Seq
	Ackn  = tcptest.Ack
)

const ms = tcptest.Millisecond

// peer is the crafted remote end of a harness connection: its next
// sequence number and what it has acknowledged.
type peer struct {
	h   *tcptest.Harness
	rec *tcptest.Recorder
	c   *tcp.Conn
	nxt wire.Seq // peer's SND.NXT
	iss wire.Seq // stack's ISS
	rcv wire.Seq // stack's next byte (peer's RCV.NXT)
	ts  bool
	tsv uint32
	ecr uint32
}

func (p *peer) opts() wire.TCPOptions {
	if !p.ts {
		return wire.TCPOptions{}
	}
	p.tsv++
	return wire.TCPOptions{HasTimestamps: true, TSVal: p.tsv, TSEcr: p.ecr}
}

// seg sends a segment from the peer at its current sequence numbers.
func (p *peer) seg(flags wire.TCPFlags, payload []byte) {
	p.h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: flags, Payload: payload, Opts: p.opts()})
	p.nxt = p.nxt.Add(uint32(len(payload)))
	if flags&(SYN|FIN) != 0 {
		p.nxt = p.nxt.Add(1)
	}
}

// expect checks the next segment and tracks the stack's sequence space.
func (p *peer) expect(t *testing.T, what string, checks ...tcptest.Check) *tcptest.Got {
	t.Helper()
	g := p.h.Expect(t, what, checks...)
	if g.Opts.HasTimestamps {
		p.ecr = g.Opts.TSVal
	}
	end := g.Seq.Add(uint32(len(g.Payload)))
	if g.Flags&(SYN|FIN) != 0 {
		end = end.Add(1)
	}
	if end.GreaterThan(p.rcv) {
		p.rcv = end
	}
	return g
}

type passiveOpts struct {
	cfg  tcp.Config
	syn  wire.TCPOptions
	wnd  uint16
	noTS bool
}

// passive opens a connection to the harness stack's listener on port 80.
func passive(t *testing.T, o passiveOpts) *peer {
	t.Helper()
	h := tcptest.New(t, o.cfg)
	rec := &tcptest.Recorder{}
	if err := h.Stack.Listen(tcptest.LocalPort, rec); err != nil {
		t.Fatal(err)
	}
	p := &peer{h: h, rec: rec, nxt: 5000}
	syn := o.syn
	if syn == (wire.TCPOptions{}) {
		syn = wire.TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 2, SACKPermitted: true}
	}
	if syn.HasTimestamps {
		p.ts = true
		p.tsv = syn.TSVal
	}
	h.Send(Seg{Seq: p.nxt, Flags: SYN, Opts: syn, Window: o.wnd})
	p.nxt = p.nxt.Add(1)
	g := p.expect(t, "SYN-ACK after SYN", Flags(SYN|ACK), Ackn(p.nxt), tcptest.MSS(1460))
	p.iss = g.Seq
	p.rcv = g.Seq + 1
	p.seg(ACK, nil)
	if !rec.Has("open") || rec.Conn == nil {
		t.Fatalf("no OnOpen after handshake: %v", rec.Events)
	}
	p.c = rec.Conn
	if st := p.c.State(); st != tcp.StateEstablished {
		t.Fatalf("state %v after handshake", st)
	}
	h.ExpectNone(t, "nothing after the handshake ACK")
	return p
}

// ---------------------------------------------------------------------
// CLOSED (RFC 9293 §3.10.7.1)
// ---------------------------------------------------------------------

func TestClosedRSTForSegmentWithACK(t *testing.T) {
	h := tcptest.New(t, tcp.Config{})
	h.Send(Seg{Seq: 100, Ack: 7777, Flags: ACK, Payload: []byte("x")})
	h.Expect(t, "RST for an ACK to a closed port", Flags(RST), Seqn(7777))
	if d := h.Stack.Stats().Drops[tcp.DropNoListener]; d != 1 {
		t.Fatalf("no_listener drops = %d", d)
	}
}

func TestClosedRSTACKForSegmentWithoutACK(t *testing.T) {
	h := tcptest.New(t, tcp.Config{})
	h.Send(Seg{Seq: 100, Flags: SYN})
	h.Expect(t, "RST,ACK for a SYN to a closed port", Flags(RST|ACK), Seqn(0), Ackn(101))
	h.Send(Seg{Seq: 100, Flags: FIN | PSH, Payload: []byte("abc")})
	h.Expect(t, "RST,ACK acks SEG.SEQ+SEG.LEN", Flags(RST|ACK), Seqn(0), Ackn(104))
}

func TestClosedNoRSTForRST(t *testing.T) {
	h := tcptest.New(t, tcp.Config{})
	h.Send(Seg{Seq: 100, Flags: RST})
	h.Send(Seg{Seq: 100, Ack: 5, Flags: RST | ACK})
	h.ExpectNone(t, "no reply to a RST")
}

func TestBadChecksumAndHeaderDropped(t *testing.T) {
	h := tcptest.New(t, tcp.Config{})
	h.Send(Seg{Seq: 100, Flags: SYN, BadChecksum: true})
	h.ExpectNone(t, "bad checksum dropped silently")
	p := h.Slab.Alloc()
	copy(p.Append(12), "short header")
	h.Stack.Deliver(p, h.Remote, tcptest.LocalAddr, h.Now)
	st := h.Stack.Stats()
	if st.Drops[tcp.DropBadChecksum] != 1 || st.Drops[tcp.DropBadHeader] != 1 {
		t.Fatalf("drops %v", st.Drops)
	}
	// The NIC said the checksum was verified: it is not checked again.
	p = h.Build(Seg{Seq: 100, Flags: SYN, BadChecksum: true})
	p.Meta.CsumVerified = true
	h.Stack.Deliver(p, h.Remote, tcptest.LocalAddr, h.Now)
	h.Expect(t, "RST for a NIC-verified SYN to a closed port", Flags(RST|ACK))
}

// ---------------------------------------------------------------------
// LISTEN (§3.10.7.2) and SYN-RECEIVED
// ---------------------------------------------------------------------

func TestListenSynAckOptions(t *testing.T) {
	h := tcptest.New(t, tcp.Config{RecvBuf: 1 << 20})
	rec := &tcptest.Recorder{}
	h.Stack.Listen(80, rec)
	h.Send(Seg{Seq: 1 << 31, Flags: SYN, Opts: tcptest.SynOpts(1400, 7, 4242)})
	g := h.Expect(t, "SYN-ACK echoes the options", Flags(SYN|ACK), Ackn(1<<31+1), tcptest.MSS(1460),
		tcptest.WScale(5), tcptest.SACKPermitted(true), tcptest.TSEcr(4242), tcptest.Window(65535))
	h.Send(Seg{Seq: 1<<31 + 1, Ack: g.Seq + 1, Flags: ACK, Window: 1000,
		Opts: wire.TCPOptions{HasTimestamps: true, TSVal: 4243, TSEcr: g.Opts.TSVal}})
	if rec.Conn == nil {
		t.Fatal("not established")
	}
	i := rec.Conn.Info()
	if !i.SACK || !i.Timestamps || i.SndWScale != 7 || i.RcvWScale != 5 || i.SndWnd != 1000<<7 || i.MSS != 1400-12 {
		t.Fatalf("negotiated %+v", i)
	}
}

func TestListenNoOptionsOffered(t *testing.T) {
	h := tcptest.New(t, tcp.Config{})
	h.Stack.Listen(80, &tcptest.Recorder{})
	h.Send(Seg{Seq: 9, Flags: SYN})
	h.Expect(t, "SYN-ACK without options the peer did not offer", Flags(SYN|ACK), tcptest.WScale(-1),
		tcptest.SACKPermitted(false), tcptest.Timestamps(false), tcptest.MSS(1460))
}

func TestListenIgnoresRSTAndRejectsACK(t *testing.T) {
	h := tcptest.New(t, tcp.Config{NoSynCookies: true})
	h.Stack.Listen(80, &tcptest.Recorder{})
	h.Send(Seg{Seq: 9, Flags: RST})
	h.ExpectNone(t, "RST to LISTEN ignored")
	h.Send(Seg{Seq: 9, Ack: 1234, Flags: ACK})
	h.Expect(t, "RST for an ACK to LISTEN", Flags(RST), Seqn(1234))
	h.Send(Seg{Seq: 9, Flags: FIN})
	h.ExpectNone(t, "no SYN, no ACK: dropped")
}

func TestSynReceivedRetransmitsSynAck(t *testing.T) {
	h := tcptest.New(t, tcp.Config{SynRetries: 2})
	rec := &tcptest.Recorder{}
	h.Stack.Listen(80, rec)
	h.Send(Seg{Seq: 9, Flags: SYN})
	g := h.Expect(t, "SYN-ACK", Flags(SYN|ACK))
	h.Send(Seg{Seq: 9, Flags: SYN})
	h.Expect(t, "SYN-ACK again for a retransmitted SYN", Flags(SYN|ACK), Seqn(g.Seq), Ackn(10))
	h.Advance(999 * ms)
	h.ExpectNone(t, "no retransmission before the initial RTO (1 s)")
	h.Advance(1 * ms)
	h.Expect(t, "SYN-ACK retransmitted after 1 s", Flags(SYN|ACK), Seqn(g.Seq))
	h.Advance(2000 * ms)
	h.Expect(t, "SYN-ACK retransmitted after 2 s more (back-off)", Flags(SYN|ACK), Seqn(g.Seq))
	h.Advance(4000 * ms)
	h.ExpectNone(t, "gave up after SynRetries")
	if h.Stack.Conns() != 0 || rec.Has("close") {
		t.Fatalf("conns %d events %v", h.Stack.Conns(), rec.Events)
	}
	if h.Stack.Stats().Timeouts != 1 {
		t.Fatal("timeout not counted")
	}
}

func TestSynReceivedBadAckGetsRST(t *testing.T) {
	h := tcptest.New(t, tcp.Config{})
	h.Stack.Listen(80, &tcptest.Recorder{})
	h.Send(Seg{Seq: 9, Flags: SYN})
	g := h.Expect(t, "SYN-ACK", Flags(SYN|ACK))
	h.Send(Seg{Seq: 10, Ack: g.Seq + 100, Flags: ACK})
	h.Expect(t, "RST for an unacceptable ACK in SYN-RECEIVED", Flags(RST), Seqn(g.Seq+100))
	// RST at RCV.NXT sends the connection back to LISTEN.
	h.Send(Seg{Seq: 10, Flags: RST})
	h.ExpectNone(t, "nothing after the RST")
	if h.Stack.Conns() != 0 {
		t.Fatal("SYN-RECEIVED connection survived a RST")
	}
}

func TestSynBacklogAndCookies(t *testing.T) {
	h := tcptest.New(t, tcp.Config{SynBacklog: 1})
	rec := &tcptest.Recorder{}
	h.Stack.Listen(80, rec)
	h.Send(Seg{SrcPort: 1000, Seq: 9, Flags: SYN})
	h.Expect(t, "SYN-ACK from the backlog", Flags(SYN|ACK))
	// Backlog full: a cookie SYN-ACK, and no state.
	h.Send(Seg{SrcPort: 1001, Seq: 500, Flags: SYN, Opts: tcptest.SynOpts(1300, 9, 77)})
	g := h.Expect(t, "cookie SYN-ACK", Flags(SYN|ACK), Ackn(501), tcptest.TSEcr(77), tcptest.SACKPermitted(true))
	if h.Stack.Conns() != 1 || h.Stack.Stats().SynCookiesSent != 1 {
		t.Fatalf("conns %d cookies %d", h.Stack.Conns(), h.Stack.Stats().SynCookiesSent)
	}
	// A forged ACK fails.
	h.Send(Seg{SrcPort: 1001, Seq: 501, Ack: g.Seq + 2, Flags: ACK})
	h.Expect(t, "RST for a bad cookie", Flags(RST), Seqn(g.Seq+2))
	// The right ACK (with data) creates the connection.
	h.Send(Seg{SrcPort: 1001, Seq: 501, Ack: g.Seq + 1, Flags: ACK | PSH, Payload: []byte("GET /"), Window: 100,
		Opts: wire.TCPOptions{HasTimestamps: true, TSVal: 78, TSEcr: g.Opts.TSVal}})
	st := h.Stack.Stats()
	if st.SynCookiesOK != 1 || rec.Conn == nil || string(rec.Data) != "GET /" {
		t.Fatalf("cookie ok %d conn %v data %q", st.SynCookiesOK, rec.Conn, rec.Data)
	}
	i := rec.Conn.Info()
	if i.MSS != 1300-12 || !i.SACK || !i.Timestamps || i.SndWScale != 9 || i.SndWnd != 100<<9 {
		t.Fatalf("cookie connection options %+v", i)
	}
	// Delayed ACK for the data.
	h.Advance(40 * ms)
	h.Expect(t, "delayed ACK of the cookie ACK's data", Flags(ACK), Ackn(506))
}

func TestSynCookieWithoutTimestampsAndExpiry(t *testing.T) {
	h := tcptest.New(t, tcp.Config{SynBacklog: 1})
	rec := &tcptest.Recorder{}
	h.Stack.Listen(80, rec)
	h.Send(Seg{SrcPort: 1000, Seq: 9, Flags: SYN})
	h.Expect(t, "SYN-ACK", Flags(SYN|ACK))
	h.Send(Seg{SrcPort: 1001, Seq: 500, Flags: SYN, Opts: wire.TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 3}})
	g := h.Expect(t, "cookie SYN-ACK without timestamps drops wscale", Flags(SYN|ACK), tcptest.WScale(-1), tcptest.Timestamps(false))
	h.Advance(3 * 64 * tcptest.Second)
	h.Drain()
	h.Send(Seg{SrcPort: 1001, Seq: 501, Ack: g.Seq + 1, Flags: ACK})
	h.Expect(t, "RST for an expired cookie", Flags(RST))
	if h.Stack.Stats().SynCookiesOK != 0 {
		t.Fatal("expired cookie accepted")
	}
}

// ---------------------------------------------------------------------
// SYN-SENT (§3.10.7.3)
// ---------------------------------------------------------------------

func dial(t *testing.T, cfg tcp.Config) (*tcptest.Harness, *tcptest.Recorder, *tcp.Conn, *tcptest.Got) {
	t.Helper()
	h := tcptest.New(t, cfg)
	rec := &tcptest.Recorder{}
	c, err := h.Stack.DialFrom(tcptest.LocalPort, h.Remote, tcptest.RemotePort, rec, h.Now)
	if err != nil {
		t.Fatal(err)
	}
	g := h.Expect(t, "SYN", Flags(SYN), tcptest.MSS(1460), tcptest.WScale(3), tcptest.SACKPermitted(true), tcptest.Timestamps(true))
	if c.State() != tcp.StateSynSent {
		t.Fatalf("state %v", c.State())
	}
	return h, rec, c, g
}

func TestSynSentEstablish(t *testing.T) {
	h, rec, c, syn := dial(t, tcp.Config{})
	h.Send(Seg{Seq: 300, Ack: syn.Seq + 1, Flags: SYN | ACK, Window: 2000,
		Opts: wire.TCPOptions{HasMSS: true, MSS: 1000, HasWScale: true, WScale: 1, HasTimestamps: true, TSVal: 9, TSEcr: syn.Opts.TSVal}})
	h.Expect(t, "ACK of the SYN-ACK", Flags(ACK), Seqn(syn.Seq+1), Ackn(301), tcptest.TSEcr(9))
	if c.State() != tcp.StateEstablished || !rec.Has("open") {
		t.Fatalf("state %v events %v", c.State(), rec.Events)
	}
	i := c.Info()
	if i.MSS != 1000-12 || i.SACK || i.SndWnd != 2000 || i.SndWScale != 1 {
		t.Fatalf("info %+v", i)
	}
}

func TestSynSentBadAckAndRefused(t *testing.T) {
	h, rec, c, syn := dial(t, tcp.Config{})
	h.Send(Seg{Seq: 300, Ack: syn.Seq + 5, Flags: SYN | ACK})
	h.Expect(t, "RST for an unacceptable SYN-ACK", Flags(RST), Seqn(syn.Seq+5))
	h.Send(Seg{Seq: 0, Ack: syn.Seq + 7, Flags: RST | ACK})
	h.ExpectNone(t, "no answer to a RST")
	if c.State() != tcp.StateSynSent {
		t.Fatal("RST with an unacceptable ACK closed the connection")
	}
	h.Send(Seg{Seq: 0, Ack: syn.Seq + 1, Flags: RST | ACK})
	if !rec.Closed || rec.Reason != tcp.CloseRefused {
		t.Fatalf("events %v", rec.Events)
	}
}

func TestSynSentTimeout(t *testing.T) {
	h, rec, _, syn := dial(t, tcp.Config{SynRetries: 1})
	h.Advance(tcptest.Second)
	h.Expect(t, "SYN retransmitted", Flags(SYN), Seqn(syn.Seq))
	h.Advance(2 * tcptest.Second)
	if !rec.Closed || rec.Reason != tcp.CloseTimeout {
		t.Fatalf("events %v", rec.Events)
	}
}

func TestSimultaneousOpen(t *testing.T) {
	h, rec, c, syn := dial(t, tcp.Config{})
	// The peer's SYN crosses ours.
	h.Send(Seg{Seq: 700, Flags: SYN, Opts: wire.TCPOptions{HasMSS: true, MSS: 1460}})
	h.Expect(t, "SYN,ACK with our ISS", Flags(SYN|ACK), Seqn(syn.Seq), Ackn(701))
	if c.State() != tcp.StateSynReceived {
		t.Fatalf("state %v", c.State())
	}
	h.Send(Seg{Seq: 701, Ack: syn.Seq + 1, Flags: ACK})
	if c.State() != tcp.StateEstablished || !rec.Has("open") {
		t.Fatalf("state %v", c.State())
	}
	h.ExpectNone(t, "nothing more")
}

// ---------------------------------------------------------------------
// ESTABLISHED: data, ACKs, reassembly, SACK
// ---------------------------------------------------------------------

func TestEstablishedReceiveDelayedAck(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	p.seg(ACK|PSH, []byte("hello"))
	if string(p.rec.Data) != "hello" {
		t.Fatalf("data %q", p.rec.Data)
	}
	h.ExpectNone(t, "one small segment: ACK delayed")
	h.Advance(39 * ms)
	h.ExpectNone(t, "still delayed")
	h.Advance(1 * ms)
	p.expect(t, "delayed ACK after 40 ms", Flags(ACK), Ackn(p.nxt))
	// Two full-sized segments: ACK at once.
	full := bytes.Repeat([]byte{'a'}, 1460)
	p.seg(ACK, full)
	h.ExpectNone(t, "first full segment")
	p.seg(ACK, full)
	p.expect(t, "ACK every second full segment", Flags(ACK), Ackn(p.nxt))
}

func TestEstablishedOutOfOrderSACKAndGapFill(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	base := p.nxt
	a, b, c := []byte("aaaa"), []byte("bbbb"), []byte("cccc")
	h.Send(Seg{Seq: base + 4, Ack: p.rcv, Flags: ACK, Payload: b})
	p.expect(t, "immediate duplicate ACK with SACK for out-of-order data", Flags(ACK), Ackn(base),
		tcptest.SACKBlocks(wire.SACKBlock{Start: base + 4, End: base + 8}))
	h.Send(Seg{Seq: base + 12, Ack: p.rcv, Flags: ACK, Payload: []byte("dddd")})
	p.expect(t, "most recent block first", Flags(ACK), Ackn(base),
		tcptest.SACKBlocks(wire.SACKBlock{Start: base + 12, End: base + 16}, wire.SACKBlock{Start: base + 4, End: base + 8}))
	if len(p.rec.Data) != 0 {
		t.Fatal("out-of-order data delivered")
	}
	if h.Slab.InUse() != 2 {
		t.Fatalf("%d frames held, want the 2 out-of-order packets", h.Slab.InUse())
	}
	h.Send(Seg{Seq: base, Ack: p.rcv, Flags: ACK, Payload: a})
	p.expect(t, "gap fill: immediate ACK", Flags(ACK), Ackn(base+8),
		tcptest.SACKBlocks(wire.SACKBlock{Start: base + 12, End: base + 16}))
	h.Send(Seg{Seq: base + 8, Ack: p.rcv, Flags: ACK, Payload: c})
	p.expect(t, "second gap fill", Flags(ACK), Ackn(base+16), tcptest.SACKBlocks())
	if string(p.rec.Data) != "aaaabbbbccccdddd" {
		t.Fatalf("data %q", p.rec.Data)
	}
	if h.Slab.InUse() != 0 {
		t.Fatalf("%d frames still held", h.Slab.InUse())
	}
	// Overlapping retransmission of old data: a duplicate, ACKed at once.
	h.Send(Seg{Seq: base + 2, Ack: p.rcv, Flags: ACK, Payload: []byte("aabbbbcc")})
	p.expect(t, "ACK for a duplicate", Flags(ACK), Ackn(base+16))
	if string(p.rec.Data) != "aaaabbbbccccdddd" {
		t.Fatalf("duplicate delivered: %q", p.rec.Data)
	}
}

func TestReassemblyBound(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{ReassemblySegs: 2}})
	h := p.h
	base := p.nxt
	for i := 1; i <= 3; i++ {
		h.Send(Seg{Seq: base.Add(uint32(10 * i)), Ack: p.rcv, Flags: ACK, Payload: []byte("0123456789")})
		h.Drain()
	}
	if d := h.Stack.Stats().Drops[tcp.DropReassemblyFull]; d != 1 {
		t.Fatalf("reassembly_full drops = %d", d)
	}
	if h.Slab.InUse() != 2 {
		t.Fatalf("held %d frames", h.Slab.InUse())
	}
}

func TestEstablishedSendAndAck(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	if n := p.c.Write([]byte("response"), h.Now); n != 8 {
		t.Fatalf("Write = %d", n)
	}
	p.expect(t, "data segment", Flags(ACK|PSH), Seqn(p.iss+1), Payload([]byte("response")))
	if p.c.Buffered() != 8 {
		t.Fatal("data not kept until acknowledged")
	}
	p.seg(ACK, nil)
	if p.c.Buffered() != 0 {
		t.Fatal("acknowledged data not freed")
	}
	h.ExpectNone(t, "no reply to a pure ACK")
}

var Payload = tcptest.Payload

func TestNagleAndNoDelay(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	p.c.Write([]byte("a"), h.Now)
	p.expect(t, "first small segment goes", Payload([]byte("a")))
	p.c.Write([]byte("b"), h.Now)
	p.c.Write([]byte("c"), h.Now)
	h.ExpectNone(t, "Nagle holds small segments while data is unacknowledged")
	p.seg(ACK, nil)
	p.expect(t, "held data goes when the ACK arrives", Payload([]byte("bc")))
	p.seg(ACK, nil)
	p.c.SetNoDelay(true)
	p.c.Write([]byte("d"), h.Now)
	p.c.Write([]byte("e"), h.Now)
	p.expect(t, "no delay: d", Payload([]byte("d")))
	p.expect(t, "no delay: e", Payload([]byte("e")))
}

func TestSegmentationByMSSAndWindow(t *testing.T) {
	p := passive(t, passiveOpts{syn: wire.TCPOptions{HasMSS: true, MSS: 100}, wnd: 250})
	h := p.h
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK, Window: 250})
	data := bytes.Repeat([]byte("x"), 1000)
	if n := p.c.Write(data, h.Now); n != 1000 {
		t.Fatalf("Write = %d", n)
	}
	p.expect(t, "segment 1", PayloadLen(100))
	p.expect(t, "segment 2", PayloadLen(100))
	h.ExpectNone(t, "window (250) allows only 50 more bytes: sender SWS waits")
}

var PayloadLen = tcptest.PayloadLen

// ---------------------------------------------------------------------
// Retransmission (RFC 6298), fast retransmit (RFC 5681), SACK recovery
// ---------------------------------------------------------------------

func TestRTOBackoffAndKarn(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{MaxRetries: 3}})
	h := p.h
	p.c.Write([]byte("data"), h.Now)
	g := p.expect(t, "data", Payload([]byte("data")))
	rto := p.c.Info().RTO
	if rto != 200*ms {
		t.Fatalf("RTO %d after a ~0 RTT handshake, want MinRTO 200ms", rto)
	}
	h.Advance(rto - ms)
	h.ExpectNone(t, "before RTO")
	h.Advance(ms)
	p.expect(t, "retransmission after RTO", Seqn(g.Seq), Payload([]byte("data")))
	h.Advance(2*rto - ms)
	h.ExpectNone(t, "backed off: not yet")
	h.Advance(ms)
	p.expect(t, "second retransmission after 2·RTO", Seqn(g.Seq))
	h.Advance(4 * rto)
	p.expect(t, "third retransmission after 4·RTO", Seqn(g.Seq))
	if st := h.Stack.Stats(); st.RTOs != 3 || st.Retransmits != 3 {
		t.Fatalf("stats %+v", st)
	}
	h.Advance(8 * rto)
	p.expect(t, "RST after MaxRetries", Flags(RST|ACK))
	if !p.rec.Closed || p.rec.Reason != tcp.CloseTimeout {
		t.Fatalf("events %v", p.rec.Events)
	}
}

func TestFastRetransmitOnThreeDupAcks(t *testing.T) {
	p := passive(t, passiveOpts{syn: wire.TCPOptions{HasMSS: true, MSS: 100}})
	h := p.h
	p.c.Write(bytes.Repeat([]byte("y"), 500), h.Now)
	var first *tcptest.Got
	for i := 0; i < 5; i++ {
		g := p.expect(t, "initial window", PayloadLen(100))
		if i == 0 {
			first = g
		}
	}
	una := p.rcv.Add(0) - 500
	for i := 0; i < 2; i++ {
		h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK})
	}
	h.ExpectNone(t, "two duplicate ACKs: nothing to send (limited transmit has no new data)")
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK})
	p.expect(t, "fast retransmit on the third duplicate ACK", Seqn(first.Seq), PayloadLen(100))
	if st := h.Stack.Stats(); st.FastRetransmits != 1 || !p.c.Info().InRecovery {
		t.Fatalf("stats %+v", st)
	}
	h.Send(Seg{Seq: p.nxt, Ack: una + 500, Flags: ACK})
	if p.c.Info().InRecovery {
		t.Fatal("still in recovery after a full ACK")
	}
}

func TestSACKRecoveryRetransmitsHoles(t *testing.T) {
	p := passive(t, passiveOpts{syn: wire.TCPOptions{HasMSS: true, MSS: 100, SACKPermitted: true}})
	h := p.h
	p.c.Write(bytes.Repeat([]byte("z"), 1000), h.Now)
	var segs []*tcptest.Got
	for len(h.Out) > 0 {
		segs = append(segs, p.expect(t, "initial window", PayloadLen(100)))
	}
	if len(segs) != 10 {
		t.Fatalf("%d segments in the initial window, want 10 (IW 10 per RFC 6928 with MSS 100 → min(10·MSS, max(2·MSS,14600)))", len(segs))
	}
	una := segs[0].Seq
	// Segments 0 and 2 lost; 1 and 3..9 SACKed.
	sk := func(blocks ...wire.SACKBlock) wire.TCPOptions {
		o := wire.TCPOptions{NumSACK: len(blocks)}
		copy(o.SACK[:], blocks)
		return o
	}
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sk(wire.SACKBlock{Start: una + 100, End: una + 200})})
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sk(wire.SACKBlock{Start: una + 300, End: una + 500}, wire.SACKBlock{Start: una + 100, End: una + 200})})
	sacked := func(g *tcptest.Got, blocks ...[2]int) bool {
		off := int(g.Seq - una)
		for _, b := range blocks {
			if off < b[1] && off+len(g.Payload) > b[0] {
				return true
			}
		}
		return false
	}
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sk(wire.SACKBlock{Start: una + 300, End: una + 700}, wire.SACKBlock{Start: una + 100, End: una + 200})})
	got := h.Drain()
	if len(got) == 0 || got[0].Seq != una {
		t.Fatalf("third duplicate ACK: first retransmission %v, want the first hole (offset 0)", got)
	}
	hole2 := false
	for _, g := range got {
		if sacked(g, [2]int{100, 200}, [2]int{300, 700}) {
			t.Fatalf("retransmitted SACKed data: %v (offset %d)", g, g.Seq-una)
		}
		hole2 = hole2 || g.Seq == una+200
	}
	h.Send(Seg{Seq: p.nxt, Ack: una, Flags: ACK, Opts: sk(wire.SACKBlock{Start: una + 300, End: una + 1000}, wire.SACKBlock{Start: una + 100, End: una + 200})})
	for _, g := range h.Drain() {
		if sacked(g, [2]int{100, 200}, [2]int{300, 1000}) {
			t.Fatalf("retransmitted SACKed data: %v (offset %d)", g, g.Seq-una)
		}
		hole2 = hole2 || g.Seq == una+200
	}
	if !hole2 {
		t.Fatal("second hole (offset 200) never retransmitted")
	}
	// The holes filled: a full ACK ends recovery.
	h.Send(Seg{Seq: p.nxt, Ack: una + 1000, Flags: ACK})
	if i := p.c.Info(); i.InRecovery || i.InFlight != 0 {
		t.Fatalf("after the full ACK: %+v", i)
	}
}

// ---------------------------------------------------------------------
// RFC 5961: RST, SYN and ACK checks
// ---------------------------------------------------------------------

func TestRFC5961RST(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	h.Send(Seg{Seq: p.nxt + 10, Flags: RST})
	p.expect(t, "challenge ACK for an in-window RST not at RCV.NXT", Flags(ACK), Seqn(p.iss+1), Ackn(p.nxt))
	h.Send(Seg{Seq: p.nxt + 1<<30, Flags: RST})
	h.ExpectNone(t, "out-of-window RST dropped silently")
	if p.c.State() != tcp.StateEstablished {
		t.Fatal("connection reset by a blind RST")
	}
	h.Send(Seg{Seq: p.nxt, Flags: RST})
	if !p.rec.Closed || p.rec.Reason != tcp.CloseReset {
		t.Fatalf("events %v", p.rec.Events)
	}
	h.ExpectNone(t, "no answer to an exact RST")
}

func TestRFC5961SYNAndAckRange(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	h.Send(Seg{Seq: p.nxt + 5, Flags: SYN})
	p.expect(t, "challenge ACK for a SYN in ESTABLISHED", Flags(ACK), Ackn(p.nxt))
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv + 1000, Flags: ACK, Payload: []byte("zz")})
	p.expect(t, "ACK for an ACK of unsent data", Flags(ACK), Ackn(p.nxt))
	if len(p.rec.Data) != 0 {
		t.Fatal("data accepted with an invalid ACK")
	}
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv - 1<<20, Flags: ACK, Payload: []byte("zz")})
	p.expect(t, "ACK for an ACK far below SND.UNA", Flags(ACK), Ackn(p.nxt))
	st := h.Stack.Stats()
	if st.Drops[tcp.DropAckTooNew] != 1 || st.Drops[tcp.DropAckTooOld] != 1 || st.ChallengeAcks != 1 {
		t.Fatalf("stats %+v", st)
	}
	if p.c.State() != tcp.StateEstablished {
		t.Fatal("state changed")
	}
}

// TestRFC5961SYNStraddlingRcvNxt: a SYN that starts just below RCV.NXT
// with data running past it must not be trimmed into a data segment (the
// BSD way, which would strip the SYN and take the data): like any SYN in a
// synchronized state it gets a challenge ACK and is dropped, data and all;
// once the rate limit is spent it is dropped with no answer. A RST whose
// data straddles RCV.NXT is judged by its own SEG.SEQ: challenged, not
// accepted.
func TestRFC5961SYNStraddlingRcvNxt(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{ChallengeAckLimit: 2}})
	h := p.h
	h.Send(Seg{Seq: p.nxt - 1, Ack: p.rcv, Flags: SYN | ACK | PSH, Payload: []byte("evil")})
	p.expect(t, "challenge ACK for a SYN|ACK at RCV.NXT-1 with data", Flags(ACK), Seqn(p.rcv), Ackn(p.nxt), PayloadLen(0))
	h.Send(Seg{Seq: p.nxt - 1, Flags: SYN, Payload: []byte("evil")})
	p.expect(t, "challenge ACK for a SYN at RCV.NXT-1 with data", Flags(ACK), Ackn(p.nxt))
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: SYN | ACK, Payload: []byte("evil")})
	h.ExpectNone(t, "no answer once the challenge ACK limit is spent")
	st := h.Stack.Stats()
	if len(p.rec.Data) != 0 {
		t.Fatalf("data on a SYN accepted: %q", p.rec.Data)
	}
	if st.ChallengeAcks != 2 || st.Drops[tcp.DropChallengeAck] != 2 || st.Drops[tcp.DropChallengeLimit] != 1 {
		t.Fatalf("challenge_ack %d (ChallengeAcks %d), challenge_ack_limited %d",
			st.Drops[tcp.DropChallengeAck], st.ChallengeAcks, st.Drops[tcp.DropChallengeLimit])
	}
	if p.c.State() != tcp.StateEstablished {
		t.Fatalf("state %v", p.c.State())
	}
	h.Advance(tcptest.Second)
	h.Send(Seg{Seq: p.nxt - 2, Ack: p.rcv, Flags: RST | ACK, Payload: []byte("evil")})
	p.expect(t, "challenge ACK for a RST at RCV.NXT-2 with data", Flags(ACK), Ackn(p.nxt))
	if p.rec.Closed || len(p.rec.Data) != 0 {
		t.Fatalf("RST straddling RCV.NXT: events %v", p.rec.Events)
	}
	p.seg(ACK, []byte("real"))
	if string(p.rec.Data) != "real" {
		t.Fatalf("data after the SYNs: %q", p.rec.Data)
	}
}

func TestChallengeAckRateLimit(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{ChallengeAckLimit: 2}})
	h := p.h
	for i := 0; i < 5; i++ {
		h.Send(Seg{Seq: p.nxt + 1, Flags: RST})
	}
	if n := len(h.Drain()); n != 2 {
		t.Fatalf("%d challenge ACKs, want 2", n)
	}
	h.Advance(tcptest.Second)
	h.Send(Seg{Seq: p.nxt + 1, Flags: RST})
	p.expect(t, "limit resets after a second", Flags(ACK))
	if d := h.Stack.Stats().Drops[tcp.DropChallengeLimit]; d != 3 {
		t.Fatalf("limited = %d", d)
	}
}

// ---------------------------------------------------------------------
// PAWS (RFC 7323 §5)
// ---------------------------------------------------------------------

func TestPAWS(t *testing.T) {
	p := passive(t, passiveOpts{syn: tcptest.SynOpts(1460, 0, 1000)})
	h := p.h
	p.seg(ACK, []byte("new"))
	if string(p.rec.Data) != "new" {
		t.Fatal("data with a fresh timestamp rejected")
	}
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK, Payload: []byte("old"),
		Opts: wire.TCPOptions{HasTimestamps: true, TSVal: 500, TSEcr: p.ecr}})
	p.expect(t, "ACK for a PAWS-rejected segment", Flags(ACK), Ackn(p.nxt))
	if string(p.rec.Data) != "new" || h.Stack.Stats().Drops[tcp.DropPAWS] != 1 {
		t.Fatalf("PAWS let old data in: %q", p.rec.Data)
	}
	// A RST is not subject to PAWS.
	h.Send(Seg{Seq: p.nxt, Flags: RST, Opts: wire.TCPOptions{HasTimestamps: true, TSVal: 1}})
	if !p.rec.Closed {
		t.Fatal("RST with an old timestamp ignored")
	}
}

func TestTimestampRTT(t *testing.T) {
	p := passive(t, passiveOpts{syn: tcptest.SynOpts(1460, 0, 1000)})
	h := p.h
	p.c.Write([]byte("x"), h.Now)
	g := p.expect(t, "data with TSval", tcptest.Timestamps(true))
	h.Advance(50 * ms)
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK, Opts: wire.TCPOptions{HasTimestamps: true, TSVal: 2000, TSEcr: g.Opts.TSVal}})
	// RFC 6298 2.3 after a first sample of 0 (the handshake) and a
	// second of 50 ms: RTTVAR = 3/4·0 + 1/4·50, SRTT = 7/8·0 + 1/8·50.
	if i := p.c.Info(); i.SRTT != 50*ms/8 || i.RTTVar != 50*ms/4 || i.RTO != 200*ms {
		t.Fatalf("SRTT %d RTTVAR %d RTO %d", i.SRTT, i.RTTVar, i.RTO)
	}
	h.Advance(10 * ms)
	p.c.Write([]byte("y"), h.Now)
	g = p.expect(t, "data", tcptest.Timestamps(true))
	h.Advance(200 * ms)
	p.expect(t, "RTO retransmission", Payload([]byte("y")))
	if p.c.Info().RTO != 400*ms {
		t.Fatalf("RTO %d after one timeout, want 400ms", p.c.Info().RTO)
	}
	// The ACK echoes the original transmission's TSval: ambiguous
	// (Karn's rule applied to timestamps), so no sample; the back-off ends.
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK, Opts: wire.TCPOptions{HasTimestamps: true, TSVal: 2001, TSEcr: g.Opts.TSVal}})
	if i := p.c.Info(); i.SRTT != 50*ms/8 || i.RTO != 200*ms {
		t.Fatalf("after an ambiguous echo: SRTT %d RTO %d", i.SRTT, i.RTO)
	}
	p.c.Write([]byte("z"), h.Now)
	g = p.expect(t, "data", tcptest.Timestamps(true))
	h.Advance(30 * ms)
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK, Opts: wire.TCPOptions{HasTimestamps: true, TSVal: 2002, TSEcr: g.Opts.TSVal}})
	if i := p.c.Info(); i.SRTT == 50*ms/8 {
		t.Fatal("no RTT sample from a fresh echo after the timeout")
	}
}

// ---------------------------------------------------------------------
// Flow control: receive window, zero window, persist timer
// ---------------------------------------------------------------------

func TestReceiveWindowTracksUnconsumed(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{RecvBuf: 4000}, syn: wire.TCPOptions{HasMSS: true, MSS: 1000}})
	h := p.h
	p.rec.Consume = func(d []byte) int { return 0 }
	for i := 0; i < 4; i++ {
		p.seg(ACK, bytes.Repeat([]byte{byte('0' + i)}, 1000))
	}
	g := p.expect(t, "ACK after two segments", Flags(ACK))
	for len(h.Out) > 0 {
		g = p.expect(t, "ACK", Flags(ACK))
	}
	if g.Ack != p.nxt {
		t.Fatalf("last ACK %d, want %d", g.Ack, p.nxt)
	}
	if g.Window != 0 || p.c.Unread() != 4000 {
		t.Fatalf("window %d unread %d", g.Window, p.c.Unread())
	}
	// Zero window: data is not accepted, but the ACK is answered.
	p.h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK, Payload: []byte("x")})
	p.expect(t, "zero-window probe answered", Flags(ACK), Ackn(p.nxt), tcptest.Window(0))
	// The application consumes; a window update goes out.
	p.rec.Consume = nil
	p.c.Resume(h.Now)
	p.expect(t, "window update", Flags(ACK), Ackn(p.nxt), tcptest.Window(4000))
	if len(p.rec.Data) != 4000 {
		t.Fatalf("consumed %d", len(p.rec.Data))
	}
}

func TestPersistProbes(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK, ZeroWindow: true})
	p.c.Write([]byte("blocked"), h.Now)
	h.ExpectNone(t, "zero window: nothing sent")
	rto := p.c.Info().RTO
	h.Advance(rto)
	p.expect(t, "first window probe", Flags(ACK), Seqn(p.iss), PayloadLen(0))
	h.Advance(rto)
	h.ExpectNone(t, "probe interval backs off")
	h.Advance(rto)
	p.expect(t, "second probe after 2·RTO", Seqn(p.iss))
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK, Window: 100})
	p.expect(t, "window opened: data", Payload([]byte("blocked")))
	if h.Stack.Stats().WindowProbes != 2 || p.c.State() != tcp.StateEstablished {
		t.Fatal("probe count / state")
	}
}

func TestWritableCallback(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{SendBuf: 2000}})
	h := p.h
	if n := p.c.Write(make([]byte, 3000), h.Now); n != 2000 {
		t.Fatalf("Write = %d, want 2000 (buffer size)", n)
	}
	if p.c.WriteSpace() != 0 {
		t.Fatal("WriteSpace")
	}
	for len(h.Out) > 0 {
		p.expect(t, "data")
	}
	if p.rec.Has("writable") {
		t.Fatal("OnWritable before any room was made")
	}
	p.seg(ACK, nil)
	if !p.rec.Has("writable") {
		t.Fatalf("no OnWritable: %v", p.rec.Events)
	}
}

// ---------------------------------------------------------------------
// Keepalive
// ---------------------------------------------------------------------

func TestKeepalive(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{Keepalive: 10 * tcptest.Second, KeepaliveInterval: tcptest.Second, KeepaliveProbes: 2}})
	h := p.h
	h.Advance(10 * tcptest.Second)
	p.expect(t, "keepalive probe", Flags(ACK), Seqn(p.iss))
	p.seg(ACK, nil) // answered
	h.Advance(tcptest.Second)
	h.ExpectNone(t, "answered: idle timer restarts")
	h.Advance(9 * tcptest.Second)
	p.expect(t, "probe after another idle period", Seqn(p.iss))
	h.Advance(tcptest.Second)
	p.expect(t, "second probe", Seqn(p.iss))
	h.Advance(tcptest.Second)
	p.expect(t, "RST after the probes are exhausted", Flags(RST|ACK))
	if !p.rec.Closed || p.rec.Reason != tcp.CloseTimeout || h.Stack.Stats().KeepaliveProbes != 3 {
		t.Fatalf("events %v", p.rec.Events)
	}
}

func TestKeepaliveOffByDefault(t *testing.T) {
	p := passive(t, passiveOpts{})
	p.h.Advance(3 * 3600 * tcptest.Second)
	p.h.ExpectNone(t, "no keepalive by default")
}

// ---------------------------------------------------------------------
// Closing: FIN-WAIT-1, FIN-WAIT-2, CLOSING, TIME-WAIT, CLOSE-WAIT, LAST-ACK
// ---------------------------------------------------------------------

func TestActiveCloseTimeWait(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{TimeWait: 2 * tcptest.Second}})
	h := p.h
	p.c.Write([]byte("bye"), h.Now)
	p.expect(t, "data", Flags(ACK|PSH), Payload([]byte("bye")))
	p.c.Close(h.Now)
	p.expect(t, "FIN", Flags(ACK|FIN), PayloadLen(0))
	if p.c.State() != tcp.StateFinWait1 {
		t.Fatalf("state %v", p.c.State())
	}
	if p.c.Write([]byte("more"), h.Now) != 0 {
		t.Fatal("Write after Close accepted data")
	}
	c := p.c
	p.seg(ACK, nil)
	if c.State() != tcp.StateFinWait2 {
		t.Fatalf("state %v", c.State())
	}
	// Half-close: data still flows to us.
	p.seg(ACK, []byte("late data"))
	if string(p.rec.Data) != "late data" {
		t.Fatalf("data in FIN-WAIT-2: %q", p.rec.Data)
	}
	p.seg(ACK|FIN, nil)
	p.expect(t, "ACK of the FIN", Flags(ACK), Ackn(p.nxt))
	if !p.rec.Closed || p.rec.Reason != tcp.CloseNormal || h.Stack.Conns() != 1 {
		t.Fatalf("TIME-WAIT: closed=%v conns %d", p.rec.Closed, h.Stack.Conns())
	}
	// A retransmitted FIN is ACKed again.
	h.Send(Seg{Seq: p.nxt - 1, Ack: p.rcv, Flags: ACK | FIN})
	p.expect(t, "ACK for a retransmitted FIN in TIME-WAIT", Flags(ACK), Ackn(p.nxt))
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK})
	h.ExpectNone(t, "no ACK for an ACK in TIME-WAIT")
	h.Advance(2 * tcptest.Second)
	if h.Stack.Conns() != 0 {
		t.Fatal("TIME-WAIT did not end")
	}
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK})
	h.Expect(t, "RST once the connection is gone", Flags(RST))
}

func TestTimeWaitReusedByNewSYN(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	p.c.Close(h.Now)
	p.expect(t, "FIN", Flags(ACK|FIN))
	p.seg(ACK|FIN, nil)
	p.expect(t, "ACK", Flags(ACK))
	if h.Stack.Conns() != 1 {
		t.Fatal("not in TIME-WAIT")
	}
	h.Send(Seg{Seq: p.nxt + 100000, Flags: SYN})
	h.Expect(t, "new SYN-ACK from TIME-WAIT", Flags(SYN|ACK), Ackn(p.nxt+100001))
}

// TestTimeWaitIgnoresRST: RFC 1337 §3 fix F1. No RST ends TIME-WAIT
// early (hazard H1): not one exactly at RCV.NXT, not one elsewhere in the
// window, which gets no challenge ACK either. TIME-WAIT goes on answering
// and ends on its own timer.
func TestTimeWaitIgnoresRST(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{TimeWait: 2 * tcptest.Second}})
	h := p.h
	p.c.Close(h.Now)
	p.expect(t, "FIN", Flags(ACK|FIN))
	p.seg(ACK|FIN, nil)
	p.expect(t, "ACK of the FIN", Flags(ACK), Ackn(p.nxt))
	if h.Stack.Conns() != 1 || p.rec.Reason != tcp.CloseNormal {
		t.Fatalf("not in TIME-WAIT: conns %d, events %v", h.Stack.Conns(), p.rec.Events)
	}
	before := h.Stack.Stats()
	h.Advance(tcptest.Second)
	h.Send(Seg{Seq: p.nxt, Flags: RST})
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: RST | ACK})
	h.Send(Seg{Seq: p.nxt + 100, Flags: RST})
	h.Send(Seg{Seq: p.nxt, Flags: RST | SYN})
	h.ExpectNone(t, "no answer to a RST in TIME-WAIT")
	after := h.Stack.Stats()
	if h.Stack.Conns() != 1 {
		t.Fatal("a RST ended TIME-WAIT")
	}
	if d := after.Drops[tcp.DropRstTimeWait] - before.Drops[tcp.DropRstTimeWait]; d != 4 {
		t.Errorf("rst_in_time_wait moved by %d, want 4", d)
	}
	if after.ResetsRecv != before.ResetsRecv || after.ChallengeAcks != before.ChallengeAcks {
		t.Errorf("ResetsRecv %d -> %d, ChallengeAcks %d -> %d",
			before.ResetsRecv, after.ResetsRecv, before.ChallengeAcks, after.ChallengeAcks)
	}
	n := 0
	for _, e := range p.rec.Events {
		if e.Kind == "close" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d OnClose calls: %v", n, p.rec.Events)
	}
	// Still TIME-WAIT: an out-of-window segment gets an ACK, and the
	// timer, not restarted by the RSTs, ends it 2 s after it began.
	h.Send(Seg{Seq: p.nxt + 1<<20, Ack: p.rcv, Flags: ACK})
	p.expect(t, "ACK from TIME-WAIT after the RSTs", Flags(ACK), Ackn(p.nxt))
	h.Advance(tcptest.Second)
	if h.Stack.Conns() != 0 {
		t.Fatal("TIME-WAIT did not end on its timer")
	}
	h.Send(Seg{Seq: p.nxt, Ack: p.rcv, Flags: ACK})
	h.Expect(t, "RST once TIME-WAIT is over", Flags(RST))
}

func TestFinWait2Timeout(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{FinWait2Timeout: 5 * tcptest.Second}})
	h := p.h
	p.c.Close(h.Now)
	p.expect(t, "FIN", Flags(ACK|FIN))
	p.seg(ACK, nil)
	h.Advance(5 * tcptest.Second)
	if !p.rec.Closed || p.rec.Reason != tcp.CloseFinWait2 {
		t.Fatalf("events %v", p.rec.Events)
	}
}

func TestSimultaneousClose(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{TimeWait: tcptest.Second}})
	h := p.h
	c := p.c
	c.Close(h.Now)
	fin := p.expect(t, "our FIN", Flags(ACK|FIN))
	// Their FIN crosses ours (it does not acknowledge our FIN).
	h.Send(Seg{Seq: p.nxt, Ack: fin.Seq, Flags: ACK | FIN})
	p.nxt++
	p.expect(t, "ACK of their FIN", Flags(ACK), Ackn(p.nxt))
	if c.State() != tcp.StateClosing {
		t.Fatalf("state %v, want CLOSING", c.State())
	}
	h.Send(Seg{Seq: p.nxt, Ack: fin.Seq + 1, Flags: ACK})
	if c.State() != tcp.StateTimeWait {
		t.Fatalf("state %v, want TIME-WAIT", c.State())
	}
	h.Advance(tcptest.Second)
	if h.Stack.Conns() != 0 {
		t.Fatal("TIME-WAIT did not end")
	}
}

func TestPassiveCloseCloseWaitLastAck(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	c := p.c
	p.seg(ACK|FIN, []byte("req"))
	p.expect(t, "ACK of data+FIN at once", Flags(ACK), Ackn(p.nxt))
	if c.State() != tcp.StateCloseWait || !p.rec.Has("peerclosed") || string(p.rec.Data) != "req" {
		t.Fatalf("state %v events %v", c.State(), p.rec.Events)
	}
	// Half-close: we can still send.
	c.Write([]byte("resp"), h.Now)
	p.expect(t, "data in CLOSE-WAIT", Payload([]byte("resp")))
	c.Close(h.Now)
	p.expect(t, "our FIN", Flags(ACK|FIN))
	if c.State() != tcp.StateLastAck {
		t.Fatalf("state %v", c.State())
	}
	p.seg(ACK, nil)
	if !p.rec.Closed || p.rec.Reason != tcp.CloseNormal || h.Stack.Conns() != 0 {
		t.Fatalf("events %v", p.rec.Events)
	}
}

func TestOutOfOrderFIN(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	base := p.nxt
	h.Send(Seg{Seq: base + 3, Ack: p.rcv, Flags: ACK | FIN, Payload: []byte("def")})
	p.expect(t, "dup ACK", Ackn(base))
	if p.rec.Has("peerclosed") {
		t.Fatal("FIN acted on out of order")
	}
	h.Send(Seg{Seq: base, Ack: p.rcv, Flags: ACK, Payload: []byte("abc")})
	p.expect(t, "ACK covers the FIN", Ackn(base+7))
	if string(p.rec.Data) != "abcdef" || !p.rec.Has("peerclosed") || p.c.State() != tcp.StateCloseWait {
		t.Fatalf("data %q events %v", p.rec.Data, p.rec.Events)
	}
}

func TestAbortSendsRST(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	p.c.Abort(h.Now)
	p.expect(t, "RST on Abort", Flags(RST|ACK), Seqn(p.iss+1))
	if !p.rec.Closed || p.rec.Reason != tcp.CloseAborted || h.Stack.Conns() != 0 {
		t.Fatalf("events %v", p.rec.Events)
	}
}

func TestAbortFromOnData(t *testing.T) {
	p := passive(t, passiveOpts{})
	h := p.h
	p.rec.OnDataF = func(c *tcp.Conn, d []byte, now int64) { c.Abort(now) }
	p.seg(ACK, []byte("x"))
	p.expect(t, "RST", Flags(RST|ACK))
	h.ExpectNone(t, "nothing after the RST")
	if h.Stack.Conns() != 0 {
		t.Fatal("not closed")
	}
}

func TestTxChecksumOffload(t *testing.T) {
	p := passive(t, passiveOpts{cfg: tcp.Config{TxCsumOffload: true}})
	p.c.Write([]byte("offload"), p.h.Now)
	if len(p.h.Out) != 1 || !p.h.Out[0].Meta.CsumPartial || p.h.Out[0].Meta.CsumOffset != 16 || p.h.Out[0].Meta.CsumStart != 0 {
		t.Fatalf("offload meta %+v", p.h.Out[0].Meta)
	}
	p.expect(t, "segment completes to a valid checksum", Payload([]byte("offload")))
}

func TestConfigValidation(t *testing.T) {
	slab, err := buf.NewSlab(16, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	defer slab.Close()
	w := timer.NewWheel(ms, 64, 0)
	out := &tcptest.Harness{}
	for _, cfg := range []tcp.Config{
		{}, // no address
		{Addr: tcptest.LocalAddr, Congestion: "vegas"},
		{Addr: tcptest.LocalAddr, MinRTO: 2 * tcptest.Second, InitialRTO: tcptest.Second},
		{Addr: tcptest.LocalAddr, SendBuf: 10},
		{Addr: tcptest.LocalAddr, EphemeralLow: 5000, EphemeralHigh: 4000},
	} {
		if _, err := tcp.New(cfg, slab, out, w); !errors.Is(err, tcp.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	st, err := tcp.New(tcp.Config{Addr: tcptest.LocalAddr, MSS: 9000}, slab, out, w)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Config(); c.MSS != buf.DefaultFrameSize-buf.DefaultHeadroom-60 || c.Congestion != "cubic" || c.TimeWait != 60*tcptest.Second {
		t.Fatalf("defaults %+v", c)
	}
}

func TestUnlistenAndPortInUse(t *testing.T) {
	h := tcptest.New(t, tcp.Config{})
	rec := &tcptest.Recorder{}
	if err := h.Stack.Listen(80, rec); err != nil {
		t.Fatal(err)
	}
	if err := h.Stack.Listen(80, rec); !errors.Is(err, tcp.ErrPortInUse) {
		t.Fatalf("second Listen: %v", err)
	}
	if err := h.Stack.Unlisten(80); err != nil {
		t.Fatal(err)
	}
	h.Send(Seg{Seq: 1, Flags: SYN})
	h.Expect(t, "RST after Unlisten", Flags(RST|ACK))
	if err := h.Stack.Unlisten(80); !errors.Is(err, tcp.ErrNotListening) {
		t.Fatalf("Unlisten twice: %v", err)
	}
}

func TestConnLimit(t *testing.T) {
	h := tcptest.New(t, tcp.Config{MaxConns: 2})
	h.Stack.Listen(80, &tcptest.Recorder{})
	for port := uint16(1000); port < 1003; port++ {
		h.Send(Seg{SrcPort: port, Seq: 1, Flags: SYN})
	}
	if n := len(h.Drain()); n != 2 || h.Stack.Stats().Drops[tcp.DropConnLimit] != 1 {
		t.Fatalf("%d SYN-ACKs, drops %v", n, h.Stack.Stats().Drops)
	}
	if _, err := h.Stack.Dial(h.Remote, 9, &tcptest.Recorder{}, h.Now); !errors.Is(err, tcp.ErrNoConn) {
		t.Fatalf("Dial with a full pool: %v", err)
	}
}

// With the pool full the backlog being full too must not bring a SYN
// cookie: it would promise a connection there is no room for.
func TestConnLimitNoCookie(t *testing.T) {
	h := tcptest.New(t, tcp.Config{MaxConns: 2, SynBacklog: 2})
	h.Stack.Listen(80, &tcptest.Recorder{})
	for port := uint16(1000); port < 1003; port++ {
		h.Send(Seg{SrcPort: port, Seq: 1, Flags: SYN})
	}
	st := h.Stack.Stats()
	if n := len(h.Drain()); n != 2 || st.Drops[tcp.DropConnLimit] != 1 || st.SynCookiesSent != 0 {
		t.Fatalf("%d SYN-ACKs, %d cookies, drops %v", n, st.SynCookiesSent, st.Drops)
	}
	// With a slot but the backlog full, the cookie is the answer.
	h = tcptest.New(t, tcp.Config{MaxConns: 3, SynBacklog: 2})
	h.Stack.Listen(80, &tcptest.Recorder{})
	for port := uint16(1000); port < 1003; port++ {
		h.Send(Seg{SrcPort: port, Seq: 1, Flags: SYN})
	}
	st = h.Stack.Stats()
	if n := len(h.Drain()); n != 3 || st.SynCookiesSent != 1 || st.Drops[tcp.DropConnLimit] != 0 {
		t.Fatalf("%d SYN-ACKs, %d cookies, drops %v", n, st.SynCookiesSent, st.Drops)
	}
}
