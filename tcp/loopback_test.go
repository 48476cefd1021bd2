package tcp_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"math/rand/v2"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/tcp"
)

// The loopback rig: two Stacks back to back in one goroutine. Output
// queues the segment on an in-memory link with a latency; the pump
// delivers due segments and, when nothing is in flight, jumps the shared
// manual clock to the next timer. Loss and reordering are seeded.

type inflight struct {
	p  *buf.Packet
	to int // 0: stack a, 1: stack b
	at int64
	n  uint64 // arrival order tie-break
}

type link struct {
	t         testing.TB
	rng       *rand.Rand
	loss      float64 // probability a segment is dropped
	dup       float64 // probability a segment is delivered twice
	corrupt   float64 // probability one byte of a segment is flipped
	corrupted int
	reorder   float64 // probability a segment is delayed by extra
	latency   int64
	extra     int64
	q         []inflight
	seq       uint64
	now       int64
	dropped   int
	reorders  int
	sent      int
}

type endpoint struct {
	l     *link
	to    int
	addr  [4]byte
	slab  *buf.Slab
	wheel *timer.Wheel
	st    *tcp.Stack
}

func (e *endpoint) Output(p *buf.Packet, dst [4]byte, proto uint8, now int64) {
	l := e.l
	l.sent++
	if l.loss > 0 && l.rng.Float64() < l.loss {
		l.dropped++
		p.Release()
		return
	}
	if l.dup > 0 && l.rng.Float64() < l.dup {
		if q := p.Clone(); q != nil {
			l.enqueue(q, e.to, now)
		}
	}
	if l.corrupt > 0 && l.rng.Float64() < l.corrupt {
		d := p.Data()
		d[l.rng.IntN(len(d))] ^= byte(1 + l.rng.IntN(255))
		l.corrupted++
	}
	l.enqueue(p, e.to, now)
}

func (l *link) enqueue(p *buf.Packet, to int, now int64) {
	at := now + l.latency
	if l.reorder > 0 && l.rng.Float64() < l.reorder {
		at += l.extra
		l.reorders++
	}
	l.seq++
	it := inflight{p: p, to: to, at: at, n: l.seq}
	// Insert keeping (at, n) order; the queue is short.
	i := len(l.q)
	l.q = append(l.q, it)
	for i > 0 && l.q[i-1].at > at {
		l.q[i] = l.q[i-1]
		i--
	}
	l.q[i] = it
}

type rig struct {
	l    *link
	ends [2]*endpoint
}

const msec = int64(1e6)

func newRig(t testing.TB, seed uint64, cfg tcp.Config) *rig {
	r := &rig{l: &link{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e37)), latency: 100_000, extra: 2 * msec, now: 1e12}}
	addrs := [2][4]byte{{198, 18, 0, 1}, {198, 18, 0, 2}}
	for i := range r.ends {
		slab, err := buf.NewSlab(4096, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			t.Fatal(err)
		}
		e := &endpoint{l: r.l, to: 1 - i, addr: addrs[i], slab: slab, wheel: timer.NewWheel(msec, 4096, r.l.now)}
		c := cfg
		c.Addr = addrs[i]
		e.st, err = tcp.New(c, slab, e, e.wheel)
		if err != nil {
			t.Fatal(err)
		}
		r.ends[i] = e
	}
	t.Cleanup(func() {
		for _, e := range r.ends {
			e.st.Shutdown(r.l.now)
		}
		for _, it := range r.l.q {
			it.p.Release()
		}
		r.l.q = nil
		for i, e := range r.ends {
			if n := e.slab.InUse(); n != 0 {
				t.Errorf("stack %d: %d slab frames leaked", i, n)
			}
			e.slab.Close()
		}
	})
	return r
}

// pump runs the link until done() or the simulated deadline passes.
func (r *rig) pump(done func() bool, limit int64) bool {
	l := r.l
	end := l.now + limit
	for !done() {
		if len(l.q) > 0 && l.q[0].at <= l.now {
			it := l.q[0]
			copy(l.q, l.q[1:])
			l.q = l.q[:len(l.q)-1]
			e := r.ends[it.to]
			e.st.Deliver(it.p, r.ends[1-it.to].addr, e.addr, l.now)
			continue
		}
		next := int64(-1)
		if len(l.q) > 0 {
			next = l.q[0].at
		}
		for _, e := range r.ends {
			if d, ok := e.wheel.NextDeadline(); ok && (next < 0 || d < next) {
				next = d
			}
		}
		if next < 0 || next > end {
			return done()
		}
		if next > l.now {
			l.now = next
		}
		for _, e := range r.ends {
			e.wheel.Advance(l.now)
		}
	}
	return true
}

// sender writes total bytes of a seeded stream, then closes.
type sender struct {
	total, sent int
	gen         *rand.ChaCha8
	chunk       []byte
	pend        []byte
	sum         hash.Hash
	conn        *tcp.Conn
	closed      bool
	reason      tcp.CloseReason
	opened      bool
	recv        receiver // what the sender side receives (full duplex)
}

func newSender(total int, seed byte) *sender {
	var s [32]byte
	s[0] = seed
	return &sender{total: total, gen: rand.NewChaCha8(s), chunk: make([]byte, 64<<10), sum: sha256.New(), recv: receiver{sum: sha256.New()}}
}

func (s *sender) pump(c *tcp.Conn, now int64) {
	for s.sent < s.total {
		if len(s.pend) == 0 {
			n := len(s.chunk)
			if r := s.total - s.sent; r < n {
				n = r
			}
			s.pend = s.chunk[:n]
			if s.gen != nil {
				s.gen.Read(s.pend)
			}
			s.sum.Write(s.pend)
		}
		w := c.Write(s.pend, now)
		s.pend = s.pend[w:]
		s.sent += w
		if len(s.pend) > 0 {
			return
		}
	}
	if s.sent == s.total && !s.closed {
		c.Close(now)
	}
}

func (s *sender) OnOpen(c *tcp.Conn, now int64) {
	s.conn, s.opened = c, true
	s.pump(c, now)
}
func (s *sender) OnData(c *tcp.Conn, d []byte, now int64) int { return s.recv.OnData(c, d, now) }
func (s *sender) OnWritable(c *tcp.Conn, now int64)           { s.pump(c, now) }
func (s *sender) OnPeerClosed(c *tcp.Conn, now int64)         { s.recv.peerClosed = true }
func (s *sender) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) {
	s.closed, s.reason, s.conn = true, r, nil
}

// receiver hashes what it reads; optionally echoes nothing, closes on FIN.
type receiver struct {
	n          int
	sum        hash.Hash
	peerClosed bool
	closed     bool
	reason     tcp.CloseReason
	conn       *tcp.Conn
	limit      int // consume at most this much per call (0: all)
	send       *sender
}

func (r *receiver) OnOpen(c *tcp.Conn, now int64) {
	r.conn = c
	if r.send != nil {
		r.send.conn = c
		r.send.opened = true
		r.send.pump(c, now)
	}
}
func (r *receiver) OnData(c *tcp.Conn, d []byte, now int64) int {
	if r.limit > 0 && len(d) > r.limit {
		d = d[:r.limit]
	}
	r.sum.Write(d)
	r.n += len(d)
	return len(d)
}
func (r *receiver) OnWritable(c *tcp.Conn, now int64) {
	if r.send != nil {
		r.send.pump(c, now)
	}
}
func (r *receiver) OnPeerClosed(c *tcp.Conn, now int64) {
	r.peerClosed = true
	if r.send == nil {
		c.Close(now)
	} else if r.send.sent == r.send.total {
		c.Close(now)
	}
}
func (r *receiver) OnClose(c *tcp.Conn, reason tcp.CloseReason, now int64) {
	r.closed, r.reason, r.conn = true, reason, nil
}

func transfer(t *testing.T, size int, loss, reorder float64, seed uint64, cfg tcp.Config) {
	transferFaults(t, size, faults{loss: loss, reorder: reorder}, seed, cfg)
}

type faults struct{ loss, reorder, dup, corrupt float64 }

func transferFaults(t *testing.T, size int, f faults, seed uint64, cfg tcp.Config) {
	loss, reorder := f.loss, f.reorder
	r := newRig(t, seed, cfg)
	r.l.loss, r.l.reorder, r.l.dup, r.l.corrupt = f.loss, f.reorder, f.dup, f.corrupt
	recv := &receiver{sum: sha256.New()}
	if err := r.ends[1].st.Listen(5001, recv); err != nil {
		t.Fatal(err)
	}
	snd := newSender(size, byte(seed))
	if _, err := r.ends[0].st.Dial(r.ends[1].addr, 5001, snd, r.l.now); err != nil {
		t.Fatal(err)
	}
	start := r.l.now
	ok := r.pump(func() bool { return snd.closed && recv.closed }, 3600*1e9)
	elapsed := r.l.now - start
	r.pump(func() bool { return len(r.l.q) == 0 }, 1e9) // deliver stragglers
	sa, sb := r.ends[0].st.Stats(), r.ends[1].st.Stats()
	if !ok {
		info := "conn gone"
		if snd.conn != nil {
			info = fmt.Sprintf("%+v", snd.conn.Info())
		}
		t.Fatalf("transfer did not finish: sent %d/%d, received %d; sender closed=%v receiver closed=%v\nsender conn %s\nstats a %+v\nstats b %+v",
			snd.sent, size, recv.n, snd.closed, recv.closed, info, sa, sb)
	}
	if recv.n != size || !bytes.Equal(recv.sum.Sum(nil), snd.sum.Sum(nil)) {
		t.Fatalf("received %d bytes (want %d), sha256 match=%v", recv.n, size, bytes.Equal(recv.sum.Sum(nil), snd.sum.Sum(nil)))
	}
	if snd.reason != tcp.CloseNormal || recv.reason != tcp.CloseNormal {
		t.Fatalf("close reasons: sender %v receiver %v", snd.reason, recv.reason)
	}
	// Every corrupted segment (one byte changed) must be caught by the
	// header check or the checksum, never delivered.
	if bad := sa.Drops[tcp.DropBadChecksum] + sb.Drops[tcp.DropBadChecksum] + sa.Drops[tcp.DropBadHeader] + sb.Drops[tcp.DropBadHeader]; bad != uint64(r.l.corrupted) {
		t.Fatalf("%d segments corrupted, %d dropped as bad", r.l.corrupted, bad)
	}
	t.Logf("%d bytes in %.1f ms simulated, loss %.2f reorder %.2f: %d segs sent, %d dropped, %d reordered, %d corrupted; a: retx %d fast %d rto %d tlp %d lost-rxt %d; b: ooo %d drops %v",
		size, float64(elapsed)/1e6, loss, reorder, r.l.sent, r.l.dropped, r.l.reorders, r.l.corrupted, sa.Retransmits, sa.FastRetransmits, sa.RTOs, sa.TLPs, sa.LostRetransmits, sb.OOOSegs, sb.Drops)
}

func TestLoopbackTransfer(t *testing.T) {
	for _, tc := range []struct {
		name          string
		size          int
		loss, reorder float64
		cfg           tcp.Config
	}{
		{"0B", 0, 0, 0, tcp.Config{}},
		{"1B", 1, 0, 0, tcp.Config{}},
		{"1460B", 1460, 0, 0, tcp.Config{}},
		{"64KiB", 64 << 10, 0, 0, tcp.Config{}},
		{"16MiB", 16 << 20, 0, 0, tcp.Config{}},
		{"16MiB/newreno", 16 << 20, 0, 0, tcp.Config{Congestion: "newreno"}},
		{"4MiB/loss1%", 4 << 20, 0.01, 0, tcp.Config{}},
		{"4MiB/loss5%", 4 << 20, 0.05, 0, tcp.Config{}},
		{"4MiB/reorder5%", 4 << 20, 0, 0.05, tcp.Config{}},
		{"4MiB/loss2%+reorder5%", 4 << 20, 0.02, 0.05, tcp.Config{}},
		{"4MiB/loss2%/noSACK", 4 << 20, 0.02, 0.02, tcp.Config{NoSACK: true}},
		{"4MiB/loss2%/noTS", 4 << 20, 0.02, 0.02, tcp.Config{NoTimestamps: true}},
		{"4MiB/loss2%/noopts", 4 << 20, 0.02, 0.02, tcp.Config{NoTimestamps: true, NoSACK: true, NoWindowScale: true}},
		{"1MiB/smallbuf", 1 << 20, 0.01, 0.01, tcp.Config{SendBuf: 8 << 10, RecvBuf: 8 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			transfer(t, tc.size, tc.loss, tc.reorder, 7, cfg)
		})
	}
}

func TestLoopbackLossSweep(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	for _, loss := range []float64{0.01, 0.05, 0.10} {
		for _, reorder := range []float64{0, 0.05} {
			for _, cfg := range []tcp.Config{{}, {NoSACK: true, Congestion: "newreno"}, {SendBuf: 16 << 10, RecvBuf: 16 << 10}} {
				for seed := uint64(1); seed <= uint64(seeds); seed++ {
					name := fmt.Sprintf("loss%.2f/reorder%.2f/sack=%v/buf=%d/seed%d", loss, reorder, !cfg.NoSACK, cfg.RecvBuf, seed)
					t.Run(name, func(t *testing.T) { transfer(t, 512<<10, loss, reorder, seed, cfg) })
				}
			}
		}
	}
}

// TestLoopbackFaults is the fault matrix on the in-process link:
// duplication and corruption (which the checksum must catch) on top of
// loss and reordering.
func TestLoopbackFaults(t *testing.T) {
	for _, f := range []faults{
		{dup: 0.01}, {corrupt: 0.01}, {loss: 0.01, dup: 0.01, reorder: 0.05, corrupt: 0.01},
		{loss: 0.05, dup: 0.01, reorder: 0.05, corrupt: 0.01},
	} {
		for seed := uint64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("%+v/seed%d", f, seed), func(t *testing.T) { transferFaults(t, 2<<20, f, seed, tcp.Config{}) })
		}
	}
}

// TestLoopbackFaultSweep runs many short transfers over seeded
// combinations of loss (up to 15%), reordering, duplication, corruption,
// option sets and tiny buffers: a wide net for stalls.
func TestLoopbackFaultSweep(t *testing.T) {
	n := uint64(300)
	if testing.Short() {
		n = 30
	}
	for seed := uint64(100); seed < 100+n; seed++ {
		f := faults{loss: []float64{0.01, 0.05, 0.15}[seed%3], reorder: []float64{0, 0.05, 0.2}[seed/3%3],
			dup: 0.01 * float64(seed%2), corrupt: 0.01 * float64(seed/2%2)}
		cfg := []tcp.Config{{}, {NoSACK: true}, {NoTimestamps: true}, {SendBuf: 8 << 10, RecvBuf: 4 << 10}, {Congestion: "newreno"}}[seed%5]
		t.Run(fmt.Sprint(seed), func(t *testing.T) { transferFaults(t, 300<<10, f, seed, cfg) })
	}
}

// TestLoopbackFullDuplex sends 4 MiB each way at once on one connection.
func TestLoopbackFullDuplex(t *testing.T) {
	for _, loss := range []float64{0, 0.02} {
		t.Run(fmt.Sprintf("loss%.2f", loss), func(t *testing.T) {
			r := newRig(t, 11, tcp.Config{})
			r.l.loss, r.l.reorder = loss, loss
			const size = 4 << 20
			srvSend := newSender(size, 2)
			srv := &receiver{sum: sha256.New(), send: srvSend}
			if err := r.ends[1].st.Listen(5001, srv); err != nil {
				t.Fatal(err)
			}
			cli := newSender(size, 1)
			if _, err := r.ends[0].st.Dial(r.ends[1].addr, 5001, cli, r.l.now); err != nil {
				t.Fatal(err)
			}
			ok := r.pump(func() bool { return cli.closed && srv.closed }, 3600*1e9)
			if !ok {
				t.Fatalf("full duplex did not finish: client sent %d got %d, server sent %d got %d", cli.sent, cli.recv.n, srvSend.sent, srv.n)
			}
			if srv.n != size || cli.recv.n != size ||
				!bytes.Equal(srv.sum.Sum(nil), cli.sum.Sum(nil)) || !bytes.Equal(cli.recv.sum.Sum(nil), srvSend.sum.Sum(nil)) {
				t.Fatalf("full duplex mismatch: server got %d, client got %d", srv.n, cli.recv.n)
			}
		})
	}
}

// TestLoopbackManyConnections runs 100 concurrent transfers between the
// two stacks.
func TestLoopbackManyConnections(t *testing.T) {
	r := newRig(t, 5, tcp.Config{SendBuf: 32 << 10, RecvBuf: 32 << 10})
	r.l.loss = 0.01
	const n, size = 100, 64 << 10
	var recvs []*receiver
	lst := &multiListener{mk: func() *receiver {
		rc := &receiver{sum: sha256.New()}
		recvs = append(recvs, rc)
		return rc
	}}
	if err := r.ends[1].st.Listen(5001, lst); err != nil {
		t.Fatal(err)
	}
	var snds []*sender
	for i := 0; i < n; i++ {
		s := newSender(size, 9)
		snds = append(snds, s)
		if _, err := r.ends[0].st.Dial(r.ends[1].addr, 5001, s, r.l.now); err != nil {
			t.Fatal(err)
		}
	}
	done := func() bool {
		for _, s := range snds {
			if !s.closed {
				return false
			}
		}
		if len(recvs) != n {
			return false
		}
		for _, rc := range recvs {
			if !rc.closed {
				return false
			}
		}
		return true
	}
	if !r.pump(done, 3600*1e9) {
		t.Fatalf("did not finish: %d receivers", len(recvs))
	}
	want := snds[0].sum.Sum(nil)
	for i, rc := range recvs {
		if rc.n != size || !bytes.Equal(rc.sum.Sum(nil), want) {
			t.Fatalf("connection %d: %d bytes", i, rc.n)
		}
	}
}

// multiListener gives each accepted connection its own receiver.
type multiListener struct{ mk func() *receiver }

func (m *multiListener) OnOpen(c *tcp.Conn, now int64) {
	rc := m.mk()
	c.SetHandler(rc)
	rc.OnOpen(c, now)
}
func (m *multiListener) OnData(c *tcp.Conn, d []byte, now int64) int       { return len(d) }
func (m *multiListener) OnWritable(c *tcp.Conn, now int64)                 {}
func (m *multiListener) OnPeerClosed(c *tcp.Conn, now int64)               {}
func (m *multiListener) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) {}

func BenchmarkLoopbackThroughput(b *testing.B) {
	for _, cc := range []string{"cubic", "newreno"} {
		b.Run(cc, func(b *testing.B) {
			r := newRig(b, 1, tcp.Config{Congestion: cc})
			recv := &receiver{sum: nopHash{}}
			r.ends[1].st.Listen(5001, recv)
			snd := &sender{total: b.N * 1 << 16, chunk: make([]byte, 64<<10), sum: nopHash{}, recv: receiver{sum: nopHash{}}, gen: rand.NewChaCha8([32]byte{})}
			snd.gen = nil
			b.SetBytes(1 << 16)
			b.ReportAllocs()
			b.ResetTimer()
			r.ends[0].st.Dial(r.ends[1].addr, 5001, snd, r.l.now)
			if !r.pump(func() bool { return snd.closed && recv.closed }, 3600*1e9) || recv.n != snd.total {
				b.Fatalf("transfer failed: %d/%d", recv.n, snd.total)
			}
		})
	}
}

type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }
