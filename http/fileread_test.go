package http

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// fileServer is a Server on a fake host whose file bodies are read off
// "the shard" (the test goroutine) and handed back through inbox.
type fileServer struct {
	s     *Server
	host  *fakeHost
	inbox *shard.Inbox
	body  []byte
}

const fileBodySize = 300_001 // five chunks and a byte

func newFileServer(t testing.TB) *fileServer { return newFileServerInbox(t, true) }

// newFileServerInbox makes the server with the reader (offShard) or
// without (reads on the shard's thread).
func newFileServerInbox(t testing.TB, offShard bool) *fileServer {
	t.Helper()
	body := make([]byte, fileBodySize)
	x := uint32(2463534242)
	for i := range body {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		body[i] = byte(x)
	}
	p := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	closed, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	fs := &fileServer{inbox: shard.NewInbox(256, nil), body: body}
	r := &Router{}
	r.Handle("/all", func(c *Ctx) { c.SetBodyFile(f, 0, fileBodySize) })
	r.Handle("/part", func(c *Ctx) { c.SetBodyFile(f, 1000, 100_000) })
	r.Handle("/closed", func(c *Ctx) { c.SetBodyFile(closed, 0, 10) })
	fs.s, fs.host = newTestServer(t, nil, func(c *Config) {
		c.Router = r
		if offShard {
			c.FileInbox = fs.inbox
		}
	})
	return fs
}

// pump runs the posted completions and acks what was sent until no
// connection has output pending, or fails after a deadline.
func (fs *fileServer) pump(t testing.TB, conns ...*fakeConn) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		fs.inbox.Drain(1 << 10)
		busy := false
		for _, f := range conns {
			if f.inflight > 0 {
				f.ackAll()
			}
			if cn, ok := f.ctx.(*conn); ok && (cn.pending() || f.inflight > 0) {
				busy = true
			}
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("file bodies not sent within 10 s")
		}
		runtime.Gosched() // the reader goroutine runs meanwhile
	}
}

// chunksHome checks every chunk buffer made is back on the free list.
func (fs *fileServer) chunksHome(t testing.TB) {
	t.Helper()
	fr := fs.s.files
	n := 0
	for fc := fr.free; fc != nil; fc = fc.next {
		n++
	}
	if n != fr.made || fr.made > fileChunks || fr.wait != nil {
		t.Fatalf("%d chunks free of %d made (max %d), waiting list empty: %v", n, fr.made, fileChunks, fr.wait == nil)
	}
}

// Many connections with small send buffers fetch a file body and a range
// of it, more at once than there are chunk buffers: every body arrives
// exact, some connections waited for a buffer, and all buffers return.
func TestFileBodiesOffShard(t *testing.T) {
	fs := newFileServer(t)
	const n = 3 * fileChunks
	conns := make([]*fakeConn, n)
	for i := range conns {
		conns[i] = newFakeConn(t, fs.s, fs.host)
		conns[i].setCap(16 << 10)
	}
	for _, f := range conns {
		f.send("GET /all HTTP/1.1\r\nHost: x\r\n\r\nGET /part HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	fs.pump(t, conns...)
	for i, f := range conns {
		rs := parseResponses(t, f.take())
		if len(rs) != 2 {
			t.Fatalf("conn %d: %d responses, want 2", i, len(rs))
		}
		if rs[0].status != 200 || rs[0].body != string(fs.body) {
			t.Fatalf("conn %d: /all: %d, %d bytes, body exact: %v", i, rs[0].status, len(rs[0].body), rs[0].body == string(fs.body))
		}
		if rs[1].status != 200 || rs[1].body != string(fs.body[1000:101_000]) {
			t.Fatalf("conn %d: /part: %d, %d bytes", i, rs[1].status, len(rs[1].body))
		}
	}
	st := fs.s.Stats()
	// /all takes at least ceil(300001/65536) = 5 chunks, /part 2; more,
	// as no chunk is bigger than the send space (16 KiB).
	if want := uint64(n * (300_001/(16<<10) + 100_000/(16<<10))); st.FileReads < want {
		t.Fatalf("FileReads %d, want ≥ %d", st.FileReads, want)
	}
	if st.FileReadWaits == 0 || st.FileErrors != 0 {
		t.Fatalf("FileReadWaits %d (want > 0 with %d connections and %d buffers), FileErrors %d", st.FileReadWaits, n, fileChunks, st.FileErrors)
	}
	fs.chunksHome(t)
}

// A connection aborted while its chunk is being read, and one waiting for
// a buffer, give their buffers back; a read that fails aborts its
// connection, counted.
func TestFileBodyAbortAndError(t *testing.T) {
	fs := newFileServer(t)
	conns := make([]*fakeConn, fileChunks+4)
	for i := range conns {
		conns[i] = newFakeConn(t, fs.s, fs.host)
		conns[i].send("GET /all HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	fr := fs.s.files
	if fr.made != fileChunks || fr.wait == nil {
		t.Fatalf("%d chunks made, waiting list empty: %v; want all %d taken and some waiting", fr.made, fr.wait == nil, fileChunks)
	}
	// Abort the first (its read in flight) and the last (waiting).
	for _, f := range []*fakeConn{conns[0], conns[len(conns)-1]} {
		f.Abort(fs.host.now)
	}
	fs.pump(t, conns[1:len(conns)-1]...)
	for i, f := range conns[1 : len(conns)-1] {
		rs := parseResponses(t, f.take())
		if len(rs) != 1 || rs[0].body != string(fs.body) {
			t.Fatalf("conn %d: %d responses", i+1, len(rs))
		}
	}
	// The aborted read's completion may still be queued: let it land.
	waitCond(t, func() bool {
		fs.inbox.Drain(64)
		return fr.pending.Load() == 0 && fs.inbox.Len() == 0
	})
	fs.chunksHome(t)

	f := newFakeConn(t, fs.s, fs.host)
	f.send("GET /closed HTTP/1.1\r\nHost: x\r\n\r\n")
	waitCond(t, func() bool { fs.inbox.Drain(64); return f.gone })
	if !f.aborted || fs.s.Stats().FileErrors != 1 {
		t.Fatalf("failed read: aborted %v, FileErrors %d, want true, 1", f.aborted, fs.s.Stats().FileErrors)
	}
	fs.chunksHome(t)
}

// Clients that stop reading hold their send buffers but no chunk buffer:
// with more of them than there are buffers, a well-behaved client still
// gets its file at once.
func TestFileBodySlowReadersHoldNoChunk(t *testing.T) {
	fs := newFileServer(t)
	for range 2 * fileChunks {
		f := newFakeConn(t, fs.s, fs.host)
		f.setCap(100_000) // never acked
		f.send("GET /all HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	fr := fs.s.files
	waitCond(t, func() bool { fs.inbox.Drain(64); return fr.pending.Load() == 0 && fs.inbox.Len() == 0 })
	fs.chunksHome(t)
	f := newFakeConn(t, fs.s, fs.host)
	f.setCap(16 << 10)
	f.send("GET /all HTTP/1.1\r\nHost: x\r\n\r\n")
	fs.pump(t, f)
	if rs := parseResponses(t, f.take()); len(rs) != 1 || rs[0].body != string(fs.body) {
		t.Fatalf("the reading client: %d responses", len(rs))
	}
	fs.chunksHome(t)
}

func waitCond(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		runtime.Gosched()
	}
}

// A keep-alive connection fetching a file body over and over, its reads
// off the shard, allocates nothing per request in the steady state.
func TestAllocsFileBodyOffShard(t *testing.T) {
	skipUnderRace(t)
	fs := newFileServer(t)
	f := newFakeConn(t, fs.s, fs.host)
	f.setCap(64 << 10)
	req := []byte("GET /all HTTP/1.1\r\nHost: x\r\n\r\n")
	tail := fs.body[len(fs.body)-100:]
	if a := allocsPerRequest(t, f, req, func() {
		fs.pump(t, f)
		if !bytes.HasSuffix(f.out, tail) {
			t.Fatalf("response does not end with the file's tail (%d bytes out)", len(f.out))
		}
	}); a != 0 {
		t.Fatalf("%v allocations per file body read off the shard", a)
	}
	if fs.s.Stats().FileReads == 0 {
		t.Fatal("no chunk was read off the shard")
	}
}

// BenchmarkFileBody is one 300 KB file response over a fake connection
// with 64 KiB of send space, its five chunks read on the shard's thread or
// by the reader goroutine and handed back through an inbox: the hand-over
// cost, with the file in the page cache.
func BenchmarkFileBody(b *testing.B) {
	for _, off := range []bool{false, true} {
		b.Run(map[bool]string{false: "on-shard", true: "off-shard"}[off], func(b *testing.B) {
			fs := newFileServerInbox(b, off)
			f := newFakeConn(b, fs.s, fs.host)
			f.setCap(64 << 10)
			req := []byte("GET /all HTTP/1.1\r\nHost: x\r\n\r\n")
			b.SetBytes(fileBodySize)
			b.ReportAllocs()
			for b.Loop() {
				f.sendBytes(req)
				fs.pump(b, f)
				f.out = f.out[:0]
			}
			if st := fs.s.Stats(); st.FileErrors != 0 || (off && st.FileReads == 0) {
				b.Fatalf("%+v", st)
			}
		})
	}
}
