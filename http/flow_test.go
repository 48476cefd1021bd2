package http

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExpectContinue(t *testing.T) {
	t.Run("body later", func(t *testing.T) {
		s, host := newTestServer(t, echoHandler, nil)
		f := newFakeConn(t, s, host)
		f.send("POST /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n")
		if got := f.takeString(); got != continueResponse {
			t.Fatalf("before the body: %q, want 100 Continue", got)
		}
		f.send("he")
		if got := f.takeString(); got != "" {
			t.Fatalf("a second 100 or an early response: %q", got)
		}
		f.send("llo")
		rs := parseResponses(t, f.take())
		if len(rs) != 1 || rs[0].body != "POST /u  hello" {
			t.Fatalf("%+v", rs)
		}
		if s.Stats().Continues != 1 {
			t.Errorf("Continues = %d", s.Stats().Continues)
		}
	})
	t.Run("body already here", func(t *testing.T) {
		s, host := newTestServer(t, echoHandler, nil)
		f := newFakeConn(t, s, host)
		f.send("POST /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
		out := f.take()
		if bytes.Contains(out, []byte("100 Continue")) {
			t.Fatalf("100 Continue sent with the body already received: %q", out)
		}
		if rs := parseResponses(t, out); len(rs) != 1 || rs[0].body != "POST /u  hello" {
			t.Fatalf("%+v", rs)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		s, host := newTestServer(t, echoHandler, nil)
		f := newFakeConn(t, s, host)
		f.send("POST /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
		if got := f.takeString(); got != continueResponse {
			t.Fatalf("before the body: %q", got)
		}
		f.send("3\r\nabc\r\n0\r\n\r\n")
		if rs := parseResponses(t, f.take()); len(rs) != 1 || rs[0].body != "POST /u  abc" {
			t.Fatalf("%+v", rs)
		}
	})
	t.Run("HTTP/1.0 ignores it", func(t *testing.T) {
		s, host := newTestServer(t, echoHandler, nil)
		f := newFakeConn(t, s, host)
		f.send("POST /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
		if got := f.takeString(); got != "" {
			t.Fatalf("HTTP/1.0: %q", got)
		}
	})
}

func TestHeaderTimeoutSlowloris(t *testing.T) {
	s, host := newTestServer(t, Plaintext, nil)
	f := newFakeConn(t, s, host)
	head := "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + strings.Repeat("x", 100)
	// One byte a second: each byte is progress, but the head as a whole
	// must be done within HeaderTimeout (10 s).
	for i := 0; i < 9; i++ {
		f.send(head[i : i+1])
		host.advance(time.Second)
		if !f.isOpen() {
			t.Fatalf("closed after %d s", i+1)
		}
	}
	host.advance(999 * time.Millisecond)
	if !f.isOpen() {
		t.Fatal("closed before the header timeout")
	}
	host.advance(2 * time.Millisecond)
	if f.isOpen() {
		t.Fatal("still open after the header timeout")
	}
	st := s.Stats()
	if st.HeaderTimeouts != 1 || st.IdleTimeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
	if f.outLen() != 0 {
		t.Errorf("a response was sent: %q", f.out)
	}
	// The peer never closes: the linger timer resets the connection.
	host.advance(5*time.Second + time.Millisecond)
	if !f.aborted || s.Stats().LingerAborts != 1 || s.Stats().ConnsActive != 0 {
		t.Fatalf("not aborted after the linger timeout: %+v", s.Stats())
	}
}

func TestIdleTimeout(t *testing.T) {
	s, host := newTestServer(t, Plaintext, func(c *Config) { c.IdleTimeout = int64(3 * time.Second) })
	f := newFakeConn(t, s, host)
	host.advance(2 * time.Second)
	f.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	// The idle clock restarts at the response.
	host.advance(2 * time.Second)
	if !f.isOpen() {
		t.Fatal("closed 2 s after a request with a 3 s idle timeout")
	}
	f.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	host.advance(2999 * time.Millisecond)
	if !f.isOpen() {
		t.Fatal("closed before the idle timeout")
	}
	host.advance(2 * time.Millisecond)
	if f.isOpen() || s.Stats().IdleTimeouts != 1 || s.Stats().HeaderTimeouts != 0 {
		t.Fatalf("open=%v stats %+v", f.isOpen(), s.Stats())
	}
	if rs := parseResponses(t, f.take()); len(rs) != 2 {
		t.Fatalf("%d responses", len(rs))
	}
	// A clean close by the peer releases the state, and the timer with it.
	f.peerFIN()
	f.finish()
	if s.Stats().ConnsActive != 0 || host.wheel.Len() != 0 {
		t.Fatalf("active %d, armed timers %d", s.Stats().ConnsActive, host.wheel.Len())
	}
}

func TestBodyTimeout(t *testing.T) {
	s, host := newTestServer(t, echoHandler, nil)
	f := newFakeConn(t, s, host)
	f.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
	host.advance(59 * time.Second)
	f.send("d") // progress re-arms it
	host.advance(59 * time.Second)
	if !f.isOpen() {
		t.Fatal("closed while the body makes progress")
	}
	host.advance(2 * time.Second)
	if f.isOpen() || s.Stats().BodyTimeouts != 1 {
		t.Fatalf("open=%v stats %+v", f.isOpen(), s.Stats())
	}
}

func TestPeerClose(t *testing.T) {
	t.Run("after a request", func(t *testing.T) {
		s, host := newTestServer(t, Plaintext, nil)
		f := newFakeConn(t, s, host)
		f.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		f.peerFIN()
		if !f.closed {
			t.Fatal("not closed after the peer's FIN")
		}
		if rs := parseResponses(t, f.take()); len(rs) != 1 {
			t.Fatalf("%d responses", len(rs))
		}
		f.finish()
		if s.Stats().IncompleteAtEOF != 0 || s.Stats().ConnsActive != 0 {
			t.Fatalf("stats %+v", s.Stats())
		}
	})
	t.Run("mid-request", func(t *testing.T) {
		s, host := newTestServer(t, Plaintext, nil)
		f := newFakeConn(t, s, host)
		f.send("GET / HTTP/1.1\r\nHo")
		f.peerFIN()
		if !f.closed || f.outLen() != 0 || s.Stats().IncompleteAtEOF != 1 {
			t.Fatalf("closed=%v out=%q stats %+v", f.closed, f.out, s.Stats())
		}
	})
	t.Run("requests waiting behind output", func(t *testing.T) {
		s, host := newTestServer(t, echoHandler, func(c *Config) { c.MaxPipelined = 2 })
		f := newFakeConn(t, s, host)
		f.setCap(10)
		var b strings.Builder
		for i := 0; i < 6; i++ {
			fmt.Fprintf(&b, "GET /%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
		}
		f.send(b.String())
		f.peerFIN()
		if f.closed {
			t.Fatal("closed with requests still unanswered")
		}
		for i := 0; i < 10000 && !f.closed; i++ {
			f.ackAll()
		}
		rs := parseResponses(t, f.take())
		if len(rs) != 6 || !f.closed {
			t.Fatalf("%d responses, closed=%v", len(rs), f.closed)
		}
		for i, r := range rs {
			if r.body != fmt.Sprintf("GET /%d  ", i) {
				t.Fatalf("response %d: %q", i, r.body)
			}
		}
	})
}

// TestStreamedBodiesInOrder: large shared and file bodies go out as send
// space allows, and the pipelined responses after them wait.
func TestStreamedBodiesInOrder(t *testing.T) {
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	s, host := newTestServer(t, func(c *Ctx) {
		switch string(c.Path()) {
		case "/shared":
			c.SetBodyShared(big)
		case "/file":
			c.SetBodyFile(file, 1000, 200<<10)
		default:
			c.Write(c.Path())
		}
	}, nil)
	for _, capacity := range []int{0, 1, 1000, 64 << 10} {
		f := newFakeConn(t, s, host)
		f.setCap(capacity)
		f.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /shared HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n" +
			"GET /file HTTP/1.1\r\nHost: a\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n")
		for i := 0; i < 1e6 && f.inflight > 0; i++ {
			f.ackAll()
		}
		rs := parseResponses(t, f.take())
		if len(rs) != 5 {
			t.Fatalf("cap %d: %d responses", capacity, len(rs))
		}
		want := []string{"/a", string(big), "/b", string(big[1000 : 1000+200<<10]), "/c"}
		for i := range want {
			if rs[i].body != want[i] {
				t.Fatalf("cap %d: response %d: %d bytes, want %d", capacity, i, len(rs[i].body), len(want[i]))
			}
		}
		if f.pendingRecv() != 0 || !f.isOpen() {
			t.Fatalf("cap %d: %d unconsumed, open=%v", capacity, f.pendingRecv(), f.isOpen())
		}
	}
	if s.Stats().FileErrors != 0 {
		t.Fatalf("stats %+v", s.Stats())
	}
}

func TestFileBodyReadErrorAborts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	s, host := newTestServer(t, func(c *Ctx) { c.SetBodyFile(file, 0, 100) }, nil)
	f := newFakeConn(t, s, host)
	f.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if !f.aborted || s.Stats().FileErrors != 1 || s.Stats().ConnsActive != 0 {
		t.Fatalf("aborted=%v stats %+v", f.aborted, s.Stats())
	}
}

// TestBackPressure: a pipelining flood against a slow reader leaves input
// unconsumed (so TCP's window closes) instead of queueing output without
// bound, and every response still arrives, in order.
func TestBackPressure(t *testing.T) {
	s, host := newTestServer(t, echoHandler, func(c *Config) { c.MaxQueuedOutput = 4 << 10 })
	f := newFakeConn(t, s, host)
	f.setCap(2 << 10)
	var b strings.Builder
	const n = 1000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "GET /%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
	}
	f.send(b.String())
	if f.pendingRecv() == 0 {
		t.Fatal("a flood against a full send buffer was consumed whole")
	}
	if cn := f.ctx.(*conn); cn.outLen() > 4<<10+512 {
		t.Fatalf("%d bytes queued, bound 4 KiB", cn.outLen())
	}
	if s.Stats().Paused == 0 {
		t.Fatal("Paused not counted")
	}
	for i := 0; i < 100000 && (f.inflight > 0 || f.pendingRecv() > 0); i++ {
		f.ack(f.inflight / 2)
	}
	rs := parseResponses(t, f.take())
	if len(rs) != n {
		t.Fatalf("%d responses, want %d", len(rs), n)
	}
	for i, r := range rs {
		if r.body != fmt.Sprintf("GET /%d  ", i) {
			t.Fatalf("response %d: %q", i, r.body)
		}
	}
}

func TestWriteTimeout(t *testing.T) {
	big := make([]byte, 100<<10)
	s, host := newTestServer(t, func(c *Ctx) { c.SetBodyShared(big) }, nil)
	f := newFakeConn(t, s, host)
	f.setCap(1000)
	f.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	host.advance(59 * time.Second)
	f.ackAll() // progress re-arms it
	host.advance(59 * time.Second)
	if !f.isOpen() {
		t.Fatal("closed while the output makes progress")
	}
	host.advance(2 * time.Second)
	if !f.aborted || s.Stats().WriteTimeouts != 1 {
		t.Fatalf("aborted=%v stats %+v", f.aborted, s.Stats())
	}
}

func TestConnStateReused(t *testing.T) {
	s, host := newTestServer(t, Plaintext, nil)
	f := newFakeConn(t, s, host)
	first := f.ctx.(*conn)
	f.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	f.peerFIN()
	f.finish()
	g := newFakeConn(t, s, host)
	if g.ctx.(*conn) != first {
		t.Fatal("connection state not reused from the free list")
	}
	g.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if rs := parseResponses(t, g.take()); len(rs) != 1 || rs[0].body != "Hello, World!" || rs[0].close {
		t.Fatalf("%+v", rs)
	}
}
