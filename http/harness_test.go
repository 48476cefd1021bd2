package http

import (
	"bufio"
	"bytes"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/stream"
)

// fakeHost is a stream.Host on a manual clock.
type fakeHost struct {
	wheel *timer.Wheel
	now   int64
}

func newFakeHost() *fakeHost {
	return &fakeHost{wheel: timer.NewWheel(int64(time.Millisecond), 1024, 0)}
}

func (h *fakeHost) Listen(uint16, stream.Handler) error { return nil }
func (h *fakeHost) Wheel() *timer.Wheel                 { return h.wheel }
func (h *fakeHost) Now() int64                          { return h.now }

// advance moves the clock by d and fires due timers.
func (h *fakeHost) advance(d time.Duration) {
	h.now += int64(d)
	h.wheel.Advance(h.now)
}

// fakeConn is an in-memory stream.Conn that keeps the stream contract the
// way the TCP stack does: unconsumed bytes are offered again first; a
// short Write earns one OnWritable once acked bytes make room; Resume
// inside a callback does nothing. The slice given to OnData is a copy that
// is scribbled over after OnData returns, so a handler or parser that
// keeps a borrowed slice shows up as corrupt output.
type fakeConn struct {
	t    testing.TB
	h    stream.Handler
	host *fakeHost

	rcv  []byte // received, unconsumed
	view []byte // the OnData argument

	out      []byte // everything written, in order
	writes   int    // Write calls that took bytes
	sendCap  int    // send buffer size (0: unlimited)
	inflight int    // written and not yet acked

	wantWritable bool
	inCB         bool
	closed       bool // Close called (FIN)
	aborted      bool
	gone         bool // OnClose delivered
	peerClosed   bool
	ctx          any
}

func newFakeConn(t testing.TB, h stream.Handler, host *fakeHost) *fakeConn {
	f := &fakeConn{t: t, h: h, host: host}
	h.OnOpen(f, host.now)
	return f
}

func (f *fakeConn) Write(b []byte, now int64) int {
	if f.closed || f.gone || len(b) == 0 {
		return 0
	}
	n := len(b)
	if sp := f.WriteSpace(); n > sp {
		n = sp
	}
	f.out = append(f.out, b[:n]...)
	f.inflight += n
	if n > 0 {
		f.writes++
	}
	if n < len(b) {
		f.wantWritable = true
	}
	return n
}

func (f *fakeConn) WriteSpace() int {
	if f.closed || f.gone {
		return 0
	}
	if f.sendCap == 0 {
		return 1 << 30
	}
	return f.sendCap - f.inflight
}

func (f *fakeConn) Buffered() int { return f.inflight }
func (f *fakeConn) Unread() int   { return len(f.rcv) }
func (f *fakeConn) Resume(now int64) {
	if f.inCB || f.gone {
		return
	}
	f.offer()
}
func (f *fakeConn) Close(now int64) { f.closed = true }
func (f *fakeConn) Abort(now int64) {
	if f.gone {
		return
	}
	f.aborted, f.closed, f.gone = true, true, true
	f.h.OnClose(f, stream.CloseAborted, now)
}
func (f *fakeConn) SetContext(v any)              { f.ctx = v }
func (f *fakeConn) Context() any                  { return f.ctx }
func (f *fakeConn) RemoteAddr() ([4]byte, uint16) { return [4]byte{198, 18, 0, 1}, 40000 }
func (f *fakeConn) SetNoDelay(bool)               {}

func (f *fakeConn) take() []byte                { b := append([]byte(nil), f.out...); f.out = f.out[:0]; return b }
func (f *fakeConn) takeString() string          { return string(f.take()) }
func (f *fakeConn) reset()                      { f.out = f.out[:0] }
func (f *fakeConn) isOpen() bool                { return !f.closed && !f.gone }
func (f *fakeConn) setCap(n int)                { f.sendCap = n }
func (f *fakeConn) pendingRecv() int            { return len(f.rcv) }
func (f *fakeConn) outLen() int                 { return len(f.out) }
func (f *fakeConn) send(s string)               { f.sendBytes([]byte(s)) }
func (f *fakeConn) sendEach(s string, step int) { sendSplit(f, []byte(s), step) }
func (f *fakeConn) sendBytes(b []byte)          { f.rcv = append(f.rcv, b...); f.offer() }
func (f *fakeConn) ackAll()                     { f.ack(f.inflight) }
func (f *fakeConn) peerFIN() {
	f.peerClosed = true
	f.h.OnPeerClosed(f, f.host.now)
}

// offer gives the unconsumed bytes to OnData, as the stack does.
func (f *fakeConn) offer() {
	if len(f.rcv) == 0 || f.gone {
		return
	}
	f.view = append(f.view[:0], f.rcv...)
	f.inCB = true
	n := f.h.OnData(f, f.view, f.host.now)
	f.inCB = false
	if n < 0 || n > len(f.view) {
		f.t.Fatalf("OnData consumed %d of %d bytes", n, len(f.view))
	}
	for i := range f.view {
		f.view[i] = 0xAA
	}
	if f.gone {
		return
	}
	f.rcv = f.rcv[:copy(f.rcv, f.rcv[n:])]
}

// ack frees n sent bytes and, if a short Write is waiting, calls
// OnWritable.
func (f *fakeConn) ack(n int) {
	f.inflight -= n
	if f.wantWritable && !f.gone && !f.closed && f.WriteSpace() > 0 {
		f.wantWritable = false
		f.h.OnWritable(f, f.host.now)
	}
}

// finish delivers OnClose once both sides have closed.
func (f *fakeConn) finish() {
	if f.closed && f.peerClosed && !f.gone {
		f.gone = true
		f.h.OnClose(f, stream.CloseNormal, f.host.now)
	}
}

// sendSplit feeds b in pieces of step bytes.
func sendSplit(f *fakeConn, b []byte, step int) {
	for len(b) > 0 && !f.gone {
		k := min(step, len(b))
		f.sendBytes(b[:k])
		b = b[k:]
	}
}

var fixedClock = func() time.Time { return time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC) }

const fixedDate = "Fri, 14 Mar 2025 15:09:26 GMT"

// newTestServer makes a Server on a fresh fake host with a fixed clock.
func newTestServer(t testing.TB, h HandlerFunc, mod func(*Config)) (*Server, *fakeHost) {
	t.Helper()
	host := newFakeHost()
	cfg := Config{Handler: h, Clock: fixedClock}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewServer(cfg, host)
	if err != nil {
		t.Fatal(err)
	}
	return s, host
}

// response is one parsed response.
type response struct {
	status int
	header nethttp.Header
	body   string
	close  bool
}

// parseResponses splits out into responses, reading a body for every
// response except those to HEAD requests (heads[i] true).
func parseResponses(t testing.TB, out []byte, heads ...bool) []response {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(out))
	var rs []response
	for i := 0; ; i++ {
		if _, err := br.Peek(1); err == io.EOF {
			return rs
		}
		req := &nethttp.Request{Method: "GET"}
		if i < len(heads) && heads[i] {
			req.Method = "HEAD"
		}
		resp, err := nethttp.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("response %d: %v\noutput (%d bytes):\n%q", i, err, len(out), trunc(out))
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v\noutput (%d bytes):\n%q", i, err, len(out), trunc(out))
		}
		rs = append(rs, response{resp.StatusCode, resp.Header, string(b), resp.Close})
	}
}

// echoHandler answers with a summary of what it saw.
func echoHandler(c *Ctx) {
	c.SetContentType("text/plain")
	c.Write(c.Method())
	c.WriteString(" ")
	c.Write(c.Path())
	c.WriteString(" ")
	c.Write(c.Query())
	c.WriteString(" ")
	c.Write(c.Body())
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func trunc(b []byte) []byte {
	if len(b) > 600 {
		return b[:600]
	}
	return b
}
