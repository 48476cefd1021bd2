package reactor_test

import (
	"context"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/wire"
)

// benchQ is an in-memory queue driven from the test goroutine: RxBurst
// takes frames from in, TxBurst copies frames to *out.
type benchQ struct {
	slab *buf.Slab
	in   [][]byte
	out  *[][]byte
}

func (q *benchQ) RxBurst(pkts []*buf.Packet) int {
	n := 0
	for n < len(pkts) && len(q.in) > 0 {
		p := q.slab.Alloc()
		if p == nil {
			break
		}
		copy(p.Append(len(q.in[0])), q.in[0])
		q.in = q.in[1:]
		pkts[n] = p
		n++
	}
	return n
}

func (q *benchQ) TxBurst(pkts []*buf.Packet) int {
	for _, p := range pkts {
		*q.out = append(*q.out, append([]byte(nil), p.Data()...))
		p.Release()
	}
	return len(pkts)
}

func (q *benchQ) Kick() error      { return nil }
func (q *benchQ) Fd() int          { return -1 }
func (q *benchQ) Caps() nic.Caps   { return nic.Caps{MTU: 1500} }
func (q *benchQ) Stats() nic.Stats { return nic.Stats{} }
func (q *benchQ) Close() error     { return nil }

// sink checks that the bytes of one connection arrive in order
// (byte i is pattern(i)) and counts them.
type sink struct {
	got, bad int
	closed   bool
	reason   tcp.CloseReason
}

func pattern(i int) byte { return byte(i*7 + i>>9) }

func (s *sink) OnOpen(*tcp.Conn, int64) {}
func (s *sink) OnData(_ *tcp.Conn, b []byte, _ int64) int {
	for _, c := range b {
		if c != pattern(s.got) {
			s.bad++
		}
		s.got++
	}
	return len(b)
}
func (s *sink) OnWritable(*tcp.Conn, int64)         {}
func (s *sink) OnPeerClosed(c *tcp.Conn, now int64) { c.Close(now) }
func (s *sink) OnClose(_ *tcp.Conn, r tcp.CloseReason, _ int64) {
	s.closed, s.reason = true, r
}

// source writes total pattern bytes, then closes.
type source struct {
	total, sent int
	closed      bool
	reason      tcp.CloseReason
}

func (s *source) OnOpen(c *tcp.Conn, now int64)             { s.OnWritable(c, now) }
func (s *source) OnData(_ *tcp.Conn, b []byte, _ int64) int { return len(b) }
func (s *source) OnWritable(c *tcp.Conn, now int64) {
	var chunk [4096]byte
	for s.sent < s.total {
		n := min(len(chunk), s.total-s.sent)
		for i := range chunk[:n] {
			chunk[i] = pattern(s.sent + i)
		}
		k := c.Write(chunk[:n], now)
		s.sent += k
		if k < n {
			return
		}
	}
	c.Close(now)
}
func (s *source) OnPeerClosed(*tcp.Conn, int64) {}
func (s *source) OnClose(_ *tcp.Conn, r tcp.CloseReason, _ int64) {
	s.closed, s.reason = true, r
}

// missRig is two shards (driven by hand from the test goroutine) on a
// pretend two-queue NIC and a peer stack: the peer's frames land on the
// queue steer says, the shards' frames all reach the peer.
type missRig struct {
	t        *testing.T
	now      int64
	dt       int64 // clock step
	steer    int
	loops    [2]*reactor.Loop
	qs       [2]*benchQ
	peer     *reactor.Loop
	pq       *benchQ
	toPeer   [][]byte
	fromPeer [][]byte
	drop     func(f []byte) bool // drops a frame on its way to the peer
	rsts     int
	sinks    []*sink
	stackIP  [4]byte
}

func newMissRig(t *testing.T, slots int) *missRig {
	const shards = 2
	cpus, err := shard.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	handles := make(chan *shard.Shard, shards)
	release := make(chan struct{})
	group, err := shard.Start(shard.Config{Shards: shards, CPUs: []int{cpus[0], cpus[0]}}, func(s *shard.Shard) error {
		handles <- s
		<-release
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		group.Stop(ctx)
		group.Wait()
	})
	byID := make([]*shard.Shard, shards)
	for range shards {
		s := <-handles
		byID[s.ID] = s
	}
	fwd, err := reactor.NewForwarder(shards, 0, 0, slots, 0)
	if err != nil {
		t.Fatal(err)
	}
	newSlab := func() *buf.Slab {
		s, err := buf.NewSlab(1024, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if n := s.InUse(); n != 0 {
				t.Errorf("slab leak: %d frames", n)
			}
			s.Close()
		})
		return s
	}
	r := &missRig{t: t, now: 1e9, dt: 50_000, stackIP: [4]byte{198, 18, 9, 2}}
	clock := func() int64 { return r.now }
	peerIP := [4]byte{198, 18, 9, 1}
	for i := range r.loops {
		r.qs[i] = &benchQ{slab: newSlab(), out: &r.toPeer}
		l, err := reactor.New(reactor.Config{Queue: r.qs[i], Slab: r.qs[i].slab, Shard: byID[i], Forwarder: fwd, Clock: clock,
			TCP: &tcp.Config{}, IP: ip.Config{MAC: [6]byte{2, 0, 0, 0, 9, 2}, Addr: r.stackIP, PrefixLen: 24}})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.TCP().Listen(8080, sinkListener{&r.sinks}); err != nil {
			t.Fatal(err)
		}
		r.loops[i] = l
	}
	r.pq = &benchQ{slab: newSlab(), out: &r.fromPeer}
	r.peer, err = reactor.New(reactor.Config{Queue: r.pq, Slab: r.pq.slab, Clock: clock, TCP: &tcp.Config{},
		IP: ip.Config{MAC: [6]byte{2, 0, 0, 0, 9, 1}, Addr: peerIP, PrefixLen: 24}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range r.loops {
		l.Start(r.now)
	}
	r.peer.Start(r.now)
	t.Cleanup(func() {
		for _, l := range r.loops {
			l.Close()
		}
		r.peer.Close()
	})
	return r
}

// step runs the peer once, delivers its frames to queue steer, runs each
// shard twice (forwarded frames and relays) and delivers their frames.
func (r *missRig) step() {
	r.now += r.dt
	r.peer.RunOnce(r.now)
	r.qs[r.steer].in = append(r.qs[r.steer].in, r.fromPeer...)
	r.fromPeer = r.fromPeer[:0]
	for range 2 {
		for _, l := range r.loops {
			l.RunOnce(r.now)
		}
	}
	for _, f := range r.toPeer {
		if f[23] == wire.ProtoTCP && wire.TCP(f[34:]).Flags()&wire.TCPFlagRST != 0 {
			r.rsts++
		}
		if r.drop == nil || !r.drop(f) {
			r.pq.in = append(r.pq.in, f)
		}
	}
	r.toPeer = r.toPeer[:0]
}

// dial opens a connection from the peer that sends total bytes.
func (r *missRig) dial(total int) *source {
	src := &source{total: total}
	if _, err := r.peer.TCP().Dial(r.stackIP, 8080, src, r.now); err != nil {
		r.t.Fatal(err)
	}
	return src
}

func (r *missRig) stats() (reactor.Stats, reactor.Stats) {
	return r.loops[0].Stats(), r.loops[1].Stats()
}

// TestForwardOnMiss: a passive connection established on shard 0 whose
// peer moves it to shard 1's queue mid-transfer (as a veth peer does when
// it rehashes) keeps going: shard 1 passes its segments to shard 0, every
// byte arrives in order, no RST is sent. A stray ACK that no shard owns
// goes round and is answered (RST) by the shard that received it; a new
// SYN on shard 1 is asked about, comes back and is opened there.
func TestForwardOnMiss(t *testing.T) {
	r := newMissRig(t, 0)
	src := r.dial(4 << 20)
	for i := 0; i < 20000 && !src.closed; i++ {
		if r.steer == 0 && len(r.sinks) == 1 && r.sinks[0].got >= 64<<10 {
			// Established on shard 0, data flowing: move the flow.
			if r.loops[0].TCP().Conns() != 1 || r.loops[1].TCP().Conns() != 0 {
				t.Fatalf("connections on shards 0/1: %d/%d, want 1/0", r.loops[0].TCP().Conns(), r.loops[1].TCP().Conns())
			}
			r.steer = 1
		}
		r.step()
	}
	if r.steer != 1 {
		t.Fatal("the transfer ended before the flow could be moved")
	}
	if len(r.sinks) != 1 || !src.closed || src.reason != tcp.CloseNormal || !r.sinks[0].closed {
		t.Fatalf("transfer did not finish cleanly: %d connections, source closed %v (%v), sent %d", len(r.sinks), src.closed, src.reason, src.sent)
	}
	if s := r.sinks[0]; s.got != src.total || s.bad != 0 {
		t.Fatalf("sink got %d of %d bytes, %d wrong", s.got, src.total, s.bad)
	}
	s0, s1 := r.stats()
	t.Logf("shard 0 %+v\nshard 1 %+v", s0, s1)
	if s1.MissForwarded == 0 || s0.MissFound != s1.MissForwarded || s0.MissReturned != 0 || s1.FwdDrops != 0 || s0.FwdDrops != 0 {
		t.Errorf("shard 1 asked %d times, shard 0 found %d (returned %d); drops %d/%d", s1.MissForwarded, s0.MissFound, s0.MissReturned, s0.FwdDrops, s1.FwdDrops)
	}
	if t0, t1 := r.loops[0].TCP().Stats(), r.loops[1].TCP().Stats(); r.rsts != 0 || t0.ResetsSent+t1.ResetsSent != 0 || t1.PassiveOpens != 0 {
		t.Errorf("RSTs seen %d, sent %d/%d; passive opens on shard 1: %d", r.rsts, t0.ResetsSent, t1.ResetsSent, t1.PassiveOpens)
	}

	// A stray ACK to the listening port, owned by nobody, arriving on
	// shard 1: asked of shard 0, returned, answered with a RST by shard 1.
	r.qs[1].in = append(r.qs[1].in, strayACK(t, [4]byte{198, 18, 9, 1}, r.stackIP))
	b0, b1 := r.stats()
	resets1 := r.loops[1].TCP().Stats().ResetsSent
	r.step()
	r.step()
	a0, a1 := r.stats()
	if a1.MissForwarded != b1.MissForwarded+1 || a0.MissReturned != b0.MissReturned+1 || a1.ForwardIn != b1.ForwardIn+1 {
		t.Errorf("stray ACK: shard 1 asked %d, shard 0 returned %d, shard 1 took back %d (want 1 each)",
			a1.MissForwarded-b1.MissForwarded, a0.MissReturned-b0.MissReturned, a1.ForwardIn-b1.ForwardIn)
	}
	if r.loops[1].TCP().Stats().ResetsSent != resets1+1 || r.rsts != 1 {
		t.Errorf("stray ACK: shard 1 sent %d RSTs, peer saw %d, want 1", r.loops[1].TCP().Stats().ResetsSent-resets1, r.rsts)
	}

	// A new connection on shard 1's queue: its SYN is asked about once,
	// returned, and the connection is opened on shard 1.
	b0, b1 = r.stats()
	src2 := r.dial(1000)
	for i := 0; i < 2000 && !src2.closed; i++ {
		r.step()
	}
	if t1 := r.loops[1].TCP().Stats(); t1.PassiveOpens != 1 || !src2.closed || len(r.sinks) != 2 || r.sinks[1].got != 1000 {
		t.Errorf("second connection: passive opens on shard 1 %d, done %v, got %d", t1.PassiveOpens, src2.closed, r.sinks[len(r.sinks)-1].got)
	}
	if a0, a1 := r.stats(); a1.MissForwarded-b1.MissForwarded != 1 || a0.MissReturned-b0.MissReturned != 1 {
		t.Errorf("second connection: shard 1 asked about %d segments, shard 0 returned %d; want only the SYN",
			a1.MissForwarded-b1.MissForwarded, a0.MissReturned-b0.MissReturned)
	}
}

// TestForwardRetransmittedSYN: the SYN-ACK from shard 0 is lost and the
// peer's retransmitted SYN lands on shard 1 (a rehash after the RTO).
// Shard 1 must not open a second connection: it asks shard 0, which holds
// the connection in SYN-RECEIVED and answers. One connection, on shard 0,
// every byte delivered, no RST.
func TestForwardRetransmittedSYN(t *testing.T) {
	r := newMissRig(t, 0)
	lost := 0
	r.drop = func(f []byte) bool {
		if lost == 0 && f[23] == wire.ProtoTCP && wire.TCP(f[34:]).Flags().Has(wire.TCPFlagSYN|wire.TCPFlagACK) {
			lost++
			r.steer = 1 // the peer's RTO will rehash
			return true
		}
		return false
	}
	r.dt = 5e6 // 5 ms steps: the peer's SYN RTO is about a second
	src := r.dial(200 << 10)
	for i := 0; i < 4000 && !src.closed; i++ {
		r.step()
	}
	if lost != 1 || !src.closed || src.reason != tcp.CloseNormal || len(r.sinks) != 1 || r.sinks[0].got != src.total || r.sinks[0].bad != 0 {
		t.Fatalf("SYN-ACKs lost %d; source closed %v (%v), %d sinks", lost, src.closed, src.reason, len(r.sinks))
	}
	t0, t1 := r.loops[0].TCP().Stats(), r.loops[1].TCP().Stats()
	if t0.PassiveOpens != 1 || t1.PassiveOpens != 0 || r.rsts != 0 {
		t.Errorf("passive opens on shards 0/1: %d/%d (want 1/0), RSTs %d", t0.PassiveOpens, t1.PassiveOpens, r.rsts)
	}
	if _, s1 := r.stats(); s1.MissForwarded == 0 {
		t.Error("shard 1 asked about nothing")
	}
}

// TestForwardSYNRingFull: with one-slot rings, the second of two SYNs
// arriving together cannot be asked about; it is answered where it is
// (Stats.SynLocal), never dropped, and both connections complete.
func TestForwardSYNRingFull(t *testing.T) {
	r := newMissRig(t, 1)
	r.steer = 1
	a, b := r.dial(1000), r.dial(1000)
	for i := 0; i < 2000 && !(a.closed && b.closed); i++ {
		r.step()
	}
	if !a.closed || !b.closed || a.reason != tcp.CloseNormal || b.reason != tcp.CloseNormal || len(r.sinks) != 2 {
		t.Fatalf("connections: %v %v, %d accepted", a.reason, b.reason, len(r.sinks))
	}
	s0, s1 := r.stats()
	if s1.SynLocal != 1 || s1.FwdDrops+s0.FwdDrops != 0 || r.loops[1].TCP().Stats().PassiveOpens != 2 {
		t.Errorf("SYNs answered locally %d (want 1), forward drops %d, passive opens on shard 1 %d (want 2)",
			s1.SynLocal, s1.FwdDrops+s0.FwdDrops, r.loops[1].TCP().Stats().PassiveOpens)
	}
}

// sinkListener makes a sink for each accepted connection.
type sinkListener struct{ sinks *[]*sink }

func (l sinkListener) OnOpen(c *tcp.Conn, now int64) {
	s := &sink{}
	*l.sinks = append(*l.sinks, s)
	c.SetHandler(s)
}
func (sinkListener) OnData(*tcp.Conn, []byte, int64) int       { return 0 }
func (sinkListener) OnWritable(*tcp.Conn, int64)               {}
func (sinkListener) OnPeerClosed(*tcp.Conn, int64)             {}
func (sinkListener) OnClose(*tcp.Conn, tcp.CloseReason, int64) {}

// strayACK is an ACK from src:40000 to dst:8080 with correct checksums.
func strayACK(t *testing.T, src, dst [4]byte) []byte {
	t.Helper()
	f := make([]byte, wire.EthernetHeaderLen+wire.IPv4MinHeaderLen+wire.TCPMinHeaderLen)
	wire.Ethernet(f).Encode(&wire.EthernetFields{Dst: [6]byte{2, 0, 0, 0, 9, 2}, Src: [6]byte{2, 0, 0, 0, 9, 1}, EtherType: wire.EtherTypeIPv4})
	wire.IPv4(f[14:]).Encode(&wire.IPv4Fields{TotalLen: 40, TTL: 64, Protocol: wire.ProtoTCP, Src: src, Dst: dst})
	seg := wire.TCP(f[34:])
	seg.Encode(&wire.TCPFields{SrcPort: 40000, DstPort: 8080, Seq: 12345, Ack: 67890, Flags: wire.TCPFlagACK, Window: 1000})
	seg.SetChecksum(seg.ComputeChecksum(src, dst))
	if !seg.ChecksumValid(src, dst) {
		t.Fatal("stray ACK checksum")
	}
	return f
}
