package kstack

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/stream"
)

const (
	reqSize  = 32
	respSize = 128
)

// rr answers every reqSize-byte request with a respSize-byte response.
type rr struct {
	resp   [respSize]byte
	served int
}

func (r *rr) OnOpen(c stream.Conn, now int64) {}
func (r *rr) OnData(c stream.Conn, b []byte, now int64) int {
	n := 0
	for len(b)-n >= reqSize {
		if c.Write(r.resp[:], now) != respSize {
			break
		}
		n += reqSize
		r.served++
	}
	return n
}
func (r *rr) OnWritable(c stream.Conn, now int64)                    { c.Resume(now) }
func (r *rr) OnPeerClosed(c stream.Conn, now int64)                  { c.Close(now) }
func (r *rr) OnClose(c stream.Conn, _ stream.CloseReason, now int64) {}

// rawClient is a blocking client socket used through raw system calls,
// so that the client side of a round trip allocates nothing either.
type rawClient struct {
	fd   int
	req  [reqSize]byte
	resp [respSize]byte
}

func newRawClient(t testing.TB, th *testHost) *rawClient {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	a := th.addr()
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}); err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	tv := unix.NsecToTimeval(int64(10 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &rawClient{fd: fd}
}

// roundTrip sends one request, runs the host until it has answered, and
// reads the whole response. It reports failure instead of failing, so
// that it allocates nothing on success.
func (rc *rawClient) roundTrip(th *testHost, r *rr) bool {
	want := r.served + 1
	if n, err := unix.Write(rc.fd, rc.req[:]); err != nil || n != reqSize {
		return false
	}
	for spins := 0; r.served < want; spins++ {
		if spins > 10_000_000 {
			return false
		}
		th.RunOnce(th.now)
	}
	for got := 0; got < respSize; {
		n, err := unix.Read(rc.fd, rc.resp[got:])
		if err != nil || n <= 0 {
			return false
		}
		got += n
	}
	return true
}

// TestZeroAllocRoundTrip: a request/response round trip over a warm
// loopback connection allocates nothing (the Host's iteration, the read,
// OnData, Write and the flush).
func TestZeroAllocRoundTrip(t *testing.T) {
	r := &rr{}
	th := newTestHost(t, Config{}, r)
	rc := newRawClient(t, th)
	for range 100 { // warm up: buffers, lists
		if !rc.roundTrip(th, r) {
			t.Fatal("round trip failed")
		}
	}
	ok := true
	allocs := testing.AllocsPerRun(1000, func() {
		if !rc.roundTrip(th, r) {
			ok = false
		}
	})
	if !ok {
		t.Fatal("round trip failed")
	}
	if allocs != 0 {
		t.Errorf("%.2f allocations per round trip, want 0", allocs)
	}
}

// TestZeroAllocIdleIteration: an iteration with nothing to do allocates
// nothing.
func TestZeroAllocIdleIteration(t *testing.T) {
	th := newTestHost(t, Config{}, &echo{})
	if a := testing.AllocsPerRun(1000, func() { th.RunOnce(th.now) }); a != 0 {
		t.Errorf("%.2f allocations per idle iteration", a)
	}
}

// BenchmarkRoundTrip: one hand-driven host, one client, request/response
// in lock step (latency of the kernel path plus the loop).
func BenchmarkRoundTrip(b *testing.B) {
	r := &rr{}
	th := newTestHost(b, Config{}, r)
	rc := newRawClient(b, th)
	for range 100 {
		rc.roundTrip(th, r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if !rc.roundTrip(th, r) {
			b.Fatal("round trip failed")
		}
	}
}

// BenchmarkEchoStream: 2 shards echo 8 concurrent 4 MiB streams (bytes/s
// counted one way).
func BenchmarkEchoStream(b *testing.B) {
	g := startGroup(b, Config{Shards: 2}, &echo{})
	const streams = 8
	const size = 4 << 20
	payload := make([]byte, size)
	b.SetBytes(streams * size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(g.Addr()))
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				go func() { c.Write(payload); c.CloseWrite() }()
				n, err := io.Copy(io.Discard, c)
				if err != nil || n != size {
					b.Errorf("echoed %d bytes, %v", n, err)
				}
			}()
		}
		wg.Wait()
	}
}

// pong is rr without the (shard-local) counter, for use on several shards.
type pong struct{ resp [respSize]byte }

func (p *pong) OnOpen(c stream.Conn, now int64) {}
func (p *pong) OnData(c stream.Conn, b []byte, now int64) int {
	n := 0
	for len(b)-n >= reqSize && c.Write(p.resp[:], now) == respSize {
		n += reqSize
	}
	return n
}
func (p *pong) OnWritable(c stream.Conn, now int64)                    { c.Resume(now) }
func (p *pong) OnPeerClosed(c stream.Conn, now int64)                  { c.Close(now) }
func (p *pong) OnClose(c stream.Conn, _ stream.CloseReason, now int64) {}

// BenchmarkGroupRoundTrip: 2 shards, parallel clients (one connection
// each) in request/response lock step; ns/op is per round trip overall.
func BenchmarkGroupRoundTrip(b *testing.B) {
	g := startGroup(b, Config{Shards: 2, NoDelay: true}, &pong{})
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(g.Addr()))
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		var req [reqSize]byte
		var resp [respSize]byte
		for pb.Next() {
			if _, err := c.Write(req[:]); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(c, resp[:]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
