package shardnet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap/zaptest"

	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/shard"
)

// bigBody is the larger response of the load tests: 256 KiB in a pattern
// that shows a missing or repeated segment.
var bigBody = func() []byte {
	b := make([]byte, 256<<10)
	for i := range b {
		b[i] = byte(i*7 + i>>10)
	}
	return b
}()

func testRouter() *http.Router {
	var r http.Router
	r.Handle("/plaintext", http.Plaintext)
	r.Handle("/big", func(c *http.Ctx) {
		c.SetContentType("application/octet-stream")
		c.SetBodyShared(bigBody)
	})
	return &r
}

// shardsForTest is 2 when the machine has 2 CPUs, else 1.
func shardsForTest() int {
	if cpus, _ := shard.AllowedCPUs(); len(cpus) >= 2 {
		return 2
	}
	return 1
}

// tapStack makes a namespace and a Stack whose TAP device is in it, with
// HTTP on port 80; the clients dial from the namespace.
func tapStack(t *testing.T, opts ...Option) (*Stack, *nstest.NS, string) {
	t.Helper()
	nstest.RequireRoot(t)
	ns := nstest.New(t, "shn-stop")
	subnet := 1 + rand.IntN(250)
	iface := fmt.Sprintf("shs%x", rand.Uint32())
	cfg := Config{
		Iface:    iface,
		Addr:     netip.MustParsePrefix(fmt.Sprintf("198.18.%d.2/24", subnet)),
		HostAddr: netip.MustParsePrefix(fmt.Sprintf("198.18.%d.1/24", subnet)),
		Shards:   shardsForTest(),
		Frames:   4096,
		NetNS:    ns.Handle,
		Logger:   zaptest.NewLogger(t),
	}
	st, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HandleHTTP(80, http.Config{Router: testRouter()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop(context.Background()) }) // a no-op once the test has stopped it
	return st, ns, fmt.Sprintf("http://198.18.%d.2", subnet)
}

// nsClient is an HTTP client whose connections are made in ns (nil: the
// test's own namespace).
func nsClient(ns *nstest.NS) *nethttp.Client {
	d := net.Dialer{Timeout: 5 * time.Second}
	dial := d.DialContext
	if ns != nil {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := ns.Do(func() error {
				var err error
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		}
	}
	return &nethttp.Client{
		Timeout:   20 * time.Second,
		Transport: &nethttp.Transport{DialContext: dial, MaxIdleConnsPerHost: 1, DisableCompression: true},
	}
}

// loadResult is what the clients of loadUntilStop saw.
type loadResult struct {
	complete atomic.Uint64 // responses received whole and correct
	bad      atomic.Uint64 // responses received whole and wrong
	mu       sync.Mutex
	errs     []error // failures before Stop began
}

// loadUntilStop runs clients goroutines that loop GET /plaintext and
// /big against url until Stop has begun and their next request fails,
// calls Stop(ctx) once at least minDone responses are in, and checks
// what a graceful drain promises. earlier is the number of 2xx responses
// the test received before.
func loadUntilStop(t *testing.T, st *Stack, ns *nstest.NS, url string, clients, minDone int, earlier uint64) *loadResult {
	t.Helper()
	var res loadResult
	res.complete.Store(earlier)
	var stopping atomic.Bool
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := nsClient(ns)
			defer cl.CloseIdleConnections()
			for k := i; time.Now().Before(deadline); k++ {
				path, want := "/plaintext", []byte("Hello, World!")
				if k%4 == 0 {
					path, want = "/big", bigBody
				}
				resp, err := cl.Get(url + path)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					if !stopping.Load() {
						res.mu.Lock()
						res.errs = append(res.errs, err)
						res.mu.Unlock()
					}
					return
				}
				if resp.StatusCode != 200 || !bytes.Equal(body, want) {
					res.bad.Add(1)
					continue
				}
				res.complete.Add(1)
			}
		}()
	}
	for time.Now().Before(deadline) && res.complete.Load() < earlier+uint64(minDone) {
		time.Sleep(5 * time.Millisecond) // polling a counter with a deadline
	}
	stopping.Store(true)
	atStop := res.complete.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	err := st.Stop(ctx)
	took := time.Since(t0)
	wg.Wait()
	if err != nil {
		t.Errorf("Stop under load: %v", err)
	}
	for _, e := range res.errs {
		t.Errorf("client failed before Stop: %v", e)
	}
	if atStop < earlier+uint64(minDone) {
		t.Fatalf("only %d responses before the deadline", atStop)
	}
	if n := res.bad.Load(); n != 0 {
		t.Errorf("%d complete responses with a wrong status or body", n)
	}
	samples, err := st.Samples(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ok2xx, requests uint64
	for _, s := range samples {
		ok2xx += s.HTTP.Status[2]
		requests += s.HTTP.Requests
		if s.HTTP.ConnsActive != 0 {
			t.Errorf("shard %d: %d HTTP connections still active after Stop", s.Shard, s.HTTP.ConnsActive)
		}
	}
	if got := res.complete.Load(); ok2xx != got {
		t.Errorf("server sent %d 2xx responses (%d requests), clients received %d complete: %d lost", ok2xx, requests, got, int64(ok2xx)-int64(got))
	}
	t.Logf("%d clients: %d responses before Stop, %d in all; Stop took %v", clients, atStop, res.complete.Load(), took)
	return &res
}

// TestStopDrainsTAP: Stop during load over TAP loses no response, returns
// nil, and removes the TAP device; the admin listener serves metrics that
// move and pprof while it runs.
func TestStopDrainsTAP(t *testing.T) {
	st, ns, url := tapStack(t, WithAdmin("127.0.0.1:0"))
	iface := st.Iface()
	if out, err := ns.Run(10*time.Second, "ip", "link", "show", iface); err != nil {
		t.Fatalf("TAP device %s not in the namespace: %v\n%s", iface, err, out)
	}

	// Admin: /metrics moves with requests; pprof answers.
	admin := "http://" + st.AdminAddr().String()
	before := scrapeRequests(t, admin)
	cl := nsClient(ns)
	for i := 0; i < 10; i++ {
		resp, err := cl.Get(url + "/plaintext")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cl.CloseIdleConnections()
	if after := scrapeRequests(t, admin); after < before+10 {
		t.Fatalf("shardnet_http_requests_total went from %d to %d after 10 requests", before, after)
	}
	resp, err := nethttp.Get(admin + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/debug/pprof/: %s", resp.Status)
	}

	loadUntilStop(t, st, ns, url, 8, 300, 10) // and the 10 above

	if out, err := ns.Run(10*time.Second, "ip", "link", "show", iface); err == nil {
		t.Errorf("TAP device %s still there after Stop:\n%s", iface, out)
	}
	if _, err := nethttp.Get(admin + "/metrics"); err == nil {
		t.Error("admin listener still answers after Stop")
	}
	for _, s := range mustSamples(t, st) {
		if s.SlabInUse != 0 {
			t.Errorf("shard %d: %d packet buffers held after Stop", s.Shard, s.SlabInUse)
		}
	}
}

// TestStopDrainsKernel is the same on the kernel backend, on loopback.
func TestStopDrainsKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	st, err := New(Config{Driver: DriverKernel, Shards: shardsForTest(), Logger: zaptest.NewLogger(t)}, WithAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HandleHTTP(uint16(port), http.Config{Router: testRouter()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop(context.Background()) })
	loadUntilStop(t, st, nil, fmt.Sprintf("http://127.0.0.1:%d", port), 8, 300, 0)
	if c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Error("port still accepts connections after Stop")
	}
}

// TestStopDeadline: a connection that never closes is aborted when ctx
// ends, and Stop says so with ctx's error.
func TestStopDeadline(t *testing.T) {
	st, ns, url := tapStack(t)
	host := strings.TrimPrefix(url, "http://")
	var c net.Conn
	if err := ns.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp4", host+":80", 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Half a request: the server waits for the rest, which never comes.
	if _, err := c.Write([]byte("GET /plaintext HTTP/1.1\r\nHo")); err != nil {
		t.Fatal(err)
	}
	// Wait until the server has the connection (a completed request on a
	// second one shows the shard is serving).
	cl := nsClient(ns)
	if resp, err := cl.Get(url + "/plaintext"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	cl.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := st.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with a connection that never finishes: %v, want %v", err, context.DeadlineExceeded)
	}
	// The connection was reset, not closed gracefully.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, rerr := c.Read(make([]byte, 1))
	if rerr == nil || errors.Is(rerr, io.EOF) || isTimeout(rerr) {
		t.Fatalf("read on the aborted connection: %v, want a reset", rerr)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestStopDetachesXDP: over AF_XDP on a veth pair, Stop under load loses
// no response and leaves the interface with no XDP program.
func TestStopDetachesXDP(t *testing.T) {
	nstest.RequireRoot(t, "ethtool")
	shards := shardsForTest()
	v := nstest.NewVeth(t, "shn-sx", shards)
	srv, cli, a, addr := v.Srv, v.Cli, v.Iface, v.Addr
	st, err := New(Config{Driver: DriverAFXDP, Iface: a, NetNS: srv.Handle, Shards: shards, Frames: 4096,
		Logger: zaptest.NewLogger(t)}, WithAddr(addr+"/24"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HandleHTTP(80, http.Config{Router: testRouter()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Start(); err != nil {
		if strings.Contains(err.Error(), "not supported") {
			t.Skipf("AF_XDP unavailable: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop(context.Background()) })
	nh, err := netlink.NewHandleAt(srv.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	xdp := func() *netlink.LinkXdp {
		l, err := nh.LinkByName(a)
		if err != nil {
			t.Fatal(err)
		}
		if x := l.Attrs().Xdp; x != nil && x.Attached {
			return x
		}
		return nil
	}
	if xdp() == nil {
		t.Fatal("no XDP program attached while running")
	}
	loadUntilStop(t, st, cli, "http://"+addr, 8, 200, 0)
	if x := xdp(); x != nil {
		t.Errorf("XDP program %d still attached after Stop", x.ProgId)
	}
	for _, s := range mustSamples(t, st) {
		if s.SlabInUse != 0 {
			t.Errorf("shard %d: %d packet buffers held after Stop", s.Shard, s.SlabInUse)
		}
	}
	if out := srv.MustRun(t, "ip", "-d", "link", "show", "dev", a); strings.Contains(out, "prog/xdp") {
		t.Errorf("ip -d link show still lists an XDP program:\n%s", out)
	}
}

// scrapeRequests reads /metrics and sums shardnet_http_requests_total.
func scrapeRequests(t *testing.T, admin string) uint64 {
	t.Helper()
	resp, err := nethttp.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	var sum uint64
	seen := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "shardnet_http_requests_total{") {
			continue
		}
		v, err := strconv.ParseUint(line[strings.LastIndexByte(line, ' ')+1:], 10, 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		sum += v
		seen = true
	}
	if !seen {
		t.Fatal("/metrics has no shardnet_http_requests_total series")
	}
	return sum
}

func mustSamples(t *testing.T, st *Stack) []Sample {
	t.Helper()
	s, err := st.Samples(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
