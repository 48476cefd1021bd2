package netconn_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"

	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream/netconn"
)

// TestHTTPOverTAP: net/http.Serve on a netconn Listener over shardnet's
// TCP, one shard on TAP; Go's http.Client in the namespace.
func TestHTTPOverTAP(t *testing.T) {
	e := tapEnv(t)
	ln := e.listen(t, netconn.Config{})
	url := serveHTTP(t, ln, testMux())
	t.Run("keepalive", func(t *testing.T) { testKeepAlive(t, e, url) })
	t.Run("upload8M", func(t *testing.T) { testUpload(t, e, url, 8<<20) })
	t.Run("download8M", func(t *testing.T) { testDownload(t, e, url, 8<<20) })
	t.Run("concurrent32", func(t *testing.T) { testConcurrent(t, e, url, 32, 25) })
	if st := ln.Stats(); st.Accepted == 0 || st.Overflow != 0 || st.Refused != 0 {
		t.Errorf("listener stats %+v: want accepted > 0 and nothing dropped", st)
	}
}

// TestHTTPOverKernel: the same Listener on the kernel backend (kstack).
func TestHTTPOverKernel(t *testing.T) {
	e := kernelEnv(t)
	ln := e.listen(t, netconn.Config{})
	url := serveHTTP(t, ln, testMux())
	t.Run("keepalive", func(t *testing.T) { testKeepAlive(t, e, url) })
	t.Run("upload8M", func(t *testing.T) { testUpload(t, e, url, 8<<20) })
	t.Run("download8M", func(t *testing.T) { testDownload(t, e, url, 8<<20) })
	t.Run("concurrent32", func(t *testing.T) { testConcurrent(t, e, url, 32, 10) })
}

// TestHTTPTwoShardsKernel: one Listener attached to two shards (the
// kernel spreads connections over both with SO_REUSEPORT); each Conn
// posts to its own shard.
func TestHTTPTwoShardsKernel(t *testing.T) {
	if cpus, _ := shard.AllowedCPUs(); len(cpus) < 2 {
		t.Skip("needs 2 CPUs")
	}
	e := kernelEnvN(t, 2)
	ln := e.listen(t, netconn.Config{})
	url := serveHTTP(t, ln, testMux())
	testConcurrent(t, e, url, 32, 10)
	testUpload(t, e, url, 1<<20)
	if st := ln.Stats(); st.Accepted < 33 {
		t.Fatalf("stats %+v: want at least 33 connections accepted", st)
	}
	samples, err := e.st.Samples(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		if s.Kernel.Accepted == 0 {
			t.Fatalf("shard %d accepted no connection: the test did not use both shards", s.Shard)
		}
	}
}

func get(t *testing.T, c *nethttp.Client, req *nethttp.Request) string {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading body: %v", req.URL, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s %q", req.URL, resp.Status, body)
	}
	return string(body)
}

// testKeepAlive: ten requests in sequence travel on one connection.
func testKeepAlive(t *testing.T, e *env, url string) {
	c := e.client(1)
	defer c.CloseIdleConnections()
	reused := 0
	for i := 0; i < 10; i++ {
		var got bool
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { got = info.Reused }}
		req, _ := nethttp.NewRequest("GET", fmt.Sprintf("%s/hello?i=%d", url, i), nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		if body := get(t, c, req); body != fmt.Sprintf("hello %d", i) {
			t.Fatalf("request %d: body %q", i, body)
		}
		if got {
			reused++
		}
	}
	if reused != 9 {
		t.Fatalf("%d of 9 follow-up requests reused the connection", reused)
	}
}

func testUpload(t *testing.T, e *env, url string, n int) {
	c := e.client(1)
	defer c.CloseIdleConnections()
	var body bytes.Buffer
	pattern(&body, 7, n)
	sum := sha256.Sum256(body.Bytes())
	req, _ := nethttp.NewRequest("POST", url+"/upload", &body)
	want := fmt.Sprintf("%d %s", n, hex.EncodeToString(sum[:]))
	if got := get(t, c, req); got != want {
		t.Fatalf("upload of %d bytes: server saw %q, want %q", n, got, want)
	}
}

func testDownload(t *testing.T, e *env, url string, n int) {
	c := e.client(1)
	defer c.CloseIdleConnections()
	resp, err := c.Get(fmt.Sprintf("%s/download?n=%d&seed=11", url, n))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	k, err := io.Copy(h, resp.Body)
	if err != nil || k != int64(n) {
		t.Fatalf("download: %d bytes, %v; want %d", k, err, n)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), patternSum(11, n); got != want {
		t.Fatalf("download sha256 %s, want %s", got, want)
	}
}

// testConcurrent: clients goroutines, each with its own connection, make
// reqs requests each; every answer must be the right one.
func testConcurrent(t *testing.T, e *env, url string, clients, reqs int) {
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.client(1)
			defer c.CloseIdleConnections()
			for i := 0; i < reqs; i++ {
				q := fmt.Sprintf("%d-%d", g, i)
				resp, err := c.Get(url + "/hello?i=" + q)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(b) != "hello "+q {
					errs <- fmt.Errorf("client %d request %d: %d %q %v", g, i, resp.StatusCode, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	var msgs []string
	for err := range errs {
		msgs = append(msgs, err.Error())
	}
	if len(msgs) > 0 {
		t.Fatalf("%d of %d clients failed:\n%s", len(msgs), clients, strings.Join(msgs, "\n"))
	}
}
