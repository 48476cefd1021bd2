package hostile

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/xfer"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/nic/memwire"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/wire"
)

// The fuzz target's two hosts on one memwire: A (the client) dials B.
var (
	fzAddrA, fzAddrB = [4]byte{198, 18, 250, 1}, [4]byte{198, 18, 250, 2}
	fzMACA, fzMACB   = [6]byte{2, 0, 0, 0, 0xfa, 1}, [6]byte{2, 0, 0, 0, 0xfa, 2}
)

const (
	fzPortA = 40000 // A's only ephemeral port
	fzPortB = 80
	fzRec   = 12 // bytes of one injection record, before its options
)

// injector is a nic.Queue that hands B the fuzzer's frames ahead of what
// the wire delivers.
type injector struct {
	nic.Queue
	slab    *buf.Slab
	pending [][]byte
}

func (q *injector) RxBurst(pkts []*buf.Packet) int {
	n := 0
	for len(q.pending) > 0 && n < len(pkts) {
		p := q.slab.Alloc()
		if p == nil {
			break
		}
		copy(p.Append(len(q.pending[0])), q.pending[0])
		q.pending = q.pending[1:]
		pkts[n] = p
		n++
	}
	return n + q.Queue.RxBurst(pkts[n:])
}

// upStream writes bytes [off, off+len(dst)) of what A sends: the xfer
// header, then the up stream.
func upStream(hdr xfer.Header, off uint64, dst []byte) {
	var h [xfer.HeaderLen]byte
	hdr.Encode(h[:])
	for len(dst) > 0 && off < xfer.HeaderLen {
		dst[0] = h[off]
		dst, off = dst[1:], off+1
	}
	if len(dst) > 0 {
		xfer.Fill(hdr.UpSeed(), off-xfer.HeaderLen, dst)
	}
}

// fzClient is A's side: it sends the header and the up stream, then
// half-closes, and checks every byte of the down stream as it arrives.
type fzClient struct {
	hdr     xfer.Header
	sent    uint64 // of HeaderLen + Up
	got     uint64
	bad     int64
	scratch []byte
	closed  bool
	reason  tcp.CloseReason
}

func (a *fzClient) pump(c *tcp.Conn, now int64) {
	total := xfer.HeaderLen + a.hdr.Up
	for a.sent < total {
		k := min(uint64(len(a.scratch)), total-a.sent)
		upStream(a.hdr, a.sent, a.scratch[:k])
		n := c.Write(a.scratch[:k], now)
		a.sent += uint64(n)
		if uint64(n) < k {
			return
		}
	}
	c.Close(now)
}

func (a *fzClient) OnOpen(c *tcp.Conn, now int64)       { a.pump(c, now) }
func (a *fzClient) OnWritable(c *tcp.Conn, now int64)   { a.pump(c, now) }
func (a *fzClient) OnPeerClosed(c *tcp.Conn, now int64) {}
func (a *fzClient) OnData(c *tcp.Conn, d []byte, now int64) int {
	want := a.scratch[:min(len(d), len(a.scratch))]
	for off := 0; off < len(d); off += len(want) {
		k := min(len(want), len(d)-off)
		xfer.Fill(a.hdr.DownSeed(), a.got+uint64(off), want[:k])
		for i := 0; i < k && a.bad < 0; i++ {
			if d[off+i] != want[i] {
				a.bad = int64(a.got) + int64(off+i)
			}
		}
	}
	a.got += uint64(len(d))
	return len(d)
}
func (a *fzClient) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) { a.closed, a.reason = true, r }

// fzServer wraps B's xfer.Handler: it remembers the connection (for its
// sequence numbers) and checks every byte B's application is given
// against what A sent, whatever happens to the connection later.
type fzServer struct {
	*xfer.Handler
	hdr     xfer.Header
	conn    *tcp.Conn
	opened  bool
	got     uint64
	bad     int64
	scratch []byte
}

func (s *fzServer) OnOpen(c *tcp.Conn, now int64) {
	if !s.opened {
		s.conn, s.opened = c, true
	}
	s.Handler.OnOpen(c, now)
}

func (s *fzServer) OnData(c *tcp.Conn, d []byte, now int64) int {
	n := s.Handler.OnData(c, d, now)
	for off := 0; off < n; off += len(s.scratch) {
		k := min(len(s.scratch), n-off)
		upStream(s.hdr, s.got+uint64(off), s.scratch[:k])
		for i := 0; i < k && s.bad < 0; i++ {
			if d[off+i] != s.scratch[i] {
				s.bad = int64(s.got) + int64(off+i)
			}
		}
	}
	s.got += uint64(n)
	return n
}

func (s *fzServer) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) {
	if c == s.conn {
		s.conn = nil
	}
	s.Handler.OnClose(c, r, now)
}

// FuzzEstablished: A uploads and B downloads at the same time over
// memwire while segments built from the fuzz input, claiming to be A's,
// are injected into B. Each record of the input is one segment: after
// `wait` loop iterations, flags, sequence and acknowledgment numbers as
// offsets from B's RCV.NXT and SND.UNA, window, urgent pointer, raw option
// bytes, and a payload length. The payload is always the true bytes of
// A's stream at that sequence number, so that in-window data an attacker
// guessed right cannot be told from A's own: any byte B's application
// gets that differs from A's stream is the stack's fault. Checked: no
// panic; no wrong byte on either side, ever; a transfer that ends
// normally on both sides is complete and exact (xfer's SHA-256 too)
// unless a FIN or RST was injected; no frame leaks from either slab.
func FuzzEstablished(f *testing.F) {
	rec := func(wait, flags byte, dseq, dack int16, wnd uint16, plen, mode, urg byte, opt ...byte) []byte {
		b := make([]byte, fzRec, fzRec+len(opt))
		b[0], b[1] = wait, flags
		binary.BigEndian.PutUint16(b[2:], uint16(dseq))
		binary.BigEndian.PutUint16(b[4:], uint16(dack))
		binary.BigEndian.PutUint16(b[6:], wnd)
		b[8], b[9], b[10], b[11] = byte(len(opt)), plen, mode, urg
		return append(b, opt...)
	}
	cat := func(sizes []byte, recs ...[]byte) []byte {
		out := append([]byte(nil), sizes...)
		for _, r := range recs {
			out = append(out, r...)
		}
		return out
	}
	A := byte(fACK)
	f.Add(cat([]byte{20, 20}, rec(1, A|byte(fPSH), 0, 0, 65535, 100, 0, 0)))                              // duplicate of real data
	f.Add(cat([]byte{20, 20}, rec(2, A, 2000, 0, 65535, 200, 0, 0), rec(3, A, -500, 0, 1000, 255, 0, 0))) // ahead, behind
	f.Add(cat([]byte{30, 30}, rec(2, byte(fRST), 100, 0, 0, 0, 0, 0), rec(1, byte(fSYN), 5, 0, 0, 0, 0, 0)))
	f.Add(cat([]byte{30, 5}, rec(1, A, 0, 3, 0, 0, 0, 0), rec(4, A, 0, 0, 65535, 0, 0, 0)))             // zero window, then open
	f.Add(cat([]byte{30, 30}, rec(3, A, 0, 0, 65535, 0, 0, 0, 5, 10, 0, 0, 0, 0, 0, 0, 0x10, 0, 1, 1))) // SACK option
	f.Add(cat([]byte{10, 10}, rec(2, A|byte(fURG), 0, 0, 65535, 50, 8, 7), rec(0, A|byte(fFIN), 0, 0, 65535, 0, 0, 0)))
	f.Add(cat([]byte{40, 40}, rec(3, A, 0, -20000, 65535, 0, 2, 0), rec(2, A, 0, 30000, 65535, 0, 2, 0))) // old and new ACKs
	f.Add(cat([]byte{10, 10}, rec(3, A, 0, 0, 65535, 0, 0, 0, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1)))      // timestamps appear
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		if _, err := runEstablished(data, false); err != nil {
			t.Fatal(err)
		}
	})
}

// fzOutcome is what one run did.
type fzOutcome struct {
	injected       int
	cliGot, srvGot uint64
	cliReason      tcp.CloseReason
	srvReason      tcp.CloseReason
	srvErr         error
	up, down       uint64
}

// runEstablished runs one input. forge fills injected payloads with bytes
// that are not A's (for the test that shows corruption is caught).
func runEstablished(data []byte, forge bool) (fzOutcome, error) {
	up, down := 4000*uint64(data[0]%64), 4000*uint64(data[1]%64)
	data = data[2:]
	var out fzOutcome
	slabA, err := buf.NewSlab(1024, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		return out, err
	}
	defer slabA.Close()
	slabB, err := buf.NewSlab(1024, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		return out, err
	}
	defer slabB.Close()
	qa, qb, err := memwire.New(memwire.Config{Ring: 256}, slabA, slabB)
	if err != nil {
		return out, err
	}
	inj := &injector{Queue: qb, slab: slabB}
	now := int64(1e9)
	clock := func() int64 { return now }
	tc := tcp.Config{SendBuf: 32 << 10, RecvBuf: 32 << 10, TimeWait: 1e9, FinWait2Timeout: 5e9,
		MaxRTO: 2e9, MaxRetries: 6, SynRetries: 3, ISNSecret: [16]byte{7}}
	mk := func(q nic.Queue, slab *buf.Slab, addr [4]byte, mac [6]byte, lowPort uint16) *reactor.Loop {
		c := tc
		c.EphemeralLow, c.EphemeralHigh = lowPort, lowPort
		l, err := reactor.New(reactor.Config{Queue: q, Slab: slab, TCP: &c, Clock: clock,
			IP: ip.Config{MAC: mac, Addr: addr, PrefixLen: 24}})
		if err != nil {
			panic(err) // a fixed, valid configuration
		}
		return l
	}
	la := mk(qa, slabA, fzAddrA, fzMACA, fzPortA)
	lb := mk(inj, slabB, fzAddrB, fzMACB, 50000)
	hdr := xfer.Header{Up: up, Down: down, Seed: 0x1234}
	results := make(chan xfer.Result, 8)
	srv := &fzServer{Handler: &xfer.Handler{Results: results, ChunkSize: 4096}, hdr: hdr, bad: -1, scratch: make([]byte, 4096)}
	if err := lb.TCP().Listen(fzPortB, srv); err != nil {
		return out, err
	}
	cli := &fzClient{hdr: hdr, bad: -1, scratch: make([]byte, 4096)}
	la.Start(now)
	lb.Start(now)
	if _, err := la.TCP().Dial(fzAddrB, fzPortB, cli, now); err != nil {
		return out, err
	}

	var srvRes *xfer.Result
	injectedEnd := false // a FIN or RST was injected: a short stream is legitimate
	injected := 0
	wait := -1
	const budget = int64(600e9) // simulated: every timer involved has fired long before
	for iter := 0; iter < 2_000_000 && now < budget; iter++ {
		if wait < 0 && len(data) >= fzRec {
			wait = int(data[0])
		}
		if wait == 0 && srv.conn != nil {
			olen := min(int(data[8]), 40, len(data)-fzRec) &^ 3
			frame, end := fzSegment(srv.conn.Info(), hdr, data[:fzRec], data[fzRec:fzRec+olen], forge)
			inj.pending = append(inj.pending, frame)
			injectedEnd = injectedEnd || end
			injected++
			data = data[fzRec+olen:]
			wait = -1
		} else if wait > 0 && srv.conn != nil {
			wait-- // counted from the moment B's connection is open
		}
		workA := la.RunOnce(now)
		workB := lb.RunOnce(now)
		select {
		case r := <-results:
			srvRes = &r
		default:
		}
		if cli.closed && srvRes != nil {
			break
		}
		if workA || workB || len(inj.pending) > 0 || (wait > 0 && srv.conn != nil) {
			now += 10_000 // 10 µs per busy iteration
			continue
		}
		// Idle: jump to the next timer.
		next := now + 1e9
		for _, l := range []*reactor.Loop{la, lb} {
			if d, ok := l.Wheel().NextDeadline(); ok && d < next {
				next = d
			}
		}
		if next <= now {
			next = now + 1e6
		}
		if srv.opened && srv.conn == nil && len(data) > 0 {
			wait = -1 // B's side is gone: the rest of the input has nothing to aim at
			data = nil
		}
		now = next
	}
	la.Close()
	lb.Close()
	if srvRes == nil {
		select {
		case r := <-results:
			srvRes = &r
		default:
		}
	}
	inj.pending = nil
	qa.Close()
	qb.Close()
	leakA, leakB := slabA.InUse(), slabB.InUse()
	out = fzOutcome{injected: injected, cliGot: cli.got, srvGot: srv.got, cliReason: cli.reason, up: up, down: down}
	if srvRes != nil {
		out.srvReason, out.srvErr = srvRes.Reason, srvRes.Err
	}
	where := fmt.Sprintf("(up %d, down %d, %d segments injected)", up, down, injected)
	switch {
	case srv.bad >= 0:
		return out, fmt.Errorf("B's application got a wrong byte at stream offset %d %s", srv.bad, where)
	case cli.bad >= 0:
		return out, fmt.Errorf("A's application got a wrong byte at offset %d %s", cli.bad, where)
	case leakA != 0 || leakB != 0:
		return out, fmt.Errorf("slab leak: A %d frames, B %d frames in use after close %s", leakA, leakB, where)
	case !cli.closed || srvRes == nil:
		return out, fmt.Errorf("a side never saw OnClose (client %v, server %v) %s", cli.closed, srvRes != nil, where)
	}
	if cli.reason == tcp.CloseNormal && srvRes.Reason == tcp.CloseNormal && !injectedEnd {
		if srvRes.Err != nil {
			return out, fmt.Errorf("B closed normally but: %v %s", srvRes.Err, where)
		}
		if cli.got != down {
			return out, fmt.Errorf("A closed normally with %d of %d bytes %s", cli.got, down, where)
		}
	}
	return out, nil
}

// TestEstablishedHarness shows the fuzz target's checks can fail: with no
// injection the transfer completes normally and exactly; a forged
// in-window payload (bytes that are not A's) is caught as corruption.
func TestEstablishedHarness(t *testing.T) {
	out, err := runEstablished([]byte{50, 40}, false)
	if err != nil {
		t.Fatal(err)
	}
	if out.cliReason != tcp.CloseNormal || out.srvReason != tcp.CloseNormal || out.srvErr != nil ||
		out.cliGot != out.down || out.srvGot != xfer.HeaderLen+out.up || out.up != 200000 {
		t.Fatalf("clean run: %+v", out)
	}
	// As soon as B opens: ACK|PSH at its RCV.NXT, 100 bytes, inverted.
	forged := []byte{50, 40, 0, byte(fACK | fPSH), 0, 0, 0, 0, 0xff, 0xff, 0, 100, 0, 0}
	_, err = runEstablished(forged, true)
	if err == nil || !strings.Contains(err.Error(), "wrong byte") {
		t.Fatalf("forged payload not caught: %v", err)
	}
}

// fzSegment builds one injected frame from a record, claiming to be A's
// and aimed at B's connection in state i. It reports whether the segment
// carries FIN or RST.
func fzSegment(i tcp.Info, hdr xfer.Header, rec, opt []byte, forge bool) ([]byte, bool) {
	flags := wire.TCPFlags(rec[1])
	dseq := int32(int16(binary.BigEndian.Uint16(rec[2:])))
	dack := int32(int16(binary.BigEndian.Uint16(rec[4:])))
	mode := rec[10]
	if mode&1 != 0 {
		dseq *= 4096
	}
	if mode&2 != 0 {
		dack *= 4096
	}
	seq := i.RcvNxt.Add(uint32(dseq))
	ack := i.SndUna.Add(uint32(dack))
	// The payload: A's true bytes at seq, within the stream.
	first := i.IRS.Add(1) // stream offset 0
	total := xfer.HeaderLen + hdr.Up
	plen := uint64(rec[9])
	off := int64(seq.Sub(first))
	if flags&fSYN != 0 {
		off++ // a SYN takes the first sequence number; its data follows
	}
	if off < 0 {
		plen = 0
	}
	if uint64(max(off, 0))+plen > total {
		plen = total - min(uint64(max(off, 0)), total)
	}
	payload := make([]byte, plen)
	if plen > 0 {
		upStream(hdr, uint64(off), payload)
	}
	if forge {
		for k := range payload {
			payload[k] = ^payload[k]
		}
	}
	s := segSpec{srcMAC: fzMACA, dstMAC: fzMACB, src: fzAddrA, dst: fzAddrB, ttl: 64,
		sport: fzPortA, dport: fzPortB, seq: uint32(seq), ack: uint32(ack), flags: flags,
		window: binary.BigEndian.Uint16(rec[6:]), opts: opt, payload: payload}
	if mode&8 != 0 {
		s.urgent = uint16(rec[11])
	}
	return s.build(), flags&(fFIN|fRST) != 0
}
