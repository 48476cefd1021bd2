package http

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// seen is what a handler observed, copied out of the Ctx.
type seen struct {
	method, path, rawPath, query, body string
	headers                            []string // "name: value"
	host                               string
	minor                              int
}

func recorder(got *[]seen) HandlerFunc {
	return func(c *Ctx) {
		s := seen{
			method:  string(c.Method()),
			path:    string(c.Path()),
			rawPath: string(c.RawPath()),
			query:   string(c.Query()),
			body:    string(c.Body()),
			host:    string(c.Header("HOST")),
			minor:   c.ProtoMinor(),
		}
		for i := 0; i < c.NumHeaders(); i++ {
			n, v := c.HeaderAt(i)
			s.headers = append(s.headers, string(n)+": "+string(v))
		}
		*got = append(*got, s)
		c.SetContentType("text/plain")
		c.WriteString("ok " + s.path)
	}
}

var goodRequests = []struct {
	name string
	raw  string
	want seen
}{
	{"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		seen{method: "GET", path: "/", rawPath: "/", host: "a", minor: 1, headers: []string{"Host: a"}}},
	{"query", "GET /search?q=a+b&x=%20 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
		seen{method: "GET", path: "/search", rawPath: "/search", query: "q=a+b&x=%20", host: "example.com:8080", minor: 1, headers: []string{"Host: example.com:8080"}}},
	{"empty query", "GET /x? HTTP/1.1\r\nHost: a\r\n\r\n",
		seen{method: "GET", path: "/x", rawPath: "/x", host: "a", minor: 1, headers: []string{"Host: a"}}},
	{"percent path", "GET /a%20b/%C3%A9%2f HTTP/1.1\r\nHost: a\r\n\r\n",
		seen{method: "GET", path: "/a b/\u00e9/", rawPath: "/a%20b/%C3%A9%2f", host: "a", minor: 1, headers: []string{"Host: a"}}},
	{"OWS trimmed, case kept", "GET / HTTP/1.1\r\nhOsT:   a \t\r\nX-Empty:\r\nX-Tab:\tv  w\t\r\n\r\n",
		seen{method: "GET", path: "/", rawPath: "/", host: "a", minor: 1, headers: []string{"hOsT: a", "X-Empty: ", "X-Tab: v  w"}}},
	{"obs-text value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9\r\n\r\n",
		seen{method: "GET", path: "/", rawPath: "/", host: "a", minor: 1, headers: []string{"Host: a", "X: caf\xe9"}}},
	{"content-length body", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		seen{method: "POST", path: "/p", rawPath: "/p", host: "a", body: "hello", minor: 1, headers: []string{"Host: a", "Content-Length: 5"}}},
	{"identical duplicate content-length", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		seen{method: "POST", path: "/p", rawPath: "/p", host: "a", body: "abc", minor: 1, headers: []string{"Host: a", "Content-Length: 3", "Content-Length: 3"}}},
	{"zero content-length", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		seen{method: "POST", path: "/p", rawPath: "/p", host: "a", minor: 1, headers: []string{"Host: a", "Content-Length: 0"}}},
	{"chunked", "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1 ; q=\"a\\\"b\"\r\n, world\r\n0\r\nTrailer-A: 1\r\n\r\n",
		seen{method: "POST", path: "/c", rawPath: "/c", host: "a", body: "hello, world", minor: 1, headers: []string{"Host: a", "Transfer-Encoding: chunked"}}},
	{"chunked case, hex upper", "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChunKed\r\n\r\nA\r\n0123456789\r\n000\r\n\r\n",
		seen{method: "POST", path: "/c", rawPath: "/c", host: "a", body: "0123456789", minor: 1, headers: []string{"Host: a", "Transfer-Encoding: ChunKed"}}},
	{"HTTP/1.0 without Host", "GET /old HTTP/1.0\r\n\r\n",
		seen{method: "GET", path: "/old", rawPath: "/old", minor: 0}},
	{"HTTP/1.9 served as 1.1", "GET / HTTP/1.9\r\nHost: a\r\n\r\n",
		seen{method: "GET", path: "/", rawPath: "/", host: "a", minor: 1, headers: []string{"Host: a"}}},
	{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		seen{method: "OPTIONS", path: "*", rawPath: "*", host: "a", minor: 1, headers: []string{"Host: a"}}},
	{"extension method", "PURGE-X /k HTTP/1.1\r\nHost: a\r\n\r\n",
		seen{method: "PURGE-X", path: "/k", rawPath: "/k", host: "a", minor: 1, headers: []string{"Host: a"}}},
	{"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		seen{method: "GET", path: "/", rawPath: "/", host: "a", minor: 1, headers: []string{"Host: a"}}},
	{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		seen{method: "GET", path: "/", rawPath: "/", host: "", minor: 1, headers: []string{"Host: "}}},
	{"sub-delims and colon in path", "GET /a:b@c!$&'()*+,;=-._~ HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		seen{method: "GET", path: "/a:b@c!$&'()*+,;=-._~", rawPath: "/a:b@c!$&'()*+,;=-._~", host: "[::1]:80", minor: 1, headers: []string{"Host: [::1]:80"}}},
}

func equalSeen(a, b seen) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// TestGoodRequests feeds each request whole, one byte at a time and split
// at every boundary, and checks the handler saw the same thing each time.
func TestGoodRequests(t *testing.T) {
	for _, tc := range goodRequests {
		t.Run(tc.name, func(t *testing.T) {
			var wholeOut []byte
			for split := 0; split <= len(tc.raw); split++ {
				var got []seen
				s, host := newTestServer(t, recorder(&got), nil)
				f := newFakeConn(t, s, host)
				if split == 0 {
					f.send(tc.raw)
				} else {
					f.send(tc.raw[:split])
					f.send(tc.raw[split:])
				}
				if len(got) != 1 {
					t.Fatalf("split %d: handler ran %d times, output %q", split, len(got), f.out)
				}
				if !equalSeen(got[0], tc.want) {
					t.Fatalf("split %d:\n got %+v\nwant %+v", split, got[0], tc.want)
				}
				if f.pendingRecv() != 0 {
					t.Fatalf("split %d: %d bytes left unconsumed", split, f.pendingRecv())
				}
				out := stripContinue(f.take())
				if split == 0 {
					wholeOut = out
					rs := parseResponses(t, out)
					if len(rs) != 1 || rs[0].status != 200 || rs[0].body != "ok "+tc.want.path {
						t.Fatalf("response %+v", rs)
					}
				} else if !bytes.Equal(out, wholeOut) {
					t.Fatalf("split %d: output differs:\n%q\n%q", split, out, wholeOut)
				}
			}
			// One byte at a time.
			var got []seen
			s, host := newTestServer(t, recorder(&got), nil)
			f := newFakeConn(t, s, host)
			f.sendEach(tc.raw, 1)
			if len(got) != 1 || !equalSeen(got[0], tc.want) {
				t.Fatalf("byte at a time: got %+v", got)
			}
			if out := stripContinue(f.take()); !bytes.Equal(out, wholeOut) {
				t.Fatalf("byte at a time: output differs:\n%q\n%q", out, wholeOut)
			}
		})
	}
}

func stripContinue(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte(continueResponse), nil)
}

// TestSeveralRequestsInOneOnData sends every good request back to back in
// one segment, then the same stream one byte at a time.
func TestSeveralRequestsInOneOnData(t *testing.T) {
	var all strings.Builder
	var want []seen
	for _, tc := range goodRequests {
		if tc.want.minor == 0 {
			continue // HTTP/1.0 closes after its response
		}
		all.WriteString(tc.raw)
		want = append(want, tc.want)
	}
	for _, step := range []int{len(all.String()), 1, 7, 100} {
		var got []seen
		s, host := newTestServer(t, recorder(&got), nil)
		f := newFakeConn(t, s, host)
		f.sendEach(all.String(), step)
		if len(got) != len(want) {
			t.Fatalf("step %d: %d requests served, want %d", step, len(got), len(want))
		}
		for i := range want {
			if !equalSeen(got[i], want[i]) {
				t.Fatalf("step %d request %d:\n got %+v\nwant %+v", step, i, got[i], want[i])
			}
		}
		rs := parseResponses(t, stripContinue(f.take()))
		if len(rs) != len(want) {
			t.Fatalf("step %d: %d responses", step, len(rs))
		}
		for i := range rs {
			if rs[i].body != "ok "+want[i].path {
				t.Fatalf("step %d: response %d out of order: %q", step, i, rs[i].body)
			}
		}
		if !f.isOpen() {
			t.Fatalf("step %d: connection closed", step)
		}
	}
}

func TestPipeliningOneWrite(t *testing.T) {
	s, host := newTestServer(t, echoHandler, nil)
	f := newFakeConn(t, s, host)
	var b strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "GET /r%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
	}
	f.send(b.String())
	if f.writes != 1 {
		t.Errorf("%d Write calls for one batch, want 1", f.writes)
	}
	rs := parseResponses(t, f.take())
	if len(rs) != 20 {
		t.Fatalf("%d responses", len(rs))
	}
	for i, r := range rs {
		if want := fmt.Sprintf("GET /r%d  ", i); r.body != want {
			t.Fatalf("response %d = %q, want %q", i, r.body, want)
		}
	}
	if st := s.Stats(); st.PipelinedMax != 20 || st.Requests != 20 || st.Status[2] != 20 {
		t.Errorf("stats %+v", st)
	}
}

func TestKeepAlive(t *testing.T) {
	tests := []struct {
		name      string
		req       string
		wantClose bool
		wantConn  string // the response's Connection header
	}{
		{"1.1 default", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, ""},
		{"1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", true, "close"},
		{"1.1 close in list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n", true, "close"},
		{"1.0 default", "GET / HTTP/1.0\r\n\r\n", true, "close"},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", false, "keep-alive"},
		{"1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", true, "close"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, host := newTestServer(t, Plaintext, nil)
			f := newFakeConn(t, s, host)
			f.send(tc.req + tc.req)
			out := f.take()
			rs := parseResponses(t, out)
			wantN := 2
			if tc.wantClose {
				wantN = 1
			}
			if len(rs) != wantN {
				t.Fatalf("%d responses, want %d: %q", len(rs), wantN, out)
			}
			got := rs[0].header.Get("Connection")
			if rs[0].close {
				got = "close" // net/http moves it to Response.Close
			}
			if got != tc.wantConn {
				t.Errorf("Connection: %q, want %q", got, tc.wantConn)
			}
			if f.closed != tc.wantClose {
				t.Errorf("closed = %v, want %v", f.closed, tc.wantClose)
			}
			if tc.wantClose {
				// Input after the close is discarded, and the peer's
				// close finishes the connection.
				f.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
				if len(f.out) != 0 || f.pendingRecv() != 0 {
					t.Errorf("after close: output %q, %d unconsumed", f.out, f.pendingRecv())
				}
				f.peerFIN()
				f.finish()
				if !f.gone || s.Stats().ConnsActive != 0 {
					t.Errorf("not released: %+v", s.Stats())
				}
			}
		})
	}
}

func TestPlaintextExact(t *testing.T) {
	s, host := newTestServer(t, Plaintext, nil)
	f := newFakeConn(t, s, host)
	f.send("GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nServer: shardnet\r\nDate: " + fixedDate + "\r\n" +
		"Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
	if got := f.takeString(); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestHead(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100<<10)
	s, host := newTestServer(t, func(c *Ctx) {
		switch string(c.Path()) {
		case "/plain":
			Plaintext(c)
		case "/shared":
			c.SetBodyShared(big)
		case "/empty":
			c.SetStatus(204)
		}
	}, nil)
	f := newFakeConn(t, s, host)
	f.send("HEAD /plain HTTP/1.1\r\nHost: a\r\n\r\nHEAD /shared HTTP/1.1\r\nHost: a\r\n\r\nHEAD /empty HTTP/1.1\r\nHost: a\r\n\r\nGET /plain HTTP/1.1\r\nHost: a\r\n\r\n")
	rs := parseResponses(t, f.take(), true, true, true)
	if len(rs) != 4 {
		t.Fatalf("%d responses", len(rs))
	}
	if rs[0].header.Get("Content-Length") != "13" || rs[0].body != "" {
		t.Errorf("HEAD plain: %+v", rs[0])
	}
	if rs[1].header.Get("Content-Length") != fmt.Sprint(len(big)) || rs[1].body != "" {
		t.Errorf("HEAD shared: %+v", rs[1])
	}
	if rs[2].status != 204 || rs[2].header.Get("Content-Length") != "" {
		t.Errorf("HEAD 204: %+v", rs[2])
	}
	if rs[3].body != "Hello, World!" {
		t.Errorf("GET after HEADs: %+v", rs[3])
	}
}

func TestResponseHeadersAndErrors(t *testing.T) {
	s, host := newTestServer(t, func(c *Ctx) {
		c.SetHeader("Allow", "GET, HEAD")
		c.SetHeaderBytes("X-Echo", c.Header("x-in"))
		c.SetHeader("X-Bad", "a\r\nInjected: 1") // dropped
		c.SetHeader("Bad Name", "v")             // dropped
		c.WriteString("discarded")
		c.Error(405)
	}, nil)
	f := newFakeConn(t, s, host)
	f.send("GET / HTTP/1.1\r\nHost: a\r\nX-In: hi\r\n\r\n")
	out := f.takeString()
	want := "HTTP/1.1 405 Method Not Allowed\r\nServer: shardnet\r\nDate: " + fixedDate + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nAllow: GET, HEAD\r\nX-Echo: hi\r\nContent-Length: 19\r\n\r\nMethod Not Allowed\n"
	if out != want {
		t.Fatalf("got\n%q\nwant\n%q", out, want)
	}
	if st := s.Stats(); st.BadHeaderValues != 2 || st.Status[4] != 1 {
		t.Errorf("stats %+v", st)
	}
	if !f.isOpen() {
		t.Error("a handler's error response closed the connection")
	}
}

func TestRouter(t *testing.T) {
	var r Router
	mark := func(s string) HandlerFunc { return func(c *Ctx) { c.WriteString(s) } }
	r.Handle("/", mark("root"))
	r.Handle("/plaintext", Plaintext)
	r.HandlePrefix("/static/", mark("static"))
	r.HandlePrefix("/static/img/", mark("img"))
	r.HandlePrefix("/s", mark("s"))
	s, host := newTestServer(t, nil, func(c *Config) { c.Router = &r })
	f := newFakeConn(t, s, host)
	for _, tc := range []struct{ path, body string }{
		{"/", "root"},
		{"/plaintext", "Hello, World!"},
		{"/static/a.css", "static"},
		{"/static/img/a.png", "img"},
		{"/static/im", "static"},
		{"/sx", "s"},
		{"/static%2Fimg%2Fb", "img"}, // routing sees the decoded path
		{"/nope", "Not Found\n"},
	} {
		f.send("GET " + tc.path + " HTTP/1.1\r\nHost: a\r\n\r\n")
		rs := parseResponses(t, f.take())
		if len(rs) != 1 || rs[0].body != tc.body {
			t.Errorf("%s: %+v, want body %q", tc.path, rs, tc.body)
		}
	}
}

func TestNewServerConfig(t *testing.T) {
	host := newFakeHost()
	if _, err := NewServer(Config{}, host); err == nil {
		t.Error("no handler accepted")
	}
	if _, err := NewServer(Config{Handler: Plaintext, MaxBodyBytes: 1 << 20}, host); err == nil {
		t.Error("body limit above the receive buffer accepted")
	}
	if _, err := NewServer(Config{Handler: Plaintext, ServerName: "a\r\nb"}, host); err == nil {
		t.Error("ServerName with CRLF accepted")
	}
	s, err := NewServer(Config{Handler: Plaintext}, host)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.MaxHeaderBytes != 8<<10 || c.MaxURILen != 4<<10 || c.MaxBodyBytes != 64<<10 || c.MaxPipelined != 64 {
		t.Errorf("defaults %+v", c)
	}
}

func TestDateCachedPerSecond(t *testing.T) {
	calls := 0
	base := fixedClock()
	host := newFakeHost()
	s, err := NewServer(Config{Handler: Plaintext, Clock: func() time.Time {
		calls++
		return base.Add(time.Duration(host.now))
	}}, host)
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeConn(t, s, host)
	for i := 0; i < 100; i++ {
		f.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	}
	if calls != 1 {
		t.Errorf("clock read %d times for 100 requests in one second", calls)
	}
	f.reset()
	host.now += int64(1500 * time.Millisecond)
	var got []string
	s.cfg.Handler = nil
	s.handler = func(c *Ctx) { got = append(got, fmt.Sprint(c.Unix())); Plaintext(c) }
	f.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	rs := parseResponses(t, f.take())
	if want := base.Add(1500 * time.Millisecond).Format(TimeFormat); rs[0].header.Get("Date") != want {
		t.Errorf("Date %q, want %q", rs[0].header.Get("Date"), want)
	}
	if calls != 2 || got[0] != fmt.Sprint(base.Unix()+1) {
		t.Errorf("calls %d, unix %v", calls, got)
	}
}
