package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/shard"
)

// TestHTTPDStopOnSIGTERM runs the httpd binary over TAP with an admin
// listener, checks /metrics and /debug/pprof/, then sends SIGTERM while
// clients loop GET /plaintext and a 256 KiB file: httpd must drain and
// exit with status 0, every response a client received whole must be
// right, the 2xx count in its report must equal what the clients
// received, and the TAP device must be gone.
func TestHTTPDStopOnSIGTERM(t *testing.T) {
	nstest.RequireRoot(t)
	bin := nstest.Build(t, ".")
	blob, err := os.ReadFile("www/data/256k.bin")
	if err != nil {
		t.Fatal(err)
	}
	shards := 1
	if cpus, _ := shard.AllowedCPUs(); len(cpus) >= 2 {
		shards = 2
	}
	ns := nstest.New(t, "shn-hstop")
	subnet := 1 + rand.IntN(250)
	ip := fmt.Sprintf("198.18.%d.2", subnet)
	iface := fmt.Sprintf("shn%x", rand.Uint32())
	const admin = "127.0.0.1:9090" // the namespace's own loopback: free
	p := ns.Start(t, 120*time.Second, "try: curl http://"+ip+":8080/", bin,
		"-driver", "tap", "-iface", iface, "-addr", ip+"/24", "-host-addr", fmt.Sprintf("198.18.%d.1/24", subnet),
		"-port", "8080", "-root", "www", "-shards", fmt.Sprint(shards), "-admin", admin, "-drain-timeout", "15s")

	client := func() *nethttp.Client {
		d := net.Dialer{Timeout: 5 * time.Second}
		return &nethttp.Client{Timeout: 20 * time.Second, Transport: &nethttp.Transport{
			MaxIdleConnsPerHost: 1,
			DisableCompression:  true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := ns.Do(func() error {
					var err error
					c, err = d.DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
		}}
	}
	get := func(cl *nethttp.Client, url string) (int, []byte, error) {
		resp, err := cl.Get(url)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	requests := func(cl *nethttp.Client) uint64 {
		t.Helper()
		code, b, err := get(cl, "http://"+admin+"/metrics")
		if err != nil || code != 200 {
			t.Fatalf("GET /metrics: %d %v", code, err)
		}
		var sum uint64
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "shardnet_http_requests_total{") {
				v, err := strconv.ParseUint(l[strings.LastIndexByte(l, ' ')+1:], 10, 64)
				if err != nil {
					t.Fatalf("/metrics line %q: %v", l, err)
				}
				sum += v
				n++
			}
		}
		if n != shards {
			t.Fatalf("/metrics has %d shardnet_http_requests_total series, want one per shard (%d)", n, shards)
		}
		return sum
	}

	cl := client()
	before := requests(cl)
	const warm = 5
	for i := 0; i < warm; i++ {
		if code, b, err := get(cl, "http://"+ip+":8080/plaintext"); err != nil || code != 200 || string(b) != "Hello, World!" {
			t.Fatalf("/plaintext: %d %q %v", code, b, err)
		}
	}
	if after := requests(cl); after != before+warm {
		t.Fatalf("shardnet_http_requests_total went from %d to %d after %d requests", before, after, warm)
	}
	if code, _, err := get(cl, "http://"+admin+"/debug/pprof/"); err != nil || code != 200 {
		t.Fatalf("GET /debug/pprof/: %d %v", code, err)
	}
	cl.CloseIdleConnections()

	// Load, then SIGTERM in the middle of it.
	var complete, bad atomic.Uint64
	complete.Store(warm)
	var stopping atomic.Bool
	var mu sync.Mutex
	var early []error
	var wg sync.WaitGroup
	deadline := time.Now().Add(40 * time.Second)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client()
			defer cl.CloseIdleConnections()
			for k := i; time.Now().Before(deadline); k++ {
				path, want := "/plaintext", []byte("Hello, World!")
				if k%4 == 0 {
					path, want = "/data/256k.bin", blob
				}
				code, b, err := get(cl, "http://"+ip+":8080"+path)
				if err != nil {
					if !stopping.Load() {
						mu.Lock()
						early = append(early, err)
						mu.Unlock()
					}
					return
				}
				if code != 200 || !bytes.Equal(b, want) {
					bad.Add(1)
					continue
				}
				complete.Add(1)
			}
		}()
	}
	for time.Now().Before(deadline) && complete.Load() < warm+200 {
		time.Sleep(5 * time.Millisecond) // polling a counter with a deadline
	}
	stopping.Store(true)
	report := p.Signal(syscall.SIGTERM) // fails the test unless httpd exits with status 0
	wg.Wait()
	for _, err := range early {
		t.Errorf("client failed before SIGTERM: %v", err)
	}
	if n := bad.Load(); n != 0 {
		t.Errorf("%d complete responses with a wrong status or body", n)
	}
	var served uint64
	m := regexp.MustCompile(`(?m)^shard \d+ http: .* 2xx (\d+) `).FindAllStringSubmatch(report, -1)
	if len(m) != shards {
		t.Fatalf("want one http line per shard in the report:\n%s", report)
	}
	for _, x := range m {
		n, _ := strconv.ParseUint(x[1], 10, 64)
		served += n
	}
	if got := complete.Load(); served != got {
		t.Errorf("httpd sent %d 2xx responses, clients received %d complete\nreport:\n%s", served, got, report)
	}
	if strings.Count(report, "in-use 0") != shards {
		t.Errorf("unclean exit report (leaked buffers?):\n%s", report)
	}
	if out, err := ns.Run(10*time.Second, "ip", "link", "show", iface); err == nil {
		t.Errorf("TAP device %s still there after httpd exited:\n%s", iface, out)
	}
	if !strings.Contains(p.Stderr(), "drained") {
		t.Errorf("no drain in the log:\n%s", p.Stderr())
	}
	t.Logf("%d responses before SIGTERM was sent, %d served in all", warm+200, served)
}
