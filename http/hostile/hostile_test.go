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

// server is httpd's router on one shardnet shard over a TAP device in a
// namespace, with short timeouts, and a raw-socket client side.
type server struct {
	st   *shardnet.Stack
	ns   *nstest.NS
	addr string // host:port
	big  []byte // /big.bin
}

const bigSize = 256 << 10

func start(t *testing.T, hcfg http.Config) *server {
	t.Helper()
	nstest.RequireRoot(t)
	ns := nstest.New(t, "shn-hhttp")
	root := t.TempDir()
	big := make([]byte, bigSize)
	for i := range big {
		big[i] = byte(i * 7)
	}
	must(t, os.WriteFile(filepath.Join(root, "big.bin"), big, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "index.html"), []byte("<p>index</p>\n"), 0o644))
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

	subnet := 1 + rand.IntN(250)
	st, err := shardnet.New(shardnet.Config{
		Iface:    fmt.Sprintf("shh%x", rand.Uint32()),
		Addr:     netip.MustParsePrefix(fmt.Sprintf("198.18.%d.2/24", subnet)),
		HostAddr: netip.MustParsePrefix(fmt.Sprintf("198.18.%d.1/24", subnet)),
		Shards:   1,
		Frames:   4096,
		NetNS:    ns.Handle,
		Logger:   zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	must(t, st.HandleHTTP(80, hcfg))
	must(t, st.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st.Stop(ctx)
	})
	return &server{st: st, ns: ns, addr: fmt.Sprintf("198.18.%d.2:80", subnet), big: big}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dial opens a kernel TCP connection from the namespace.
func (s *server) dial(t *testing.T) net.Conn {
	t.Helper()
	var c net.Conn
	err := s.ns.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp4", s.addr, 5*time.Second)
		return err
	})
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

// Slowloris: 100 connections each dribble a request head one byte at a
// time; the header timeout closes every one, counted, while a legit
// client keeps getting answers.
func TestSlowloris(t *testing.T) {
	s := start(t, http.Config{HeaderTimeout: int64(400 * time.Millisecond)})
	stop := make(chan struct{})
	ok, legitDone := s.legit(t, stop)
	const n = 100
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

// A slow reader asks for a large file many times and never reads: the
// server stops reading its requests (Paused), holds a bounded amount for
// it, and the write timeout closes it; other clients are unaffected.
func TestSlowReader(t *testing.T) {
	s := start(t, http.Config{IdleTimeout: int64(time.Second)})
	c := s.dial(t)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096) // keep the kernel's own buffering small
	}
	reqs := strings.Repeat("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 200) // 50 MiB of responses asked for
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
	if held := smp[0].TCP.BufBytes; held > 1<<20 {
		t.Fatalf("the shard holds %d buffer bytes for one slow reader, want ≤ 1 MiB", held)
	}
	stop := make(chan struct{})
	ok, legitDone := s.legit(t, stop)
	waitFor(t, "the legit client's answers", 5*time.Second, func() bool { return ok.Load() >= 50 })
	close(stop)
	must(t, <-legitDone)
	if !closedByServer(c, 10*time.Second) {
		t.Fatal("the slow reader was never closed")
	}
	st := s.stats(t)
	if st.WriteTimeouts+st.IdleTimeouts == 0 {
		t.Fatalf("no write/idle timeout counted: %+v", st)
	}
	t.Logf("slow reader: paused %d times, %d buffer bytes held while stuck, closed by timeout (write %d, idle %d)", st.Paused, smp[0].TCP.BufBytes, st.WriteTimeouts, st.IdleTimeouts)
}

// A pipelining flood: 5,000 requests in one burst on one connection. The
// server answers every one, in order, while bounding what it queues.
func TestPipeliningFlood(t *testing.T) {
	s := start(t, http.Config{})
	c := s.dial(t)
	const n = 5000
	var req bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&req, "GET /plaintext?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	werr := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_, err := c.Write(req.Bytes())
		werr <- err
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := 0; i < n; i++ {
		status, body, err := readResponse(r)
		if err != nil || status != 200 || body != "Hello, World!" {
			t.Fatalf("response %d: %d %q %v", i, status, body, err)
		}
	}
	must(t, <-werr)
	st := s.stats(t)
	if st.Requests < n {
		t.Fatalf("Requests %d, want ≥ %d", st.Requests, n)
	}
	t.Logf("pipelining flood: %d responses in order, at most %d per batch, paused %d times", n, st.PipelinedMax, st.Paused)
}

// Oversize, smuggling and malformed requests get their status, are
// counted under their reason, and the connection is closed; traversal
// never reaches a file outside the root.
func TestBadRequests(t *testing.T) {
	s := start(t, http.Config{})
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.stats(t).ParseErrors[tc.reason]
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.req) // the server may close before reading all of it
			status, _, err := readResponse(bufio.NewReader(c))
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, err, tc.status)
			}
			if !closedByServer(c, 3*time.Second) {
				t.Fatal("connection left open after a rejected request")
			}
			if after := s.stats(t).ParseErrors[tc.reason]; after != before+1 {
				t.Fatalf("ParseErrors[%s] %d → %d, want +1", tc.reason, before, after)
			}
		})
	}
	traversal := []string{
		"/../secret.txt", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
		"/%252e%252e/%252e%252e/etc/passwd", "/..\\..\\etc\\passwd", "/link.txt", "/./../secret.txt", "//etc/passwd",
	}
	for _, path := range traversal {
		t.Run("traversal "+path, func(t *testing.T) {
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
		})
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
