package http

import (
	"strings"
	"testing"
)

const getReq = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"

// TestDrain covers each state a connection can be in when Drain is called.
func TestDrain(t *testing.T) {
	big := strings.Repeat("b", 100_000)
	handler := func(c *Ctx) {
		if string(c.Path()) == "/big" {
			c.SetBodyShared([]byte(big))
			return
		}
		echoHandler(c)
	}
	s, host := newTestServer(t, handler, nil)

	// idle: one request answered, keep-alive, nothing pending.
	idle := newFakeConn(t, s, host)
	idle.send(getReq)
	if r := parseResponses(t, idle.take()); len(r) != 1 || r[0].close {
		t.Fatalf("before drain: %+v", r)
	}
	// fresh: open, nothing sent yet.
	fresh := newFakeConn(t, s, host)
	// midHead: half a request head.
	midHead := newFakeConn(t, s, host)
	midHead.send("GET /y HTTP/1.1\r\nHo")
	// midBody: head with a Content-Length body not yet complete.
	midBody := newFakeConn(t, s, host)
	midBody.send("POST /z HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345")
	// writing: a large response still being written (small send buffer).
	writing := newFakeConn(t, s, host)
	writing.setCap(4096)
	writing.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")

	if s.Active() != 5 {
		t.Fatalf("Active = %d before drain, want 5", s.Active())
	}
	s.Drain(host.now)
	if s.Active() != 5 {
		t.Fatalf("Active = %d right after Drain, want 5 (closing connections wait for the peer)", s.Active())
	}
	if !s.Draining() {
		t.Fatal("Draining false after Drain")
	}
	if idle.isOpen() || fresh.isOpen() {
		t.Fatalf("idle connections not closed at once: idle open %v, fresh open %v", idle.isOpen(), fresh.isOpen())
	}
	if idle.outLen() != 0 {
		t.Fatalf("idle connection got output on drain: %q", idle.takeString())
	}
	for name, f := range map[string]*fakeConn{"midHead": midHead, "midBody": midBody, "writing": writing} {
		if !f.isOpen() {
			t.Fatalf("%s closed by Drain before finishing its request", name)
		}
	}

	// The requests in progress complete, say Connection: close, and close.
	midHead.send("st: h\r\n\r\n")
	r := parseResponses(t, midHead.take())
	if len(r) != 1 || r[0].status != 200 || !r[0].close || r[0].body != "GET /y  " {
		t.Fatalf("midHead response %+v", r)
	}
	if midHead.isOpen() {
		t.Fatal("midHead still open after its response")
	}
	midBody.send("67890")
	r = parseResponses(t, midBody.take())
	if len(r) != 1 || r[0].status != 200 || !r[0].close || r[0].body != "POST /z  1234567890" {
		t.Fatalf("midBody response %+v", r)
	}
	if midBody.isOpen() {
		t.Fatal("midBody still open after its response")
	}
	for i := 0; i < 100 && writing.isOpen(); i++ {
		writing.ackAll()
	}
	if writing.isOpen() {
		t.Fatal("writing connection still open after its response was acknowledged")
	}
	r = parseResponses(t, writing.take())
	if len(r) != 1 || r[0].status != 200 || r[0].body != big {
		t.Fatalf("large response cut short by drain: %d responses", len(r))
	}

	// A connection that opens during the drain is served once, then closed.
	late := newFakeConn(t, s, host)
	late.send(getReq + getReq) // the pipelined second request is discarded
	r = parseResponses(t, late.take())
	if len(r) != 1 || !r[0].close || late.isOpen() {
		t.Fatalf("connection opened while draining: %d responses, open %v", len(r), late.isOpen())
	}

	// The peers close their sides: OnClose takes them off the list.
	for _, f := range []*fakeConn{idle, fresh, midHead, midBody, writing, late} {
		f.peerFIN()
		f.finish()
	}
	if s.Active() != 0 || s.active != nil {
		t.Fatalf("Active = %d after every connection closed", s.Active())
	}
	if got := s.Stats().Status[2]; got != 5 {
		t.Fatalf("2xx = %d, want 5 (idle, midHead, midBody, writing, late)", got)
	}
}

// TestDrainPipelinedBackpressure: complete requests waiting behind
// back-pressure when Drain is called are answered up to the first one
// served after it, which closes the connection.
func TestDrainPipelinedBackpressure(t *testing.T) {
	s, host := newTestServer(t, echoHandler, func(c *Config) { c.MaxPipelined = 2 })
	f := newFakeConn(t, s, host)
	f.setCap(1) // nothing can be written: the server pauses after 2 responses
	f.send(strings.Repeat(getReq, 5))
	s.Drain(host.now)
	if !f.isOpen() {
		t.Fatal("paused connection closed by Drain")
	}
	f.setCap(0)
	f.ackAll()
	for i := 0; i < 10 && f.isOpen(); i++ {
		f.ackAll()
	}
	r := parseResponses(t, f.take())
	if len(r) != 3 || r[0].close || r[1].close || !r[2].close {
		t.Fatalf("got %d responses (close flags %v), want 2 keep-alive then 1 close", len(r), closeFlags(r))
	}
	if f.isOpen() {
		t.Fatal("connection still open after the Connection: close response")
	}
}

func closeFlags(r []response) []bool {
	b := make([]bool, len(r))
	for i := range r {
		b[i] = r[i].close
	}
	return b
}

// TestDrainLinkList checks the open-connection list as connections come
// and go in any order.
func TestDrainLinkList(t *testing.T) {
	s, host := newTestServer(t, echoHandler, nil)
	var fs []*fakeConn
	for i := 0; i < 6; i++ {
		fs = append(fs, newFakeConn(t, s, host))
	}
	for _, i := range []int{0, 5, 2} { // head, tail, middle
		fs[i].Abort(host.now)
	}
	n := 0
	for cn := s.active; cn != nil; cn = cn.nextA {
		if cn.nextA != nil && cn.nextA.prevA != cn {
			t.Fatal("broken back link")
		}
		n++
	}
	if n != 3 || s.Active() != 3 {
		t.Fatalf("list holds %d, Active %d; want 3", n, s.Active())
	}
	allocs := testing.AllocsPerRun(100, func() { s.Drain(host.now) })
	if allocs != 0 {
		t.Fatalf("Drain allocates %v per call", allocs)
	}
}
