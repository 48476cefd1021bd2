package static

import (
	"bufio"
	"bytes"
	"io"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/stream"
)

// A minimal in-memory stream.Host and stream.Conn that drive an
// http.Server the way a shard does: OnData with the unconsumed bytes, a
// send buffer of sendCap bytes (0: unlimited) freed by ack, OnWritable
// after a short Write.

type testHost struct {
	wheel *timer.Wheel
	now   int64
}

func (h *testHost) Listen(uint16, stream.Handler) error { return nil }
func (h *testHost) Wheel() *timer.Wheel                 { return h.wheel }
func (h *testHost) Now() int64                          { return h.now }

type testConn struct {
	h       stream.Handler
	host    *testHost
	rcv     []byte
	out     []byte
	sendCap int
	flight  int
	want    bool
	inCB    bool
	closed  bool
	aborted bool
	ctx     any
}

func (c *testConn) Write(b []byte, now int64) int {
	if c.closed {
		return 0
	}
	n := min(len(b), c.WriteSpace())
	c.out = append(c.out, b[:n]...)
	c.flight += n
	if n < len(b) {
		c.want = true
	}
	return n
}

func (c *testConn) WriteSpace() int {
	if c.closed {
		return 0
	}
	if c.sendCap == 0 {
		return 1 << 30
	}
	return c.sendCap - c.flight
}

func (c *testConn) Buffered() int { return c.flight }
func (c *testConn) Unread() int   { return len(c.rcv) }
func (c *testConn) Resume(now int64) {
	if !c.inCB {
		c.offer()
	}
}
func (c *testConn) Close(int64) { c.closed = true }
func (c *testConn) Abort(now int64) {
	if !c.aborted {
		c.aborted, c.closed = true, true
		c.h.OnClose(c, stream.CloseAborted, now)
	}
}
func (c *testConn) SetContext(v any)              { c.ctx = v }
func (c *testConn) Context() any                  { return c.ctx }
func (c *testConn) RemoteAddr() ([4]byte, uint16) { return [4]byte{198, 18, 0, 1}, 40000 }
func (c *testConn) SetNoDelay(bool)               {}

func (c *testConn) offer() {
	if len(c.rcv) == 0 || c.aborted {
		return
	}
	c.inCB = true
	n := c.h.OnData(c, c.rcv, c.host.now)
	c.inCB = false
	c.rcv = c.rcv[:copy(c.rcv, c.rcv[n:])]
}

// send delivers b and then acks output until the server has nothing more
// to write (so a streamed body arrives whole).
func (c *testConn) send(b []byte) {
	c.rcv = append(c.rcv, b...)
	c.offer()
	for c.want && !c.closed {
		c.flight, c.want = 0, false
		c.h.OnWritable(c, c.host.now)
	}
	c.flight = 0
}

// serverClock is the wall clock the test servers see: after lm, so the
// test files' Last-Modified is a strong validator.
var serverClock = func() time.Time { return time.Unix(nowU, 0) }

type client struct {
	t    *testing.T
	srv  *http.Server
	conn *testConn
}

func newClient(t *testing.T, h *Handler) *client {
	t.Helper()
	host := &testHost{wheel: timer.NewWheel(int64(time.Millisecond), 1024, 0)}
	srv, err := http.NewServer(http.Config{Handler: h.Serve, Clock: serverClock}, host)
	if err != nil {
		t.Fatal(err)
	}
	c := &testConn{h: srv, host: host, rcv: make([]byte, 0, 64<<10), out: make([]byte, 0, 1<<20)}
	srv.OnOpen(c, 0)
	return &client{t: t, srv: srv, conn: c}
}

// reply is one response as a client sees it.
type reply struct {
	status int
	header nethttp.Header
	body   string
	raw    string // status line and header section, as sent
}

// do sends one raw request and parses the one response.
func (cl *client) do(method, target string, headers ...string) reply {
	cl.t.Helper()
	req := method + " " + target + " HTTP/1.1\r\nHost: test\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	cl.conn.out = cl.conn.out[:0]
	cl.conn.send([]byte(req + "\r\n"))
	out := cl.conn.out
	br := bufio.NewReader(bytes.NewReader(out))
	resp, err := nethttp.ReadResponse(br, &nethttp.Request{Method: method})
	if err != nil {
		cl.t.Fatalf("%s %s: %v\n%q", method, target, err, out)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		cl.t.Fatalf("%s %s: body: %v", method, target, err)
	}
	if rest, _ := io.ReadAll(br); len(rest) > 0 {
		cl.t.Fatalf("%s %s: %d bytes after the response: %q", method, target, len(rest), rest)
	}
	raw := string(out)
	if i := strings.Index(raw, "\r\n\r\n"); i >= 0 {
		raw = raw[:i+4]
	}
	return reply{resp.StatusCode, resp.Header, string(body), raw}
}

// e2eSite is a small tree with a cached file, an index, a big (streamed)
// file and an empty one.
func e2eSite(t *testing.T) (*Handler, string) {
	root := t.TempDir()
	writeFile(t, root, "index.html", "<h1>home</h1>")
	writeFile(t, root, "hello.txt", "Hello, shardnet!\n")
	writeFile(t, root, "docs/index.html", "<h1>docs</h1>")
	writeFile(t, root, "big.bin", bigBody(100_000))
	writeFile(t, root, "empty.txt", "")
	h := newTestHandler(t, Config{Root: root, MaxCachedFile: 50_000})
	return h, root
}

// hdr is a header expectation: name → value ("" means must be absent).
type hdr map[string]string

func TestServeEndToEnd(t *testing.T) {
	h, _ := e2eSite(t)
	s := h.snap.Load()
	helloTag := string(s.paths["/hello.txt"].etag)
	bigTag := string(s.paths["/big.bin"].etag)
	big := bigBody(100_000)
	const hello = "Hello, shardnet!\n"
	txt := "text/plain; charset=utf-8"
	full := hdr{"Content-Type": txt, "ETag": helloTag, "Last-Modified": lmText, "Accept-Ranges": "bytes",
		"Content-Length": "17", "Content-Range": ""}

	tests := []struct {
		name     string
		method   string
		target   string
		headers  []string
		status   int
		want     hdr
		body     string
		bodyFull bool // body must be exactly `body` (else: the error text)
	}{
		// Plain requests.
		{"GET file", "GET", "/hello.txt", nil, 200, full, hello, true},
		{"HEAD file", "HEAD", "/hello.txt", nil, 200, full, "", true},
		{"GET /", "GET", "/", nil, 200, hdr{"Content-Type": "text/html; charset=utf-8", "Content-Length": "13"}, "<h1>home</h1>", true},
		{"GET dir/", "GET", "/docs/", nil, 200, hdr{"Content-Type": "text/html; charset=utf-8"}, "<h1>docs</h1>", true},
		{"dir redirect", "GET", "/docs", nil, 301, hdr{"Location": "/docs/"}, "Moved Permanently\n", true},
		{"dir redirect HEAD", "HEAD", "/docs", nil, 301, hdr{"Location": "/docs/"}, "", true},
		{"query ignored", "GET", "/hello.txt?v=2", nil, 200, full, hello, true},
		{"encoded name", "GET", "/hell%6F.txt", nil, 200, full, hello, true},
		{"empty file", "GET", "/empty.txt", nil, 200, hdr{"Content-Length": "0", "Accept-Ranges": "bytes"}, "", true},
		{"empty file range", "GET", "/empty.txt", []string{"Range: bytes=0-0"}, 200, hdr{"Content-Length": "0"}, "", true},
		{"missing", "GET", "/nope.txt", nil, 404, hdr{"Content-Type": txt, "ETag": ""}, "Not Found\n", true},
		{"no listing", "GET", "/docs/index.html/", nil, 404, nil, "Not Found\n", true},

		// Methods.
		{"POST", "POST", "/hello.txt", []string{"Content-Length: 0"}, 405, hdr{"Allow": "GET, HEAD", "ETag": ""}, "Method Not Allowed\n", true},
		{"PUT missing", "PUT", "/x", []string{"Content-Length: 0"}, 405, hdr{"Allow": "GET, HEAD"}, "", false},
		{"DELETE", "DELETE", "/", nil, 405, hdr{"Allow": "GET, HEAD"}, "", false},
		{"OPTIONS", "OPTIONS", "/", nil, 405, hdr{"Allow": "GET, HEAD"}, "", false},

		// Traversal (targets as sent; http decodes once).
		{"dotdot", "GET", "/../../etc/passwd", nil, 404, nil, "Not Found\n", true},
		{"dotdot inside", "GET", "/docs/../hello.txt", nil, 404, nil, "", false},
		{"encoded dotdot", "GET", "/%2e%2e/%2e%2e/etc/passwd", nil, 404, nil, "", false},
		{"encoded slash", "GET", "/..%2f..%2fetc%2fpasswd", nil, 404, nil, "", false},
		{"double encoded", "GET", "/%252e%252e/%252e%252e/etc/passwd", nil, 404, nil, "", false},
		{"backslash", "GET", "/..%5c..%5cetc%5cpasswd", nil, 404, nil, "", false},
		{"dot segment", "GET", "/./hello.txt", nil, 404, nil, "", false},
		{"double slash", "GET", "//hello.txt", nil, 404, nil, "", false},

		// Conditionals.
		{"INM hit", "GET", "/hello.txt", []string{"If-None-Match: " + helloTag}, 304,
			hdr{"ETag": helloTag, "Last-Modified": lmText, "Content-Length": "", "Content-Type": "", "Accept-Ranges": ""}, "", true},
		{"INM weak hit HEAD", "HEAD", "/hello.txt", []string{"If-None-Match: W/" + helloTag}, 304, hdr{"ETag": helloTag}, "", true},
		{"INM star", "GET", "/hello.txt", []string{"If-None-Match: *"}, 304, nil, "", true},
		{"INM miss", "GET", "/hello.txt", []string{`If-None-Match: "other"`}, 200, full, hello, true},
		{"IMS equal", "GET", "/hello.txt", []string{"If-Modified-Since: " + lmText}, 304, hdr{"Last-Modified": lmText}, "", true},
		{"IMS earlier", "GET", "/hello.txt", []string{"If-Modified-Since: " + before}, 200, full, hello, true},
		{"IMS ignored under INM miss", "GET", "/hello.txt", []string{`If-None-Match: "x"`, "If-Modified-Since: " + lmText}, 200, full, hello, true},
		{"If-Match hit", "GET", "/hello.txt", []string{"If-Match: " + helloTag}, 200, full, hello, true},
		{"If-Match miss", "GET", "/hello.txt", []string{`If-Match: "x"`}, 412, hdr{"ETag": ""}, "Precondition Failed\n", true},
		{"If-Match miss beats INM", "GET", "/hello.txt", []string{`If-Match: "x"`, "If-None-Match: " + helloTag}, 412, nil, "", false},
		{"IUS earlier", "GET", "/hello.txt", []string{"If-Unmodified-Since: " + before}, 412, nil, "", false},
		{"IUS ignored under If-Match", "GET", "/hello.txt", []string{"If-Match: *", "If-Unmodified-Since: " + before}, 200, full, hello, true},
		{"IUS ok, INM hit", "GET", "/hello.txt", []string{"If-Unmodified-Since: " + lmText, "If-None-Match: " + helloTag}, 304, nil, "", true},

		// Ranges.
		{"range", "GET", "/hello.txt", []string{"Range: bytes=0-4"}, 206,
			hdr{"Content-Range": "bytes 0-4/17", "Content-Length": "5", "ETag": helloTag, "Content-Type": txt}, "Hello", true},
		{"range open", "GET", "/hello.txt", []string{"Range: bytes=7-"}, 206, hdr{"Content-Range": "bytes 7-16/17"}, "shardnet!\n", true},
		{"range suffix", "GET", "/hello.txt", []string{"Range: bytes=-2"}, 206, hdr{"Content-Range": "bytes 15-16/17"}, "!\n", true},
		{"range clamp", "GET", "/hello.txt", []string{"Range: bytes=10-999"}, 206, hdr{"Content-Range": "bytes 10-16/17"}, "rdnet!\n", true},
		{"range whole", "GET", "/hello.txt", []string{"Range: bytes=-100"}, 206, hdr{"Content-Range": "bytes 0-16/17"}, hello, true},
		{"range past end", "GET", "/hello.txt", []string{"Range: bytes=17-"}, 416,
			hdr{"Content-Range": "bytes */17", "Content-Type": txt}, "Range Not Satisfiable\n", true},
		{"range -0", "GET", "/hello.txt", []string{"Range: bytes=-0"}, 416, hdr{"Content-Range": "bytes */17"}, "", false},
		{"range malformed", "GET", "/hello.txt", []string{"Range: bytes=5-1"}, 200, full, hello, true},
		{"range empty", "GET", "/hello.txt", []string{"Range: bytes="}, 200, full, hello, true},
		{"range unit", "GET", "/hello.txt", []string{"Range: lines=0-1"}, 200, full, hello, true},
		{"range multi", "GET", "/hello.txt", []string{"Range: bytes=0-1,4-5"}, 200, full, hello, true},
		{"range HEAD", "HEAD", "/hello.txt", []string{"Range: bytes=0-4"}, 200, full, "", true},
		{"If-Range tag ok", "GET", "/hello.txt", []string{"Range: bytes=0-4", "If-Range: " + helloTag}, 206, hdr{"Content-Range": "bytes 0-4/17"}, "Hello", true},
		{"If-Range tag stale", "GET", "/hello.txt", []string{"Range: bytes=0-4", `If-Range: "old"`}, 200, full, hello, true},
		{"If-Range weak", "GET", "/hello.txt", []string{"Range: bytes=0-4", "If-Range: W/" + helloTag}, 200, full, hello, true},
		{"If-Range date ok", "GET", "/hello.txt", []string{"Range: bytes=0-4", "If-Range: " + lmText}, 206, nil, "Hello", true},
		{"If-Range date stale", "GET", "/hello.txt", []string{"Range: bytes=0-4", "If-Range: " + before}, 200, full, hello, true},
		{"If-Range stale, 416 range", "GET", "/hello.txt", []string{"Range: bytes=99-", `If-Range: "old"`}, 200, full, hello, true},
		{"304 before range", "GET", "/hello.txt", []string{"Range: bytes=0-4", "If-None-Match: " + helloTag}, 304, nil, "", true},

		// A streamed file.
		{"big GET", "GET", "/big.bin", nil, 200, hdr{"Content-Length": "100000", "ETag": bigTag,
			"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}, big, true},
		{"big HEAD", "HEAD", "/big.bin", nil, 200, hdr{"Content-Length": "100000", "ETag": bigTag}, "", true},
		{"big range", "GET", "/big.bin", []string{"Range: bytes=70000-80009"}, 206,
			hdr{"Content-Range": "bytes 70000-80009/100000", "Content-Length": "10010"}, big[70000:80010], true},
		{"big suffix", "GET", "/big.bin", []string{"Range: bytes=-3"}, 206, hdr{"Content-Range": "bytes 99997-99999/100000"}, big[99997:], true},
		{"big 304", "GET", "/big.bin", []string{"If-None-Match: " + bigTag}, 304, hdr{"ETag": bigTag}, "", true},
	}
	for _, caps := range []int{0, 1460} {
		cl := newClient(t, h)
		cl.conn.sendCap = caps // 1460: streamed bodies need many OnWritable rounds
		for _, tt := range tests {
			r := cl.do(tt.method, tt.target, tt.headers...)
			name := tt.name + " (cap " + strconv.Itoa(caps) + ")"
			if r.status != tt.status {
				t.Errorf("%s: status %d, want %d\n%s", name, r.status, tt.status, r.raw)
				continue
			}
			for k, v := range tt.want {
				got := r.header.Values(k)
				present := len(got) > 0
				switch {
				case v == "" && present:
					t.Errorf("%s: %s: %q present, want absent", name, k, got)
				case v != "" && (len(got) != 1 || got[0] != v):
					t.Errorf("%s: %s: %q, want %q", name, k, got, v)
				}
			}
			if tt.bodyFull && r.body != tt.body {
				t.Errorf("%s: body %d bytes %.40q, want %d bytes %.40q", name, len(r.body), r.body, len(tt.body), tt.body)
			}
			if strings.Contains(r.body, "root:") {
				t.Errorf("%s: leaked a file outside the root", name)
			}
			if tt.method == "HEAD" && r.body != "" {
				t.Errorf("%s: HEAD with a body", name)
			}
		}
		if cl.conn.closed {
			t.Errorf("cap %d: connection closed during the keep-alive run", caps)
		}
	}
}

// TestServeHEADContentLength checks, on the raw bytes, that HEAD gets the
// GET's Content-Length and nothing after the header section.
func TestServeHEADContentLength(t *testing.T) {
	h, _ := e2eSite(t)
	cl := newClient(t, h)
	for _, target := range []string{"/hello.txt", "/big.bin"} {
		get := cl.do("GET", target)
		cl.conn.out = cl.conn.out[:0]
		cl.conn.send([]byte("HEAD " + target + " HTTP/1.1\r\nHost: t\r\n\r\n"))
		raw := string(cl.conn.out)
		if !strings.HasSuffix(raw, "\r\n\r\n") || strings.Count(raw, "\r\n\r\n") != 1 {
			t.Errorf("HEAD %s: bytes after the header section: %q", target, raw)
		}
		if want := "Content-Length: " + strconv.Itoa(len(get.body)) + "\r\n"; !strings.Contains(raw, want) {
			t.Errorf("HEAD %s: no %q in %q", target, want, raw)
		}
	}
}

func TestServeSymlinkOutOfRoot(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	writeFile(t, root, "ok.txt", "ok")
	writeFile(t, outside, "passwd", "root:x:0:0")
	symlink(t, filepath.Join(outside, "passwd"), root, "passwd")
	symlink(t, outside, root, "out")
	h := newTestHandler(t, Config{Root: root})
	cl := newClient(t, h)
	for _, p := range []string{"/passwd", "/out/passwd", "/out/", "/out"} {
		if r := cl.do("GET", p); r.status != 404 || strings.Contains(r.body, "root:") {
			t.Errorf("GET %s: %d %q", p, r.status, r.body)
		}
	}
	if r := cl.do("GET", "/ok.txt"); r.status != 200 || r.body != "ok" {
		t.Errorf("GET /ok.txt: %d %q", r.status, r.body)
	}
}

func TestServeAfterRescan(t *testing.T) {
	h, root := e2eSite(t)
	cl := newClient(t, h)
	r1 := cl.do("GET", "/hello.txt")
	oldTag := r1.header.Get("ETag")

	writeFile(t, root, "hello.txt", "changed\n")
	later := testMtime.Add(time.Minute)
	os.Chtimes(filepath.Join(root, "hello.txt"), later, later)
	writeFile(t, root, "new.txt", "new")
	os.Remove(filepath.Join(root, "index.html"))
	if changed, err := h.Rescan(); !changed || err != nil {
		t.Fatalf("Rescan = %v, %v", changed, err)
	}

	r2 := cl.do("GET", "/hello.txt", "If-None-Match: "+oldTag)
	if r2.status != 200 || r2.body != "changed\n" || r2.header.Get("ETag") == oldTag ||
		r2.header.Get("Last-Modified") != formatHTTPDate(later.Unix()) {
		t.Errorf("after change: %d %q ETag %s Last-Modified %s", r2.status, r2.body, r2.header.Get("ETag"), r2.header.Get("Last-Modified"))
	}
	if r := cl.do("GET", "/hello.txt", "If-Match: "+oldTag); r.status != 412 {
		t.Errorf("If-Match with the old tag: %d", r.status)
	}
	if r := cl.do("GET", "/new.txt"); r.status != 200 || r.body != "new" {
		t.Errorf("new file: %d %q", r.status, r.body)
	}
	if r := cl.do("GET", "/"); r.status != 404 {
		t.Errorf("removed index: %d", r.status)
	}
}

// TestServeBigFileInFlightAcrossRescan: a streamed response started before
// its file is replaced finishes with the old bytes.
func TestServeBigFileInFlightAcrossRescan(t *testing.T) {
	h, root := e2eSite(t)
	cl := newClient(t, h)
	cl.conn.sendCap = 4096
	cl.conn.out = cl.conn.out[:0]
	cl.conn.rcv = append(cl.conn.rcv, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"...)
	cl.conn.offer() // the first 4 KiB go out; the rest waits for OnWritable

	tmp := filepath.Join(root, "big.new")
	os.WriteFile(tmp, []byte(strings.Repeat("Z", 100_000)), 0o644)
	os.Rename(tmp, filepath.Join(root, "big.bin"))
	if changed, _ := h.Rescan(); !changed {
		t.Fatal("replacement not seen")
	}
	for cl.conn.want && !cl.conn.closed {
		cl.conn.flight, cl.conn.want = 0, false
		cl.conn.h.OnWritable(cl.conn, 0)
	}
	resp, err := nethttp.ReadResponse(bufio.NewReader(bytes.NewReader(cl.conn.out)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != bigBody(100_000) {
		t.Errorf("in-flight body changed under the response (%d bytes)", len(body))
	}
	cl.conn.flight = 0
	if r := cl.do("GET", "/big.bin"); r.body != strings.Repeat("Z", 100_000) {
		t.Error("new request does not see the new file")
	}
}

// TestServeZeroAllocs: keep-alive requests through the http Server
// allocate nothing in steady state — a cached GET, a HEAD, a 206, a 304, a
// 404, a 405, and a file streamed from disk.
func TestServeZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	h, _ := e2eSite(t)
	tag := string(h.snap.Load().paths["/hello.txt"].etag)
	reqs := map[string]string{
		"cached GET":  "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
		"index":       "GET / HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n",
		"HEAD":        "HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
		"range":       "GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=2-9\r\nIf-Range: " + tag + "\r\n\r\n",
		"304":         "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"a\", " + tag + "\r\nIf-Modified-Since: " + lmText + "\r\n\r\n",
		"304 by date": "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: " + lmText + "\r\n\r\n",
		"404":         "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
		"405":         "DELETE /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
		"redirect":    "GET /docs HTTP/1.1\r\nHost: t\r\n\r\n",
		"big file":    "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-\r\n\r\n",
	}
	for name, req := range reqs {
		cl := newClient(t, h)
		cl.conn.sendCap = 16 << 10
		b := []byte(req)
		run := func() {
			cl.conn.out = cl.conn.out[:0]
			cl.conn.send(b)
		}
		for i := 0; i < 10; i++ { // warm the pools
			run()
		}
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Errorf("%s: %v allocations per request", name, n)
		}
		if len(cl.conn.out) == 0 || cl.conn.closed {
			t.Errorf("%s: no response", name)
		}
	}
}

func BenchmarkServeCachedGET(b *testing.B) {
	root := b.TempDir()
	writeFile(b, root, "hello.txt", "Hello, shardnet!\n")
	writeFile(b, root, "page.html", strings.Repeat("x", 8<<10))
	h := newTestHandler(b, Config{Root: root})
	for _, bc := range []struct{ name, req string }{
		{"small", "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"},
		{"8KiB", "GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n"},
		{"304", "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: " + string(h.snap.Load().paths["/hello.txt"].etag) + "\r\n\r\n"},
		{"range", "GET /page.html HTTP/1.1\r\nHost: t\r\nRange: bytes=100-199\r\n\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			host := &testHost{wheel: timer.NewWheel(int64(time.Millisecond), 1024, 0)}
			srv, err := http.NewServer(http.Config{Handler: h.Serve, Clock: serverClock}, host)
			if err != nil {
				b.Fatal(err)
			}
			c := &testConn{h: srv, host: host, rcv: make([]byte, 0, 4096), out: make([]byte, 0, 64<<10)}
			srv.OnOpen(c, 0)
			req := []byte(bc.req)
			b.ReportAllocs()
			b.SetBytes(int64(len(req)))
			for b.Loop() {
				c.out = c.out[:0]
				c.send(req)
			}
		})
	}
}
