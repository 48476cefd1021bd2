package netconn_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/stream/netconn"
)

// The Conn tests run on both stacks: shardnet's TCP over TAP (as root)
// and the kernel backend over loopback.
var connTests = []struct {
	name string
	f    func(t *testing.T, e *env)
}{
	{"addrs", testAddrs},
	{"readDeadline", testReadDeadline},
	{"pastDeadline", testPastDeadline},
	{"halfClosePeer", testHalfClosePeer},
	{"closeWrite", testCloseWrite},
	{"slowReaderBlocksWrite", testSlowReaderBlocksWrite},
	{"slowServerReader", testSlowServerReader},
	{"peerReset", testPeerReset},
	{"closeUnblocks", testCloseUnblocks},
	{"backlogOverflow", testBacklogOverflow},
	{"listenerClose", testListenerClose},
}

func TestConnOverTAP(t *testing.T) {
	e := tapEnv(t)
	for _, tc := range connTests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, e) })
	}
}

func TestConnOverKernel(t *testing.T) {
	e := kernelEnv(t)
	for _, tc := range connTests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, e) })
	}
}

// pair returns a connected (client, server) pair on a new Listener.
func pair(t *testing.T, e *env, cfg netconn.Config) (*net.TCPConn, *netconn.Conn, *netconn.Listener) {
	t.Helper()
	ln := e.listen(t, cfg)
	cl := e.mustDial(t, ln)
	s := accept(t, ln)
	return cl, s, ln
}

func accept(t *testing.T, ln *netconn.Listener) *netconn.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := ln.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c.(*netconn.Conn)
	case <-time.After(10 * time.Second):
		t.Fatal("Accept: no connection within 10 s")
	}
	return nil
}

// readN reads exactly n bytes with a 10 s deadline.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read to EOF: %v", err)
	}
	return b
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

func testAddrs(t *testing.T, e *env) {
	cl, s, ln := pair(t, e, netconn.Config{})
	if got, want := s.LocalAddr().String(), cl.RemoteAddr().String(); got != want {
		t.Errorf("server LocalAddr %s, client RemoteAddr %s", got, want)
	}
	if got, want := s.RemoteAddr().String(), cl.LocalAddr().String(); got != want {
		t.Errorf("server RemoteAddr %s, client LocalAddr %s", got, want)
	}
	if got, want := ln.Addr().String(), cl.RemoteAddr().String(); got != want {
		t.Errorf("listener Addr %s, want %s", got, want)
	}
	// And bytes go both ways.
	cl.Write([]byte("ping"))
	if b := readN(t, s, 4); string(b) != "ping" {
		t.Fatalf("server read %q", b)
	}
	s.Write([]byte("pong"))
	if b := readN(t, cl, 4); string(b) != "pong" {
		t.Fatalf("client read %q", b)
	}
}

func testReadDeadline(t *testing.T, e *env) {
	cl, s, _ := pair(t, e, netconn.Config{})
	start := time.Now()
	s.SetReadDeadline(start.Add(100 * time.Millisecond))
	n, err := s.Read(make([]byte, 10))
	if n != 0 || !isTimeout(err) {
		t.Fatalf("Read with nothing to read: %d, %v; want a timeout", n, err)
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Fatalf("Read timed out after %v, before its 100 ms deadline", d)
	}
	// A blocked Read is released by a deadline set from another
	// goroutine (what net/http does to stop its background read).
	done := make(chan error, 1)
	s.SetReadDeadline(time.Time{})
	go func() { _, err := s.Read(make([]byte, 10)); done <- err }()
	time.AfterFunc(20*time.Millisecond, func() { s.SetReadDeadline(time.Unix(1, 0)) })
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("blocked Read after SetReadDeadline(past): %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SetReadDeadline(past) did not release a blocked Read")
	}
	// Clearing the deadline makes the connection usable again.
	s.SetReadDeadline(time.Time{})
	cl.Write([]byte("late"))
	if b := readN(t, s, 4); string(b) != "late" {
		t.Fatalf("read after the timeouts: %q", b)
	}
}

func testPastDeadline(t *testing.T, e *env) {
	cl, s, _ := pair(t, e, netconn.Config{})
	cl.Write([]byte("data"))
	readN(t, s, 2) // the rest is buffered
	s.SetDeadline(time.Now().Add(-time.Second))
	if n, err := s.Read(make([]byte, 10)); n != 0 || !isTimeout(err) {
		t.Fatalf("Read past the deadline: %d, %v", n, err)
	}
	if n, err := s.Write([]byte("x")); n != 0 || !isTimeout(err) {
		t.Fatalf("Write past the deadline: %d, %v", n, err)
	}
	s.SetDeadline(time.Time{})
	if b := readN(t, s, 2); string(b) != "ta" {
		t.Fatalf("buffered bytes after the deadline: %q", b)
	}
}

// testHalfClosePeer: the client sends a request and half-closes; the
// server reads it to EOF and still answers.
func testHalfClosePeer(t *testing.T, e *env) {
	cl, s, _ := pair(t, e, netconn.Config{})
	req := bytes.Repeat([]byte("request "), 20000) // 160 KB: more than the read buffer
	go func() {
		cl.Write(req)
		cl.CloseWrite()
	}()
	if got := readAll(t, s); !bytes.Equal(got, req) {
		t.Fatalf("server read %d bytes to EOF, want the %d sent", len(got), len(req))
	}
	if n, err := s.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF: %d, %v", n, err)
	}
	if _, err := s.Write([]byte("answer")); err != nil {
		t.Fatalf("Write after the peer's FIN: %v", err)
	}
	s.Close()
	if got := readAll(t, cl); string(got) != "answer" {
		t.Fatalf("client read %q", got)
	}
}

// testCloseWrite: the server half-closes; the client reads to EOF and
// its later bytes still reach the server.
func testCloseWrite(t *testing.T, e *env) {
	cl, s, _ := pair(t, e, netconn.Config{})
	s.Write([]byte("bye"))
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, cl); string(got) != "bye" {
		t.Fatalf("client read %q", got)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write after CloseWrite: %v, want EPIPE", err)
	}
	cl.Write([]byte("more"))
	cl.Close()
	if got := readAll(t, s); string(got) != "more" {
		t.Fatalf("server read %q after its CloseWrite", got)
	}
}

// testSlowReaderBlocksWrite: a client that does not read makes the
// server's Write block once the windows and buffers are full; the bytes
// Write reports taken are exactly what arrives.
func testSlowReaderBlocksWrite(t *testing.T, e *env) {
	cl, s, _ := pair(t, e, netconn.Config{})
	cl.SetReadBuffer(64 << 10)
	var big bytes.Buffer
	pattern(&big, 3, 16<<20)
	s.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	n, err := s.Write(big.Bytes())
	if !isTimeout(err) {
		t.Fatalf("Write of 16 MiB to a client that does not read: %d, %v; want a timeout", n, err)
	}
	// Bound: the stack's send buffer (256 KiB) plus what the client's
	// kernel buffers; far below 16 MiB.
	if n <= 0 || n > 8<<20 {
		t.Fatalf("Write took %d bytes before blocking; want 0 < n <= 8 MiB", n)
	}
	t.Logf("Write blocked after %d bytes", n)
	s.Close()
	got := readAll(t, cl)
	if !bytes.Equal(got, big.Bytes()[:n]) {
		t.Fatalf("client received %d bytes, want exactly the %d Write reported, in order", len(got), n)
	}
}

// testSlowServerReader: a server that does not read stops the client
// (the TCP window closes); reading then resumes the flow, in order.
func testSlowServerReader(t *testing.T, e *env) {
	cl, s, _ := pair(t, e, netconn.Config{ReadBuffer: 16 << 10})
	cl.SetWriteBuffer(64 << 10)
	var big bytes.Buffer
	pattern(&big, 5, 16<<20)
	cl.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	n, err := cl.Write(big.Bytes())
	if !isTimeout(err) {
		t.Fatalf("client Write of 16 MiB to a server that does not read: %d, %v; want a timeout", n, err)
	}
	if n <= 0 || n > 8<<20 {
		t.Fatalf("client wrote %d bytes before blocking; want 0 < n <= 8 MiB", n)
	}
	cl.CloseWrite()
	got := readAll(t, s)
	if !bytes.Equal(got, big.Bytes()[:n]) {
		t.Fatalf("server read %d bytes, want the %d the client wrote, in order", len(got), n)
	}
}

// testPeerReset: after the client's RST, Read and Write say so.
func testPeerReset(t *testing.T, e *env) {
	cl, s, _ := pair(t, e, netconn.Config{})
	cl.Write([]byte("x"))
	readN(t, s, 1)
	errc := make(chan error, 1)
	go func() {
		s.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := s.Read(make([]byte, 1))
		errc <- err
	}()
	cl.SetLinger(0)
	cl.Close() // RST
	if err := <-errc; !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after the peer's RST: %v, want ECONNRESET", err)
	}
	if _, err := s.Write([]byte("y")); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Write after the peer's RST: %v, want ECONNRESET", err)
	}
}

// testCloseUnblocks: Close releases a blocked Read with net.ErrClosed and
// sends a FIN.
func testCloseUnblocks(t *testing.T, e *env) {
	cl, s, _ := pair(t, e, netconn.Config{})
	errc := make(chan error, 1)
	go func() { _, err := s.Read(make([]byte, 1)); errc <- err }()
	time.AfterFunc(20*time.Millisecond, func() { s.Close() })
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked Read after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release a blocked Read")
	}
	if got := readAll(t, cl); len(got) != 0 {
		t.Fatalf("client read %q before EOF", got)
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// testBacklogOverflow: connections beyond the backlog are aborted and
// counted.
func testBacklogOverflow(t *testing.T, e *env) {
	ln := e.listen(t, netconn.Config{Backlog: 1})
	port := ln.Addr().(*net.TCPAddr).Port
	var cls []*net.TCPConn
	resets := 0
	for i := 0; i < 3; i++ {
		c, err := e.dial(t.Context(), port)
		switch {
		case err == nil:
			t.Cleanup(func() { c.Close() })
			cls = append(cls, c)
		case i > 0 && errors.Is(err, syscall.ECONNRESET):
			resets++ // the abort overtook the end of the client's connect
		default:
			t.Fatalf("dial %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for ln.Stats().Overflow < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: want 2 connections over the backlog of 1", ln.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s := accept(t, ln)
	// The accepted one is the first; the other two were reset.
	for _, c := range cls[1:] {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); errors.Is(err, syscall.ECONNRESET) {
			resets++
		}
	}
	if resets != 2 {
		t.Fatalf("%d clients saw a reset, want 2", resets)
	}
	if s.RemoteAddr().String() != cls[0].LocalAddr().String() {
		t.Fatalf("accepted %s, want the first client %s", s.RemoteAddr(), cls[0].LocalAddr())
	}
	cls[0].Write([]byte("ok"))
	if b := readN(t, s, 2); string(b) != "ok" {
		t.Fatalf("the accepted connection read %q", b)
	}
	if st := ln.Stats(); st.Overflow != 2 || st.Accepted != 1 {
		t.Fatalf("stats %+v: want 2 overflows, 1 accepted", st)
	}
}

// testListenerClose: Accept returns net.ErrClosed, a blocked Accept too,
// and the port no longer takes connections.
func testListenerClose(t *testing.T, e *env) {
	ln := e.listen(t, netconn.Config{})
	errc := make(chan error, 1)
	go func() { _, err := ln.Accept(); errc <- err }()
	time.AfterFunc(20*time.Millisecond, func() { ln.Close() })
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked Accept after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release a blocked Accept")
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	// The shard unlistens on its next iteration: dials are then refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := e.dial(t.Context(), ln.Addr().(*net.TCPAddr).Port)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		// Before the shard has unlistened a dial still connects, and
		// the connection is aborted (kstack first accepts what the
		// kernel completed, then closes its socket).
		if err == nil {
			c.Close()
		} else if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial after Close: %v, want ECONNREFUSED", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the port still accepts connections 10 s after Close")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
