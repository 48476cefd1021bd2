package http

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shardnet/shardnet/stream"
)

const plaintextReq = "GET /plaintext HTTP/1.1\r\nHost: server\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20130501 Firefox/30.0\r\n" +
	"Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\nConnection: keep-alive\r\n\r\n"

func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
}

func plaintextRouter() *Router {
	r := &Router{}
	r.Handle("/plaintext", Plaintext)
	return r
}

// allocsPerRequest warms f up with req, then measures the allocations of
// one send of req (and the acks its response needs).
func allocsPerRequest(t *testing.T, f *fakeConn, req []byte, check func()) float64 {
	t.Helper()
	run := func() {
		f.sendBytes(req)
		for f.inflight > 0 {
			f.ackAll()
		}
		if check != nil {
			check()
		}
		f.out = f.out[:0]
	}
	for i := 0; i < 200; i++ {
		run()
	}
	return testing.AllocsPerRun(1000, run)
}

func TestAllocsPlaintextKeepAlive(t *testing.T) {
	skipUnderRace(t)
	s, host := newTestServer(t, nil, func(c *Config) { c.Router = plaintextRouter() })
	f := newFakeConn(t, s, host)
	if a := allocsPerRequest(t, f, []byte(plaintextReq), func() {
		if !bytes.HasSuffix(f.out, []byte("\r\n\r\nHello, World!")) {
			t.Fatalf("bad response %q", f.out)
		}
	}); a != 0 {
		t.Fatalf("%v allocations per keep-alive /plaintext GET", a)
	}
}

func TestAllocsPlaintextPipelined(t *testing.T) {
	skipUnderRace(t)
	s, host := newTestServer(t, nil, func(c *Config) { c.Router = plaintextRouter() })
	f := newFakeConn(t, s, host)
	req := []byte(strings.Repeat(plaintextReq, 16))
	if a := allocsPerRequest(t, f, req, func() {
		if n := bytes.Count(f.out, []byte("Hello, World!")); n != 16 {
			t.Fatalf("%d responses", n)
		}
	}); a != 0 {
		t.Fatalf("%v allocations per batch of 16 pipelined GETs", a)
	}
}

func TestAllocsSharedBody(t *testing.T) {
	skipUnderRace(t)
	small := bytes.Repeat([]byte("s"), 2000)
	large := bytes.Repeat([]byte("L"), 200<<10)
	s, host := newTestServer(t, func(c *Ctx) {
		c.SetContentType("text/css")
		c.SetHeader("Cache-Control", "max-age=60")
		c.SetHeaderBytes("X-Query", c.Query())
		if c.Header("X-Large") != nil {
			c.SetBodyShared(large)
		} else {
			c.SetBodyShared(small)
		}
	}, nil)
	for _, tc := range []struct {
		name, req string
		body      []byte
		sendCap   int
	}{
		{"small", "GET /a.css?v=1 HTTP/1.1\r\nHost: a\r\n\r\n", small, 0},
		{"large, streamed", "GET /a.css?v=2 HTTP/1.1\r\nHost: a\r\nX-Large: 1\r\n\r\n", large, 64 << 10},
		{"HEAD", "HEAD /a.css HTTP/1.1\r\nHost: a\r\nX-Large: 1\r\n\r\n", nil, 0},
	} {
		f := newFakeConn(t, s, host)
		f.setCap(tc.sendCap)
		suffix := append([]byte("\r\n\r\n"), tc.body...)
		if a := allocsPerRequest(t, f, []byte(tc.req), func() {
			if !bytes.HasSuffix(f.out, suffix) {
				t.Fatalf("%s: bad response (%d bytes)", tc.name, len(f.out))
			}
		}); a != 0 {
			t.Errorf("%s: %v allocations per SetBodyShared response", tc.name, a)
		}
	}
}

func TestAllocsBodies(t *testing.T) {
	skipUnderRace(t)
	s, host := newTestServer(t, echoHandler, nil)
	for _, req := range []string{
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
		"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: 1\r\n\r\n",
		"GET /a%20b?q HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		f := newFakeConn(t, s, host)
		if a := allocsPerRequest(t, f, []byte(req), nil); a != 0 {
			t.Errorf("%q: %v allocations per request", req, a)
		}
	}
}

// TestAllocsConnCycle: opening a connection, answering (or rejecting) a
// request, and closing reuses pooled state.
func TestAllocsConnCycle(t *testing.T) {
	skipUnderRace(t)
	s, host := newTestServer(t, Plaintext, nil)
	f := newFakeConn(t, s, host)
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	} {
		b := []byte(req)
		cycle := func() {
			f.closed, f.gone, f.peerClosed = false, false, false
			f.rcv, f.out = f.rcv[:0], f.out[:0]
			s.OnOpen(f, host.now)
			f.sendBytes(b)
			if !f.closed {
				t.Fatalf("%q: not closed", req)
			}
			f.peerFIN()
			f.gone = true
			s.OnClose(f, stream.CloseNormal, host.now)
		}
		for i := 0; i < 100; i++ {
			cycle()
		}
		if a := testing.AllocsPerRun(1000, cycle); a != 0 {
			t.Errorf("%q: %v allocations per connection", req, a)
		}
	}
	if st := s.Stats(); st.ConnsActive != 1 { // the first OnOpen of newFakeConn
		t.Errorf("active %d", st.ConnsActive)
	}
}

func BenchmarkPlaintext(b *testing.B) {
	s, host := newTestServer(b, nil, func(c *Config) { c.Router = plaintextRouter() })
	f := newFakeConn(b, s, host)
	req := []byte(plaintextReq)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		f.sendBytes(req)
		f.out = f.out[:0]
	}
}

func BenchmarkPlaintextPipelined16(b *testing.B) {
	s, host := newTestServer(b, nil, func(c *Config) { c.Router = plaintextRouter() })
	f := newFakeConn(b, s, host)
	req := []byte(strings.Repeat(plaintextReq, 16))
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		f.sendBytes(req)
		f.out = f.out[:0]
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*16), "ns/req")
}

func BenchmarkParseHead(b *testing.B) {
	req := []byte(plaintextReq)
	lim := limits{maxHeader: 8 << 10, maxURI: 4 << 10, maxBody: 64 << 10}
	var r request
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		var sc headScan
		n, e := sc.scan(req, &lim)
		if e != ErrNone || n != len(req) {
			b.Fatal(n, e)
		}
		if e := parseHead(req, &sc, &r, &lim); e != ErrNone {
			b.Fatal(e)
		}
	}
}
