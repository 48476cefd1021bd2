package kstack

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/xfer"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
)

var loopback = netip.MustParseAddrPort("127.0.0.1:0")

// cpus returns n CPUs to pin n shards to: the allowed ones, repeated if
// the machine has fewer (shard allows that for tests).
func cpus(t testing.TB, n int) []int {
	all, err := shard.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = all[i%len(all)]
	}
	return out
}

// startGroup starts a group whose every shard listens on the group's
// port with h, and stops it when the test ends.
func startGroup(t testing.TB, cfg Config, h stream.Handler) *Group {
	t.Helper()
	if !cfg.Addr.IsValid() {
		cfg.Addr = loopback
	}
	if cfg.CPUs == nil {
		cfg.CPUs = cpus(t, max(cfg.Shards, 1))
	}
	g, err := Start(cfg, func(s *shard.Shard, host *Host) error { return host.Listen(0, h) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return g
}

func dial(t testing.TB, addr netip.AddrPort) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testHost is a hand-driven Host on a manual clock.
type testHost struct {
	*Host
	t   testing.TB
	now int64
}

func newTestHost(t testing.TB, cfg Config, h stream.Handler) *testHost {
	t.Helper()
	if !cfg.Addr.IsValid() {
		cfg.Addr = loopback
	}
	th := &testHost{t: t}
	cfg.Clock = func() int64 { return th.now }
	host, err := NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	th.Host = host
	t.Cleanup(func() { host.Close(th.now) })
	if err := host.Listen(0, h); err != nil {
		t.Fatal(err)
	}
	return th
}

func (th *testHost) addr() netip.AddrPort { return th.ListenAddrs()[0] }

// runUntil runs iterations at the current time until cond holds; it fails
// the test if that takes more than 10 s of wall time (a kernel event that
// never comes).
func (th *testHost) runUntil(what string, cond func() bool) {
	th.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			th.t.Fatalf("timed out waiting for %s", what)
		}
		th.RunOnce(th.now)
	}
}

// openFDs counts the process's open file descriptors.
func openFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// ---- handlers over stream.Conn ----

// echo writes back what it receives, consuming only what the send buffer
// took, and closes once the peer has closed and everything is echoed.
type echo struct{ closed chan stream.CloseReason }

type echoState struct{ peerClosed bool }

func (e *echo) OnOpen(c stream.Conn, now int64) { c.SetContext(&echoState{}) }
func (e *echo) OnData(c stream.Conn, data []byte, now int64) int {
	return c.Write(data, now)
}
func (e *echo) OnWritable(c stream.Conn, now int64) {
	c.Resume(now)
	e.closeIfDone(c, now)
}
func (e *echo) OnPeerClosed(c stream.Conn, now int64) {
	c.Context().(*echoState).peerClosed = true
	e.closeIfDone(c, now)
}
func (e *echo) closeIfDone(c stream.Conn, now int64) {
	if c.Context().(*echoState).peerClosed && c.Unread() == 0 {
		c.Close(now)
	}
}
func (e *echo) OnClose(c stream.Conn, r stream.CloseReason, now int64) {
	if e.closed != nil {
		e.closed <- r
	}
}

// xferServer is the server side of the xfer protocol over stream.Conn:
// read the header, stream Down bytes while verifying Up bytes, close when
// both are done. Each connection's outcome goes to results.
type xferServer struct{ results chan error }

type xferConn struct {
	hdrBuf     [xfer.HeaderLen]byte
	got        int
	hdr        xfer.Header
	v          *xfer.Verifier
	sent       uint64
	peerClosed bool
	err        error
	writables  int
	chunk      [16 << 10]byte
}

func (x *xferServer) OnOpen(c stream.Conn, now int64) { c.SetContext(&xferConn{}) }

func (x *xferServer) OnData(c stream.Conn, data []byte, now int64) int {
	st := c.Context().(*xferConn)
	n := 0
	if st.v == nil {
		n = copy(st.hdrBuf[st.got:], data)
		st.got += n
		if st.got < xfer.HeaderLen {
			return n
		}
		st.hdr = xfer.DecodeHeader(st.hdrBuf[:])
		st.v = xfer.NewVerifier(st.hdr.UpSeed(), st.hdr.Up)
		x.pump(c, st, now)
	}
	st.v.Write(data[n:])
	return len(data)
}

func (x *xferServer) OnWritable(c stream.Conn, now int64) {
	st := c.Context().(*xferConn)
	st.writables++
	x.pump(c, st, now)
}

func (x *xferServer) pump(c stream.Conn, st *xferConn, now int64) {
	for st.sent < st.hdr.Down {
		n := int(min(uint64(len(st.chunk)), st.hdr.Down-st.sent))
		xfer.Fill(st.hdr.DownSeed(), st.sent, st.chunk[:n])
		w := c.Write(st.chunk[:n], now)
		st.sent += uint64(w)
		if w < n {
			return
		}
	}
	x.maybeDone(c, st, now)
}

func (x *xferServer) OnPeerClosed(c stream.Conn, now int64) {
	st := c.Context().(*xferConn)
	st.peerClosed = true
	x.maybeDone(c, st, now)
}

func (x *xferServer) maybeDone(c stream.Conn, st *xferConn, now int64) {
	if !st.peerClosed || st.v == nil || st.sent < st.hdr.Down {
		return
	}
	st.err = st.v.Err()
	c.Close(now)
}

func (x *xferServer) OnClose(c stream.Conn, r stream.CloseReason, now int64) {
	st := c.Context().(*xferConn)
	err := st.err
	if err == nil && r != stream.CloseNormal {
		err = &closeErr{r}
	}
	x.results <- err
}

type closeErr struct{ r stream.CloseReason }

func (e *closeErr) Error() string { return "connection closed: " + e.r.String() }

// funcs is a Handler made of optional funcs, for one-off tests.
type funcs struct {
	open     func(c stream.Conn, now int64)
	data     func(c stream.Conn, b []byte, now int64) int
	writable func(c stream.Conn, now int64)
	peer     func(c stream.Conn, now int64)
	close    func(c stream.Conn, r stream.CloseReason, now int64)
}

func (f *funcs) OnOpen(c stream.Conn, now int64) {
	if f.open != nil {
		f.open(c, now)
	}
}
func (f *funcs) OnData(c stream.Conn, b []byte, now int64) int {
	if f.data != nil {
		return f.data(c, b, now)
	}
	return len(b)
}
func (f *funcs) OnWritable(c stream.Conn, now int64) {
	if f.writable != nil {
		f.writable(c, now)
	}
}
func (f *funcs) OnPeerClosed(c stream.Conn, now int64) {
	if f.peer != nil {
		f.peer(c, now)
	}
}
func (f *funcs) OnClose(c stream.Conn, r stream.CloseReason, now int64) {
	if f.close != nil {
		f.close(c, r, now)
	}
}

// recv receives from ch, failing the test after 20 s.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
