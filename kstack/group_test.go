package kstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/xfer"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
)

const clients = 100

// TestEchoManyClients: 100 concurrent clients each send up to 1 MiB of
// random bytes and must get exactly those bytes back, then EOF; both
// shards must have served some of them.
func TestEchoManyClients(t *testing.T) {
	e := &echo{closed: make(chan stream.CloseReason, clients)}
	g := startGroup(t, Config{Shards: 2}, e)
	rng := rand.New(rand.NewPCG(1, 2))
	var total uint64
	payloads := make([][]byte, clients)
	for i := range payloads {
		payloads[i] = make([]byte, rng.IntN(1<<20+1))
		for j := range payloads[i] {
			payloads[i][j] = byte(rng.Uint32())
		}
		total += uint64(len(payloads[i]))
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- echoClient(g.Addr(), payloads[i])
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for range clients {
		if r := recv(t, e.closed, "OnClose"); r != stream.CloseNormal {
			t.Errorf("server saw close reason %v, want normal", r)
		}
	}
	stopGroup(t, g)
	st := g.Stats()
	if len(st) != 2 {
		t.Fatalf("Stats: %d shards, want 2", len(st))
	}
	var accepted, in, out uint64
	for i, s := range st {
		t.Logf("shard %d: %+v", i, s)
		if s.Accepted == 0 {
			t.Errorf("shard %d accepted no connection: SO_REUSEPORT spreading failed", i)
		}
		if s.Open != 0 || s.Closed != s.Accepted {
			t.Errorf("shard %d: open %d, closed %d of %d accepted", i, s.Open, s.Closed, s.Accepted)
		}
		accepted += s.Accepted
		in += s.BytesIn
		out += s.BytesOut
	}
	if accepted != clients || in != total || out != total {
		t.Errorf("accepted %d, bytes in %d out %d; want %d, %d, %d", accepted, in, out, clients, total, total)
	}
}

func echoClient(addr netip.AddrPort, payload []byte) error {
	c, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(addr))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, rerr := io.ReadAll(c)
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("read after %d bytes: %w", len(got), rerr)
	}
	if !bytes.Equal(got, payload) {
		return fmt.Errorf("echo of %d bytes came back as %d different bytes", len(payload), len(got))
	}
	return nil
}

func stopGroup(t testing.TB, g *Group) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// TestXferManyClients: 100 concurrent full-duplex transfers of random
// sizes up to 1 MiB each way, verified byte for byte on both sides.
func TestXferManyClients(t *testing.T) {
	x := &xferServer{results: make(chan error, clients)}
	g := startGroup(t, Config{Shards: 2}, x)
	rng := rand.New(rand.NewPCG(3, 4))
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	var up, down uint64
	for i := range clients {
		hdr := xfer.Header{Up: rng.Uint64N(1<<20 + 1), Down: rng.Uint64N(1<<20 + 1), Seed: rng.Uint64()}
		up += hdr.Up
		down += hdr.Down
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(g.Addr()))
			if err == nil {
				err = xfer.KernelClient(c, hdr, time.Now().Add(60*time.Second))
			}
			if err != nil {
				errs <- fmt.Errorf("client %d (%+v): %w", i, hdr, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for range clients {
		if err := recv(t, x.results, "a server result"); err != nil {
			t.Errorf("server: %v", err)
		}
	}
	stopGroup(t, g)
	var in, out uint64
	for i, s := range g.Stats() {
		if s.Accepted == 0 {
			t.Errorf("shard %d accepted no connection", i)
		}
		in += s.BytesIn
		out += s.BytesOut
	}
	if in != up+clients*xfer.HeaderLen || out != down {
		t.Errorf("bytes in %d, out %d; want %d, %d", in, out, up+clients*xfer.HeaderLen, down)
	}
}

// TestHalfClose: the client sends and half-closes; the server answers
// after OnPeerClosed and closes; the client reads the answer and EOF.
func TestHalfClose(t *testing.T) {
	events := make(chan string, 16)
	var got []byte // shard thread only
	h := &funcs{
		data: func(c stream.Conn, b []byte, now int64) int {
			got = append(got, b...)
			events <- "data"
			return len(b)
		},
		peer: func(c stream.Conn, now int64) {
			events <- "peer-closed"
			msg := fmt.Sprintf("got %q", got)
			if c.Write([]byte(msg), now) != len(msg) {
				events <- "short write"
			}
			c.Close(now)
			if n := c.Write([]byte("late"), now); n != 0 {
				events <- "write after close took bytes"
			}
		},
		close: func(c stream.Conn, r stream.CloseReason, now int64) { events <- "close:" + r.String() },
	}
	g := startGroup(t, Config{Shards: 1}, h)
	c := dial(t, g.Addr())
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(reply) != `got "hello"` {
		t.Errorf("reply %q", reply)
	}
	var seq []string
	for {
		e := recv(t, events, "handler events")
		if e != "data" || len(seq) == 0 || seq[len(seq)-1] != "data" {
			seq = append(seq, e)
		}
		if len(e) > 6 && e[:6] == "close:" {
			break
		}
	}
	if want := []string{"data", "peer-closed", "close:normal"}; fmt.Sprint(seq) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", seq, want)
	}
}

// TestAbortResetsClient: Abort sends a RST (the client's read fails with
// ECONNRESET) and OnClose runs with CloseAborted.
func TestAbortResetsClient(t *testing.T) {
	reasons := make(chan stream.CloseReason, 1)
	h := &funcs{
		data: func(c stream.Conn, b []byte, now int64) int {
			c.Write([]byte("unsent reply"), now) // discarded by the abort
			c.Abort(now)
			return len(b)
		},
		close: func(c stream.Conn, r stream.CloseReason, now int64) { reasons <- r },
	}
	g := startGroup(t, Config{Shards: 1}, h)
	c := dial(t, g.Addr())
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	var buf [64]byte
	n, err := c.Read(buf[:])
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client read: %d bytes, %v; want ECONNRESET", n, err)
	}
	if r := recv(t, reasons, "OnClose"); r != stream.CloseAborted {
		t.Errorf("close reason %v, want aborted", r)
	}
}

// TestPeerReset: a client that resets makes OnClose run with CloseReset.
func TestPeerReset(t *testing.T) {
	reasons := make(chan stream.CloseReason, 1)
	opened := make(chan struct{})
	h := &funcs{
		open:  func(c stream.Conn, now int64) { close(opened) },
		close: func(c stream.Conn, r stream.CloseReason, now int64) { reasons <- r },
	}
	g := startGroup(t, Config{Shards: 1}, h)
	c := dial(t, g.Addr())
	recv(t, opened, "OnOpen")
	c.SetLinger(0)
	c.Close()
	select {
	case r := <-reasons:
		if r != stream.CloseReset {
			t.Errorf("close reason %v, want reset", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose after the peer's RST")
	}
}

// TestWriteFlowControl: a client that does not read makes Write come up
// short; once it reads, OnWritable fires and the rest is delivered intact.
func TestWriteFlowControl(t *testing.T) {
	const total = 32 << 20
	const seed = 42
	short := make(chan struct{}, 1)
	done := make(chan [2]int, 1) // writables, shorts
	var sent, writables, shorts int
	var chunk [32 << 10]byte
	var pump func(c stream.Conn, now int64)
	pump = func(c stream.Conn, now int64) {
		for sent < total {
			n := min(len(chunk), total-sent)
			xfer.Fill(seed, uint64(sent), chunk[:n])
			w := c.Write(chunk[:n], now)
			sent += w
			if w < n {
				if c.WriteSpace() != 0 {
					t.Errorf("short write with WriteSpace %d", c.WriteSpace())
				}
				shorts++
				select {
				case short <- struct{}{}:
				default:
				}
				return
			}
		}
		c.Close(now)
	}
	h := &funcs{
		open: pump,
		writable: func(c stream.Conn, now int64) {
			writables++
			pump(c, now)
		},
		close: func(c stream.Conn, r stream.CloseReason, now int64) { done <- [2]int{writables, shorts} },
	}
	g := startGroup(t, Config{Shards: 1, SendBuf: 64 << 10}, h)
	c := dial(t, g.Addr())
	c.SetDeadline(time.Now().Add(30 * time.Second))
	select {
	case <-short:
	case <-time.After(10 * time.Second):
		t.Fatal("Write never came up short while the client did not read")
	}
	v := xfer.NewVerifier(seed, total)
	if _, err := io.Copy(v, c); err != nil {
		t.Fatal(err)
	}
	if err := v.Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	r := recv(t, done, "OnClose")
	if r[0] == 0 || r[0] != r[1] {
		t.Errorf("OnWritable ran %d times after %d short writes; want as many, > 0", r[0], r[1])
	}
}

// TestStopWithOpenConns: Stop returns promptly with connections open,
// aborts them, and leaves no file descriptor behind.
func TestStopWithOpenConns(t *testing.T) {
	warm := dialWarmup(t)
	warm.Close()
	before := openFDs(t)

	closed := make(chan stream.CloseReason, 64)
	e := &echo{closed: closed}
	cfg := Config{Addr: loopback, Shards: 2, CPUs: cpus(t, 2)}
	g, err := Start(cfg, func(s *shard.Shard, h *Host) error { return h.Listen(0, e) })
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		c, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(g.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var b [3]byte
		if _, err := c.Write([]byte("hi!")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, b[:]); err != nil || string(b[:]) != "hi!" {
			t.Fatalf("echo: %q, %v", b, err)
		}
	}
	start := time.Now()
	stopGroup(t, g)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %v", d)
	}
	for range n {
		if r := recv(t, closed, "OnClose"); r != stream.CloseAborted {
			t.Errorf("close reason %v, want aborted", r)
		}
	}
	var aborted uint64
	for _, s := range g.Stats() {
		aborted += s.Aborted
	}
	if aborted != n {
		t.Errorf("aborted %d, want %d", aborted, n)
	}
	for _, c := range conns {
		var b [1]byte
		if _, err := c.Read(b[:]); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("client read after Stop: %v, want ECONNRESET", err)
		}
		c.Close()
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d fds open after Stop, %d before", after, before)
	}
}

// dialWarmup makes the Go runtime open its own poller fds before a test
// counts descriptors.
func dialWarmup(t *testing.T) net.Conn {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStartSetupError: a failing setup stops the group and Start reports
// it; a bad address is refused.
func TestStartSetupError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Start(Config{Addr: loopback, Shards: 2, CPUs: cpus(t, 2)}, func(s *shard.Shard, h *Host) error {
		if s.ID == 1 {
			return boom
		}
		return h.Listen(0, &echo{})
	})
	if !errors.Is(err, boom) {
		t.Errorf("Start: %v, want boom", err)
	}
	_, err = Start(Config{Addr: netip.MustParseAddrPort("[::1]:0")}, func(*shard.Shard, *Host) error { return nil })
	if !errors.Is(err, ErrConfig) {
		t.Errorf("IPv6 address: %v, want ErrConfig", err)
	}
	if _, err := Start(Config{}, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("zero Config: %v, want ErrConfig", err)
	}
}

// TestInboxReachesShard: a func posted from another goroutine runs on the
// shard and may use its connections.
func TestInboxReachesShard(t *testing.T) {
	var conn stream.Conn // shard thread only
	opened := make(chan *shard.Shard, 1)
	var sh *shard.Shard
	h := &funcs{open: func(c stream.Conn, now int64) { conn = c; opened <- sh }}
	g, err := Start(Config{Addr: loopback, Shards: 1, CPUs: cpus(t, 1)}, func(s *shard.Shard, host *Host) error {
		sh = s
		return host.Listen(0, h)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopGroup(t, g)
	c := dial(t, g.Addr())
	s := recv(t, opened, "OnOpen")
	if err := s.Inbox().Post(func() {
		conn.Write([]byte("from the inbox"), 0)
		conn.Close(0)
	}); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "from the inbox" {
		t.Errorf("read %q, %v", b, err)
	}
}
