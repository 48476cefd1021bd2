package metrics

import (
	"context"
	"errors"
	"io"
	"mime"
	nethttp "net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// growingGather returns a gather function whose counters grow with every
// call, as a live shard's would, and which fails while *fail is set.
func growingGather(calls *atomic.Int64, fail *atomic.Bool) func(ctx context.Context) ([]Sample, error) {
	return func(ctx context.Context) ([]Sample, error) {
		if fail.Load() {
			return nil, errors.New("shard 1 did not answer")
		}
		n := uint64(calls.Add(1))
		s := testSamples()
		s[0].Queue.RxPackets = 100 * n
		s[0].HTTP.Status[2] = 10 * n
		s[1].TCP.Retransmits = n
		return s, nil
	}
}

func get(t *testing.T, c *nethttp.Client, url string) (*nethttp.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, body
}

func TestAdmin(t *testing.T) {
	var calls atomic.Int64
	var fail atomic.Bool
	a, err := NewAdmin("127.0.0.1:0", growingGather(&calls, &fail), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	tr := &nethttp.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &nethttp.Client{Transport: tr, Timeout: 10 * time.Second}
	base := "http://" + a.Addr().String()

	scrape := func() series {
		t.Helper()
		resp, body := get(t, c, base+"/metrics")
		if resp.StatusCode != 200 {
			t.Fatalf("/metrics: %s: %s", resp.Status, body)
		}
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if err != nil || mt != "text/plain" || params["version"] != "0.0.4" {
			t.Errorf("/metrics Content-Type %q, want text/plain; version=0.0.4", resp.Header.Get("Content-Type"))
		}
		checkStrict(t, body)
		return parseExpfmt(t, body)
	}
	s1 := scrape()
	s2 := scrape()
	if n := calls.Load(); n != 2 {
		t.Errorf("gather called %d times for 2 scrapes", n)
	}
	for _, c := range []struct {
		key    string
		w1, w2 float64
	}{
		{key: `shardnet_rx_packets_total{shard="0"}`, w1: 100, w2: 200},
		{key: `shardnet_http_responses_total{class="2xx",shard="0"}`, w1: 10, w2: 20},
		{key: `shardnet_tcp_retransmits_total{shard="1"}`, w1: 1, w2: 2},
	} {
		v1, v2 := s1.get(t, c.key), s2.get(t, c.key)
		if v1 != c.w1 || v2 != c.w2 {
			t.Errorf("%s: scrapes read %v then %v, want %v then %v", c.key, v1, v2, c.w1, c.w2)
		}
	}
	// Values that do not move stay put.
	if v1, v2 := s1.get(t, `shardnet_kernel_accepted_total{shard="2"}`), s2.get(t, `shardnet_kernel_accepted_total{shard="2"}`); v1 != 9 || v2 != 9 {
		t.Errorf("kernel accepted: %v then %v, want 9 both times", v1, v2)
	}

	// HEAD: headers only; other methods refused.
	if resp, err := c.Head(base + "/metrics"); err != nil || resp.StatusCode != 200 || resp.ContentLength <= 0 {
		t.Errorf("HEAD /metrics: %v %v", resp, err)
	}
	if resp, err := c.Post(base+"/metrics", "text/plain", strings.NewReader("x")); err != nil {
		t.Error(err)
	} else if resp.Body.Close(); resp.StatusCode != nethttp.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %s, want 405", resp.Status)
	}

	// A failed gather is a 503 that says why, and the next scrape works.
	fail.Store(true)
	resp, body := get(t, c, base+"/metrics")
	if resp.StatusCode != nethttp.StatusServiceUnavailable || !strings.Contains(string(body), "shard 1 did not answer") {
		t.Errorf("/metrics with a failing gather: %s %q, want 503 with the reason", resp.Status, body)
	}
	fail.Store(false)
	// Good gathers so far: two scrapes and the HEAD; this is the fourth.
	if v := scrape().get(t, `shardnet_rx_packets_total{shard="0"}`); v != 400 || calls.Load() != 4 {
		t.Errorf("fourth good gather read %v (calls %d), want 400 (4)", v, calls.Load())
	}

	// pprof on the admin mux.
	resp, body = get(t, c, base+"/debug/pprof/")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine") || !strings.Contains(string(body), "heap") {
		t.Errorf("/debug/pprof/: %s, body without the profile list:\n%.300s", resp.Status, body)
	}
	resp, body = get(t, c, base+"/debug/pprof/goroutine?debug=1")
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "goroutine profile: total ") {
		t.Errorf("/debug/pprof/goroutine?debug=1: %s %.200q", resp.Status, body)
	}
	// The admin server's own goroutine is in the dump.
	if !strings.Contains(string(body), "net/http.(*Server).Serve") {
		t.Errorf("goroutine dump lacks the admin server's Serve goroutine")
	}
	resp, _ = get(t, c, base+"/nothing-here")
	if resp.StatusCode != nethttp.StatusNotFound {
		t.Errorf("/nothing-here: %s, want 404", resp.Status)
	}

	// Close ends the listener; a second Close is harmless.
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	tr.CloseIdleConnections()
	if resp, err := c.Get(base + "/metrics"); err == nil {
		resp.Body.Close()
		t.Errorf("GET after Close answered %s", resp.Status)
	}
}

func TestAdminScrapeTimeout(t *testing.T) {
	// A gather that never returns until its context ends: the scrape
	// ends with the client's request, not never.
	started := make(chan struct{}, 1)
	gather := func(ctx context.Context) ([]Sample, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	a, err := NewAdmin("127.0.0.1:0", gather, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := nethttp.NewRequestWithContext(ctx, "GET", "http://"+a.Addr().String()+"/metrics", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := nethttp.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("gather was not called")
	}
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("cancelled scrape returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled scrape did not end")
	}
	// The handler's gather saw the cancellation and let go of the
	// token: Close does not hang, and a new scrape gets to gather.
	go func() {
		resp, err := nethttp.Get("http://" + a.Addr().String() + "/metrics")
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the next scrape never reached gather")
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestNewAdminErrors(t *testing.T) {
	if _, err := NewAdmin("127.0.0.1:0", nil, nil); err == nil {
		t.Error("NewAdmin without gather succeeded")
	}
	a, err := NewAdmin("127.0.0.1:0", func(context.Context) ([]Sample, error) { return nil, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := NewAdmin(a.Addr().String(), func(context.Context) ([]Sample, error) { return nil, nil }, nil); err == nil {
		t.Errorf("a second admin listener on %s succeeded", a.Addr())
	}
}
