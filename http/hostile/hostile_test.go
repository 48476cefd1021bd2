package hostile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	shardnet "github.com/shardnet/shardnet"
	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/http/static"
	"github.com/shardnet/shardnet/internal/nstest"
)

// server is httpd's router on one shard — shardnet's TCP over a TAP
// device in a namespace, or the kernel's (kstack) on a loopback address —
// with the test's timeouts, reached by raw kernel-socket clients.
type server struct {
	st   *shardnet.Stack
	ns   *nstest.NS // nil for the kernel backend
	addr string     // host:port
	big  []byte     // /big.bin
	huge []byte     // /huge.bin: above static's MaxCachedFile, read from disk
}

const bigSize = 256 << 10

const hugeSize = 3<<20 + 12345

// numSmall files /n0.txt … hold smallBody(i): distinct answers, to check
// the order of pipelined responses.
const numSmall = 16

func smallBody(i int) string { return fmt.Sprintf("small file %d\n", i) }

// backends runs f once per backend the case makes sense on.
func backends(t *testing.T, f func(t *testing.T, d shardnet.Driver)) {
	t.Run("tap", func(t *testing.T) { f(t, shardnet.DriverTAP) })
	t.Run("kernel", func(t *testing.T) { f(t, shardnet.DriverKernel) })
}

func start(t *testing.T, d shardnet.Driver, hcfg http.Config) *server {
	t.Helper()
	nstest.RequireRoot(t)
	root := t.TempDir()
	big := make([]byte, bigSize)
	for i := range big {
		big[i] = byte(i * 7)
	}
	must(t, os.WriteFile(filepath.Join(root, "big.bin"), big, 0o644))
	huge := make([]byte, hugeSize)
	x := uint32(2463534242)
	for i := range huge {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		huge[i] = byte(x)
	}
	must(t, os.WriteFile(filepath.Join(root, "huge.bin"), huge, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "index.html"), []byte("<p>index</p>\n"), 0o644))
	for i := range numSmall {
		must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("n%d.txt", i)), []byte(smallBody(i)), 0o644))
	}
	// A secret outside the root, and a symlink pointing at it.
	secret := filepath.Join(t.TempDir(), "secret.txt")
	must(t, os.WriteFile(secret, []byte("root:x:0:0:SECRET\n"), 0o644))
	must(t, os.Symlink(secret, filepath.Join(root, "link.txt")))
	files, err := static.New(static.Config{Root: root, Rescan: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	router := &http.Router{}
	router.Handle("/plaintext", http.Plaintext)
	router.HandlePrefix("/", files.Serve)
	hcfg.Router = router

	srv := &server{big: big, huge: huge}
	var cfg shardnet.Config
	port := uint16(80)
	if d == shardnet.DriverKernel {
		// A loopback address of its own, so that parallel tests never
		// share a port.
		a := netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(250)), byte(rand.IntN(256)), byte(1 + rand.IntN(250))})
		port = 8080
		// A fixed send buffer (no autotuning up to megabytes), so that
		// a client that does not read holds the server back soon.
		cfg = shardnet.Config{Driver: d, Addr: netip.PrefixFrom(a, 32), Shards: 1, SendBuf: 64 << 10, Logger: zaptest.NewLogger(t)}
		srv.addr = netip.AddrPortFrom(a, port).String()
	} else {
		srv.ns = nstest.New(t, "shn-hhttp")
		subnet := 1 + rand.IntN(250)
		cfg = shardnet.Config{
			Driver:   d,
			Iface:    fmt.Sprintf("shh%x", rand.Uint32()),
			Addr:     netip.MustParsePrefix(fmt.Sprintf("198.18.%d.2/24", subnet)),
			HostAddr: netip.MustParsePrefix(fmt.Sprintf("198.18.%d.1/24", subnet)),
			Shards:   1,
			Frames:   4096,
			NetNS:    srv.ns.Handle,
			Logger:   zaptest.NewLogger(t),
		}
		srv.addr = fmt.Sprintf("198.18.%d.2:%d", subnet, port)
	}
	st, err := shardnet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	must(t, st.HandleHTTP(port, hcfg))
	must(t, st.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st.Stop(ctx)
	})
	srv.st = st
	return srv
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dial opens a kernel TCP connection to the server (from the namespace,
// for the TAP backend).
func (s *server) dial(t *testing.T) net.Conn {
	t.Helper()
	var c net.Conn
	dial := func() error {
		var err error
		c, err = net.DialTimeout("tcp4", s.addr, 5*time.Second)
		return err
	}
	var err error
	if s.ns != nil {
		err = s.ns.Do(dial)
	} else {
		err = dial()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stats is the shard's HTTP counters, copied on its thread.
func (s *server) stats(t *testing.T) http.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	smp, err := s.st.Samples(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return smp[0].HTTP
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

// legit runs a well-behaved keep-alive client until stop is closed and
// counts verified responses; any wrong answer or error is reported.
func (s *server) legit(t *testing.T, stop <-chan struct{}) (ok *atomic.Int64, done <-chan error) {
	ok = &atomic.Int64{}
	ch := make(chan error, 1)
	c := s.dial(t)
	go func() {
		r := bufio.NewReader(c)
		for {
			select {
			case <-stop:
				ch <- nil
				return
			default:
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				ch <- err
				return
			}
			status, body, err := readResponse(r)
			if err != nil || status != 200 || body != "Hello, World!" {
				ch <- fmt.Errorf("legit client: status %d body %q err %v", status, body, err)
				return
			}
			ok.Add(1)
		}
	}()
	return ok, ch
}

// readResponse reads one response with a Content-Length body.
func readResponse(r *bufio.Reader) (int, string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	var status int
	if _, err := fmt.Sscanf(line, "HTTP/1.1 %d", &status); err != nil {
		return 0, "", fmt.Errorf("status line %q", line)
	}
	n := -1
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return status, "", err
		}
		if h == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "Content-Length") {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &n)
		}
	}
	if n < 0 {
		return status, "", errors.New("no Content-Length")
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return status, string(b), err
}

// closedByServer reads until EOF or a reset (true) or the deadline (false).
func closedByServer(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// Slowloris: 200 connections each dribble a request head one byte at a
// time; the header timeout closes every one, counted, while a legit
// client keeps getting answers.
func TestSlowloris(t *testing.T) { backends(t, testSlowloris) }

func testSlowloris(t *testing.T, d shardnet.Driver) {
	s := start(t, d, http.Config{HeaderTimeout: int64(400 * time.Millisecond), LingerTimeout: int64(300 * time.Millisecond)})
	stop := make(chan struct{})
	ok, legitDone := s.legit(t, stop)
	const n = 200
	head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200)
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = s.dial(t)
	}
	var wg sync.WaitGroup
	var closed atomic.Int64
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			for i := 0; i < len(head); i++ {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write([]byte{head[i]}); err != nil {
					closed.Add(1)
					return
				}
				time.Sleep(50 * time.Millisecond) // the attack's pace, not synchronisation
			}
		}(c)
	}
	wg.Wait()
	for _, c := range conns {
		if !closedByServer(c, 3*time.Second) {
			t.Fatal("a slowloris connection is still open")
		}
	}
	close(stop)
	if err := <-legitDone; err != nil {
		t.Fatal(err)
	}
	st := s.stats(t)
	if st.HeaderTimeouts < n {
		t.Fatalf("HeaderTimeouts %d, want ≥ %d", st.HeaderTimeouts, n)
	}
	if ok.Load() == 0 {
		t.Fatal("the legit client got no answer during the attack")
	}
	t.Logf("slowloris: %d connections closed by the header timeout; legit client got %d responses meanwhile", st.HeaderTimeouts, ok.Load())
}

// Silent connections: some never send a byte, some go quiet after one
// answered request, some stop in the middle of a request body. Each kind
// is closed by its own timer and counted there, while a legit client on
// another connection keeps being served.
func TestSilent(t *testing.T) { backends(t, testSilent) }

func testSilent(t *testing.T, d shardnet.Driver) {
	s := start(t, d, http.Config{IdleTimeout: int64(400 * time.Millisecond), LingerTimeout: int64(300 * time.Millisecond)})
	stop := make(chan struct{})
	ok, legitDone := s.legit(t, stop)
	const n = 50
	before := s.stats(t)
	var silent, quiet, stalled []net.Conn
	for range n {
		silent = append(silent, s.dial(t))
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /n1.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		status, body, err := readResponse(bufio.NewReader(c))
		if err != nil || status != 200 || body != smallBody(1) {
			t.Fatalf("first request: %d %q %v", status, body, err)
		}
		quiet = append(quiet, c)
		c = s.dial(t)
		io.WriteString(c, "POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a few bytes")
		stalled = append(stalled, c)
	}
	for kind, conns := range [][]net.Conn{silent, quiet, stalled} {
		for _, c := range conns {
			// A body cut short gets no response: the read finds only the end.
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			b, err := io.ReadAll(c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("kind %d: a silent connection is still open", kind)
			}
			if len(b) > 0 {
				t.Fatalf("kind %d: got %.80q, want the connection closed without a response", kind, b)
			}
		}
	}
	close(stop)
	must(t, <-legitDone)
	if ok.Load() == 0 {
		t.Fatal("the legit client got no answer meanwhile")
	}
	st := s.stats(t)
	if got := st.IdleTimeouts - before.IdleTimeouts; got < 2*n {
		t.Fatalf("IdleTimeouts +%d, want ≥ %d (never spoke, quiet after a response)", got, 2*n)
	}
	if got := st.BodyTimeouts - before.BodyTimeouts; got != n {
		t.Fatalf("BodyTimeouts +%d, want %d", got, n)
	}
	if st.HeaderTimeouts != before.HeaderTimeouts {
		t.Fatalf("HeaderTimeouts moved (%d → %d) with no request head begun", before.HeaderTimeouts, st.HeaderTimeouts)
	}
	t.Logf("silent: %d idle and %d body timeouts; legit client got %d responses meanwhile",
		st.IdleTimeouts-before.IdleTimeouts, st.BodyTimeouts-before.BodyTimeouts, ok.Load())
}

// A slow reader asks for a large file many times and never reads: the
// server stops reading its requests (Paused), holds a bounded amount for
// it, and the write timeout resets it; other clients are unaffected.
func TestSlowReader(t *testing.T) { backends(t, testSlowReader) }

func testSlowReader(t *testing.T, d shardnet.Driver) {
	s := start(t, d, http.Config{IdleTimeout: int64(time.Second)})
	c := s.dial(t)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096) // keep the client kernel's own buffering small
	}
	const n = 200 // 50 MiB of responses asked for
	reqs := strings.Repeat("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", n)
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, reqs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to pause the slow reader", 5*time.Second, func() bool { return s.stats(t).Paused > 0 })
	// While it is stuck, the shard's buffers stay bounded and others are served.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	smp, err := s.st.Samples(ctx)
	must(t, err)
	held, handled := smp[0].TCP.BufBytes, smp[0].HTTP.Requests
	if handled >= n {
		t.Fatalf("all %d requests reached the handler although the client read nothing", handled)
	}
	if d != shardnet.DriverKernel {
		// One send buffer of output plus the unread requests (7 KiB) in
		// a receive chunk; the rest waits in the client's kernel.
		sendBuf := s.st.Config().SendBuf
		if sendBuf == 0 {
			sendBuf = 256 << 10 // the documented default
		}
		if limit := uint64(sendBuf + 64<<10); held > limit {
			t.Fatalf("the shard holds %d buffer bytes for one slow reader, want ≤ %d", held, limit)
		}
	}
	stop := make(chan struct{})
	ok, legitDone := s.legit(t, stop)
	waitFor(t, "the legit client's answers", 5*time.Second, func() bool { return ok.Load() >= 50 })
	close(stop)
	must(t, <-legitDone)
	// Not reading a byte, the client waits for the write timeout.
	waitFor(t, "the write timeout", 5*time.Second, func() bool { return s.stats(t).WriteTimeouts > 0 })
	st := s.stats(t)
	// The connection was reset: reading finds its end, not the 50 MiB.
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the slow reader is still open after the write timeout (%d bytes read)", got)
	}
	if got >= n*bigSize {
		t.Fatalf("read %d bytes: every response was sent after all", got)
	}
	t.Logf("slow reader: paused %d times, %d of %d requests handled, %d TCP buffer bytes held while stuck, reset by the write timeout (%d bytes then readable)",
		st.Paused, handled, n, held, got)
}

// A pipelining flood: 5,000 requests in one burst on one connection whose
// client reads nothing until the server has stopped reading (Paused) with
// bounded buffers; then every response arrives, in order.
func TestPipeliningFlood(t *testing.T) { backends(t, testPipeliningFlood) }

func testPipeliningFlood(t *testing.T, d shardnet.Driver) {
	s := start(t, d, http.Config{})
	c := s.dial(t)
	if tc, ok := c.(*net.TCPConn); ok && d != shardnet.DriverKernel {
		// Or the kernel's buffers swallow all 5,000 answers. Not over
		// loopback: its 64 KiB MSS is more than such a window ever opens
		// by, so the receiver would not announce it and the sender falls
		// back on zero-window probes, seconds apart.
		tc.SetReadBuffer(4096)
	}
	const n = 5000
	var req bytes.Buffer
	for i := range n {
		fmt.Fprintf(&req, "GET /n%d.txt HTTP/1.1\r\nHost: x\r\n\r\n", i%numSmall)
	}
	werr := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_, err := c.Write(req.Bytes())
		werr <- err
	}()
	waitFor(t, "the server to stop reading the flood", 5*time.Second, func() bool { return s.stats(t).Paused > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	smp, err := s.st.Samples(ctx)
	must(t, err)
	if d != shardnet.DriverKernel {
		// (The kernel's socket buffers autotune to megabytes over
		// loopback and take every answer: Paused says the server
		// stopped, but only after the last request.)
		if got := smp[0].HTTP.Requests; got >= n {
			t.Fatalf("%d requests handled before the client read a byte, want the server to stop", got)
		}
		if held := smp[0].TCP.BufBytes; held > 512<<10 { // one send and one receive buffer
			t.Fatalf("the flood holds %d buffer bytes, want ≤ 512 KiB", held)
		}
	}
	// Another client is served while the flood waits.
	stop := make(chan struct{})
	ok, legitDone := s.legit(t, stop)
	waitFor(t, "the legit client's answers", 5*time.Second, func() bool { return ok.Load() >= 50 })
	r := bufio.NewReaderSize(c, 64<<10)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := range n {
		status, body, err := readResponse(r)
		if want := smallBody(i % numSmall); err != nil || status != 200 || body != want {
			t.Fatalf("response %d: %d %q %v, want 200 %q; server %+v", i, status, body, err, want, s.stats(t))
		}
	}
	must(t, <-werr)
	close(stop)
	must(t, <-legitDone)
	st := s.stats(t)
	if want := n + uint64(ok.Load()); st.Requests != want || st.Status[2] != want {
		t.Fatalf("Requests %d, 2xx %d, want %d (%d flood + %d legit)", st.Requests, st.Status[2], want, n, ok.Load())
	}
	t.Logf("pipelining flood: %d responses in order; %d handled and %d TCP buffer bytes held while the client did not read; at most %d per batch, paused %d times; legit client got %d responses",
		n, smp[0].HTTP.Requests, smp[0].TCP.BufBytes, st.PipelinedMax, st.Paused, ok.Load())
}

// Files above the cache threshold are read off the shard (http:
// Config.FileInbox, set by HandleHTTP): concurrent clients fetching one,
// whole and in ranges, get exact bodies, and the reads were counted.
func TestLargeFile(t *testing.T) { backends(t, testLargeFile) }

func testLargeFile(t *testing.T, d shardnet.Driver) {
	s := start(t, d, http.Config{})
	const clients, rounds = 8, 3
	errs := make(chan error, clients)
	for i := range clients {
		c := s.dial(t)
		go func() {
			r := bufio.NewReaderSize(c, 64<<10)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			for k := range rounds {
				lo := (i*rounds + k) * 100_003 % (hugeSize / 2)
				hi := lo + hugeSize/3
				fmt.Fprintf(c, "GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /huge.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-%d\r\n\r\n", lo, hi-1)
				status, body, err := readResponse(r)
				if err != nil || status != 200 || body != string(s.huge) {
					errs <- fmt.Errorf("client %d: whole file: %d, %d bytes, %v", i, status, len(body), err)
					return
				}
				status, body, err = readResponse(r)
				if err != nil || status != 206 || body != string(s.huge[lo:hi]) {
					errs <- fmt.Errorf("client %d: range %d-%d: %d, %d bytes, %v", i, lo, hi-1, status, len(body), err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		must(t, <-errs)
	}
	st := s.stats(t)
	// Each whole file takes ceil(hugeSize / 64 KiB) chunks, each range at least a third of that.
	if min := uint64(clients * rounds * (hugeSize >> 16)); st.FileReads < min || st.FileErrors != 0 {
		t.Fatalf("FileReads %d (want ≥ %d), FileErrors %d", st.FileReads, min, st.FileErrors)
	}
	t.Logf("large file: %d clients × %d rounds of %d bytes + a range, exact; %d chunks read off the shard, %d waits for a buffer",
		clients, rounds, hugeSize, st.FileReads, st.FileReadWaits)
}

// Oversize, smuggling and malformed requests get their status, are
// counted under their reason, and the connection is closed; traversal
// never reaches a file outside the root.
func TestBadRequests(t *testing.T) { backends(t, testBadRequests) }

func testBadRequests(t *testing.T, d shardnet.Driver) {
	s := start(t, d, http.Config{})
	stop := make(chan struct{})
	ok, legitDone := s.legit(t, stop)
	cases := []struct {
		name   string
		req    string
		status int
		reason http.ParseError // counted under this reason (ErrNone: not a parse error)
	}{
		{"header section too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 9<<10) + "\r\n\r\n", 431, http.ErrHeaderTooLarge},
		{"request-target too long", "GET /" + strings.Repeat("a", 5<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, http.ErrURITooLong},
		{"body too large", "POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", 413, http.ErrBodyTooLarge},
		{"CL and TE (smuggling)", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, http.ErrCLAndTE},
		{"CL 0 and TE with a smuggled request", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /n2.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, http.ErrCLAndTE},
		{"TE and CL with a smuggled request", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n0\r\n\r\nGET /n2.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400, http.ErrCLAndTE},
		{"TE hidden by a tab", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n", 400, http.ErrCLAndTE},
		{"two Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400, http.ErrDupContentLength},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400, http.ErrBadChunk},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\n", 413, http.ErrBodyTooLarge},
		{"unknown transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, http.ErrTEUnsupported},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, http.ErrObsFold},
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400, http.ErrBareLF},
		{"HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, http.ErrVersion},
		{"garbage version", "GET / HTTQ/1.1\r\nHost: x\r\n\r\n", 400, http.ErrBadVersion},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, http.ErrHost},
		{"NUL escape", "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400, http.ErrBadPath},
		{"chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, http.ErrTEBad},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, http.ErrTEBad},
		{"signed Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd", 400, http.ErrContentLength},
		{"Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 5\r\n\r\nabcde", 400, http.ErrContentLength},
		{"space before colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, http.ErrSpaceBeforeColon},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, http.ErrHost},
		{"CR in a field value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, http.ErrBadFieldValue},
		{"chunk without its CRLF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400, http.ErrBadChunk},
		{"bare LF in a chunk line", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400, http.ErrBareLF},
		{"too many fields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: y\r\n", 200) + "\r\n", 431, http.ErrTooManyHeaders},
		{"absolute-form to another host", "GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, http.ErrBadTarget},
		{"bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, http.ErrBadMethod},
		{"raw NUL in the target", "GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400, http.ErrBadTarget},
		{"raw NUL in a field value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400, http.ErrBadFieldValue},
		{"two spaces in the request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, http.ErrBadRequestLine},
		{"field name with a separator", "GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n", 400, http.ErrBadFieldName},
		{"empty field name", "GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n", 400, http.ErrBadFieldName},
		{"negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, http.ErrContentLength},
		{"Content-Length overflow", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413, http.ErrBodyTooLarge},
		{"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", 400, http.ErrTEBad},
		{"chunked not last", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 501, http.ErrTEUnsupported},
		{"chunked body over the limit", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 413, http.ErrBodyTooLarge},
		{"trailer section too large", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + strings.Repeat("a", 9<<10) + "\r\n\r\n", 431, http.ErrTrailerTooLarge},
		{"unknown expectation", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\na", 417, http.ErrExpectation},
		{"HTTP/0.9 request line", "GET /\r\n\r\n", 400, http.ErrBadRequestLine},
		{"Host with a path", "GET / HTTP/1.1\r\nHost: x/y\r\n\r\n", 400, http.ErrHost},
		{"bad percent escape", "GET /a%zzb HTTP/1.1\r\nHost: x\r\n\r\n", 400, http.ErrBadPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			all := s.stats(t).ParseErrors
			before := all[tc.reason]
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.req) // the server may close before reading all of it
			r := bufio.NewReader(c)
			status, _, err := readResponse(r)
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, err, tc.status)
			}
			// Then the end, and nothing else: no answer to whatever
			// followed the rejected request (a smuggled one).
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			rest, err := io.ReadAll(r)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection left open after a rejected request")
			}
			if len(rest) > 0 {
				t.Fatalf("more after the rejection: %.120q", rest)
			}
			if now := s.stats(t).ParseErrors; now[tc.reason] != before+1 {
				var moved []string
				for e := range now {
					if now[e] != all[e] {
						moved = append(moved, http.ParseError(e).String())
					}
				}
				t.Fatalf("ParseErrors[%s] %d → %d, want +1; moved: %v", tc.reason, before, now[tc.reason], moved)
			}
		})
	}
	traversal := []string{
		"/../secret.txt", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
		"/%252e%252e/%252e%252e/etc/passwd", "/..\\..\\etc\\passwd", "/link.txt", "/./../secret.txt", "//etc/passwd",
		"/..%5c..%5cetc%5cpasswd", "/.%2e/secret.txt", "/%c0%ae%c0%ae/etc/passwd", "/n1.txt/../../secret.txt", "/link.txt%00.html",
	}
	for _, path := range traversal {
		t.Run("traversal "+path, func(t *testing.T) {
			before := s.stats(t).Status[4]
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
			b, _ := io.ReadAll(c)
			if bytes.HasPrefix(b, []byte("HTTP/1.1 200")) || bytes.Contains(b, []byte("root:")) {
				t.Fatalf("%s escaped the root: %.200q", path, b)
			}
			if !bytes.HasPrefix(b, []byte("HTTP/1.1 4")) {
				t.Fatalf("%s: want a 4xx, got %.80q", path, b)
			}
			if after := s.stats(t).Status[4]; after != before+1 {
				t.Fatalf("4xx responses %d → %d, want +1", before, after)
			}
		})
	}
	close(stop)
	must(t, <-legitDone)
	if ok.Load() == 0 {
		t.Fatal("the legit client got no answer during the attack")
	}
	// The server is still up and serving after all of it.
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	status, body, err := readResponse(bufio.NewReader(c))
	if err != nil || status != 200 || body != string(s.big) {
		t.Fatalf("after the bad requests: status %d, %d bytes, %v", status, len(body), err)
	}
}
