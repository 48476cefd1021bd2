package interop

import (
	"bytes"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic/memwire"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/tcp"
)

const benchGET = "GET /plaintext HTTP/1.1\r\nHost: 198.18.201.2\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"

// httpClient is a raw tcp.Handler that sends one GET at a time and counts
// complete responses. Its buffer is reused: after warm-up it allocates
// nothing, so allocs/op is the stacks' and the server's.
type httpClient struct {
	conn   *tcp.Conn
	in     []byte // bytes of the response being read
	done   int    // complete responses
	bad    string // the first malformed response, if any
	closed bool
}

func (h *httpClient) OnOpen(c *tcp.Conn, now int64) { h.conn = c }

func (h *httpClient) OnData(c *tcp.Conn, b []byte, now int64) int {
	h.in = append(h.in, b...)
	for {
		n := responseLen(h.in)
		if n == 0 {
			return len(b)
		}
		if n < 0 || !bytes.HasPrefix(h.in, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(h.in[:n], []byte("\r\n\r\nHello, World!")) {
			if h.bad == "" {
				h.bad = string(h.in)
			}
			h.in = h.in[:0]
			return len(b)
		}
		h.done++
		h.in = h.in[:copy(h.in, h.in[n:])]
	}
}

func (h *httpClient) OnWritable(c *tcp.Conn, now int64)                 {}
func (h *httpClient) OnPeerClosed(c *tcp.Conn, now int64)               { c.Close(now) }
func (h *httpClient) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) { h.closed = true }

// responseLen is the length of the complete response at the start of b:
// 0 if it is not all there yet, -1 if its head has no Content-Length.
func responseLen(b []byte) int {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return 0
	}
	head := b[:end+2]
	const field = "content-length:"
	cl := -1
	for len(head) > 0 {
		i := bytes.Index(head, []byte("\r\n"))
		line := head[:i]
		head = head[i+2:]
		if len(line) > len(field) && bytes.EqualFold(line[:len(field)], []byte(field)) {
			cl = 0
			for _, d := range bytes.TrimSpace(line[len(field):]) {
				if d < '0' || d > '9' {
					return -1
				}
				cl = cl*10 + int(d-'0')
			}
		}
	}
	if cl < 0 {
		return -1
	}
	if n := end + 4 + cl; len(b) >= n {
		return n
	}
	return 0
}

// httpRig is two shardnet stacks joined by memwire: the server stack runs
// http.Server with /plaintext on port 80, the client stack holds one
// established keep-alive connection to it. Both loops run on the caller's
// goroutine.
type httpRig struct {
	tb           testing.TB
	la, lb       *reactor.Loop
	qa, qb       *memwire.Queue
	slabA, slabB *buf.Slab
	srv          *http.Server
	cl           *httpClient
	req          []byte
	now          int64
}

func newHTTPRig(tb testing.TB) *httpRig {
	r := &httpRig{tb: tb, req: []byte(benchGET)}
	r.slabA, _ = buf.NewSlab(4096, buf.DefaultFrameSize, buf.DefaultHeadroom)
	r.slabB, _ = buf.NewSlab(4096, buf.DefaultFrameSize, buf.DefaultHeadroom)
	var err error
	r.qa, r.qb, err = memwire.New(memwire.Config{}, r.slabA, r.slabB)
	if err != nil {
		tb.Fatal(err)
	}
	addrA, addrB := [4]byte{198, 18, 201, 1}, [4]byte{198, 18, 201, 2}
	mk := func(q *memwire.Queue, slab *buf.Slab, addr [4]byte, mac byte) *reactor.Loop {
		l, err := reactor.New(reactor.Config{Queue: q, Slab: slab, TCP: &tcp.Config{},
			IP: ip.Config{MAC: [6]byte{2, 0, 0, 0, 1, mac}, Addr: addr, PrefixLen: 24}})
		if err != nil {
			tb.Fatal(err)
		}
		return l
	}
	r.la, r.lb = mk(r.qa, r.slabA, addrA, 1), mk(r.qb, r.slabB, addrB, 2)
	router := &http.Router{}
	router.Handle("/plaintext", http.Plaintext)
	if r.srv, err = http.NewServer(http.Config{Router: router}, r.lb); err != nil {
		tb.Fatal(err)
	}
	if err := r.lb.Listen(80, r.srv); err != nil {
		tb.Fatal(err)
	}
	r.now = reactor.Monotonic()
	r.la.Start(r.now)
	r.lb.Start(r.now)
	r.cl = &httpClient{in: make([]byte, 0, 4096)}
	if _, err := r.la.TCP().Dial(addrB, 80, r.cl, r.now); err != nil {
		tb.Fatal(err)
	}
	for i := 0; r.cl.conn == nil; i++ {
		if r.step(); i > 1_000_000 {
			tb.Fatal("no handshake")
		}
	}
	return r
}

func (r *httpRig) step() {
	r.now = reactor.Monotonic()
	r.la.RunOnce(r.now)
	r.lb.RunOnce(r.now)
}

// get sends one request and runs both stacks until its whole response
// has arrived at the client.
func (r *httpRig) get() {
	want := r.cl.done + 1
	if n := r.cl.conn.Write(r.req, r.now); n != len(r.req) {
		r.tb.Fatalf("wrote %d of %d", n, len(r.req))
	}
	for i := 0; r.cl.done < want; i++ {
		if r.step(); i > 1_000_000 || r.cl.bad != "" || r.cl.closed {
			r.tb.Fatalf("no response (bad %q, closed %v)", r.cl.bad, r.cl.closed)
		}
	}
}

// close stops both stacks and checks that every frame went back.
func (r *httpRig) close() {
	r.la.Close()
	r.lb.Close()
	r.qa.Close()
	r.qb.Close()
	if r.slabA.InUse() != 0 || r.slabB.InUse() != 0 {
		r.tb.Fatalf("slab leak: %d / %d", r.slabA.InUse(), r.slabB.InUse())
	}
	r.slabA.Close()
	r.slabB.Close()
}

// BenchmarkHTTPPlaintextMemwire is one keep-alive GET /plaintext through
// the whole stack: a shardnet client stack writes the request, memwire
// carries the frames, the server stack's TCP hands them to http.Server,
// and the response travels back until the client holds all of it. Both
// loops run on this goroutine, so ns/op is the two stacks' work on one
// core per request; allocs/op should be 0 (TestHTTPPlaintextMemwireAllocs).
func BenchmarkHTTPPlaintextMemwire(b *testing.B) {
	r := newHTTPRig(b)
	for i := 0; i < 1000; i++ { // warm up pools, buffers, the Date cache
		r.get()
	}
	b.SetBytes(int64(len(r.req)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.get()
	}
	b.StopTimer()
	if st := r.srv.Stats(); st.Requests < uint64(b.N) {
		b.Fatalf("server counted %d requests, want ≥ %d", st.Requests, b.N)
	}
	r.close()
}
