package interop

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic/memwire"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/tcp"
)

// source writes an endless stream (a fixed buffer, over and over) until
// limit bytes have been accepted, then closes.
type source struct {
	data  []byte
	limit uint64
	sent  uint64
}

func (s *source) pump(c *tcp.Conn, now int64) {
	for s.sent < s.limit {
		k := min(uint64(len(s.data)), s.limit-s.sent)
		n := c.Write(s.data[:k], now)
		s.sent += uint64(n)
		if uint64(n) < k {
			return
		}
	}
	c.Close(now)
}

func (s *source) OnOpen(c *tcp.Conn, now int64)                     { s.pump(c, now) }
func (s *source) OnData(c *tcp.Conn, b []byte, now int64) int       { return len(b) }
func (s *source) OnWritable(c *tcp.Conn, now int64)                 { s.pump(c, now) }
func (s *source) OnPeerClosed(c *tcp.Conn, now int64)               {}
func (s *source) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) {}

// sink counts what arrives.
type sink struct {
	got    uint64
	closed bool
}

func (s *sink) OnOpen(c *tcp.Conn, now int64)                     {}
func (s *sink) OnData(c *tcp.Conn, b []byte, now int64) int       { s.got += uint64(len(b)); return len(b) }
func (s *sink) OnWritable(c *tcp.Conn, now int64)                 {}
func (s *sink) OnPeerClosed(c *tcp.Conn, now int64)               { c.Close(now) }
func (s *sink) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) { s.closed = true }

// BenchmarkMemwireOneConn is one connection's throughput between two
// shardnet stacks joined by memwire, both loops driven from this
// goroutine (so it measures the two stacks' work on one core).
func BenchmarkMemwireOneConn(b *testing.B) {
	const per = 1 << 20
	slabA, _ := buf.NewSlab(4096, buf.DefaultFrameSize, buf.DefaultHeadroom)
	slabB, _ := buf.NewSlab(4096, buf.DefaultFrameSize, buf.DefaultHeadroom)
	qa, qb, err := memwire.New(memwire.Config{}, slabA, slabB)
	if err != nil {
		b.Fatal(err)
	}
	addrA, addrB := [4]byte{198, 18, 200, 1}, [4]byte{198, 18, 200, 2}
	mk := func(q *memwire.Queue, slab *buf.Slab, addr [4]byte, mac byte) *reactor.Loop {
		l, err := reactor.New(reactor.Config{Queue: q, Slab: slab, TCP: &tcp.Config{},
			IP: ip.Config{MAC: [6]byte{2, 0, 0, 0, 0, mac}, Addr: addr, PrefixLen: 24}})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	la, lb := mk(qa, slabA, addrA, 1), mk(qb, slabB, addrB, 2)
	rcv := &sink{}
	if err := lb.TCP().Listen(9, rcv); err != nil {
		b.Fatal(err)
	}
	src := &source{data: make([]byte, 64<<10), limit: uint64(b.N) * per}
	now := reactor.Monotonic()
	la.Start(now)
	lb.Start(now)
	if _, err := la.TCP().Dial(addrB, 9, src, now); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(per)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; !rcv.closed; i++ {
		now = reactor.Monotonic()
		la.RunOnce(now)
		lb.RunOnce(now)
		if i > 100_000_000 {
			b.Fatalf("no progress: got %d of %d", rcv.got, src.limit)
		}
	}
	b.StopTimer()
	if rcv.got != src.limit {
		b.Fatalf("received %d bytes, want %d", rcv.got, src.limit)
	}
	la.Close()
	lb.Close()
	qa.Close()
	qb.Close()
	if slabA.InUse() != 0 || slabB.InUse() != 0 {
		b.Fatalf("slab leak: %d / %d", slabA.InUse(), slabB.InUse())
	}
	slabA.Close()
	slabB.Close()
}

// BenchmarkTAPKernelToShard is one connection's throughput from a Linux
// socket to a shardnet shard over TAP (the shard verifies nothing: a sink).
func BenchmarkTAPKernelToShard(b *testing.B) {
	benchTAP(b, false)
}

// BenchmarkTAPShardToKernel is the other direction: the shard sends, a
// Linux socket reads.
func BenchmarkTAPShardToKernel(b *testing.B) {
	benchTAP(b, true)
}

func benchTAP(b *testing.B, shardSends bool) {
	const per = 1 << 20
	nstest.RequireRoot(b)
	r := newRig(b, rigConfig{})
	total := uint64(b.N) * per
	b.SetBytes(per)
	b.ResetTimer()
	var err error
	if shardSends {
		err = r.benchShardSends(total)
	} else {
		err = r.benchKernelSends(total)
	}
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
}

func (r *rig) benchKernelSends(total uint64) error {
	snk := &sink{}
	r.onShard(func() { r.loop.TCP().Listen(9, snk) })
	var c net.Conn
	if err := r.ns.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp4", netip.AddrPortFrom(r.stack, 9).String(), 10*time.Second)
		return err
	}); err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	data := make([]byte, 256<<10)
	for sent := uint64(0); sent < total; {
		k := min(uint64(len(data)), total-sent)
		n, err := c.Write(data[:k])
		sent += uint64(n)
		if err != nil {
			return err
		}
	}
	c.(*net.TCPConn).CloseWrite()
	var rest [1]byte
	if _, err := c.Read(rest[:]); err == nil {
		return fmt.Errorf("shard sent data")
	}
	var got uint64
	r.onShard(func() { got = snk.got })
	if got != total {
		return fmt.Errorf("shard received %d of %d", got, total)
	}
	return nil
}

func (r *rig) benchShardSends(total uint64) error {
	var ln net.Listener
	port := 20000 + rand.IntN(10000)
	if err := r.ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(r.host, uint16(port)).String())
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	src := &source{data: make([]byte, 64<<10), limit: total}
	r.onShard(func() { r.loop.TCP().Dial(r.host.As4(), uint16(port), src, r.loop.Now()) })
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	buf := make([]byte, 256<<10)
	var got uint64
	for {
		n, err := c.Read(buf)
		got += uint64(n)
		if err != nil {
			break
		}
	}
	if got != total {
		return fmt.Errorf("kernel received %d of %d", got, total)
	}
	return nil
}
