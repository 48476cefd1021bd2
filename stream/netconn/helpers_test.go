package netconn_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	shardnet "github.com/shardnet/shardnet"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/stream/netconn"
)

// env is a running shardnet Stack with one shard, and how a client
// reaches it: from a namespace over TAP, or over loopback on the kernel
// backend.
type env struct {
	st   *shardnet.Stack
	ns   *nstest.NS // nil: the test's own namespace (kernel backend)
	addr netip.Addr // the stack's address
	port uint16     // next port to listen on (TAP)
}

// tapEnv starts one shard of shardnet's TCP on a TAP device whose host
// side is in a new namespace.
func tapEnv(t testing.TB) *env {
	t.Helper()
	nstest.RequireRoot(t)
	ns := nstest.New(t, "shn-nc")
	subnet := 1 + rand.IntN(250)
	addr := netip.MustParseAddr(fmt.Sprintf("198.18.%d.2", subnet))
	st, err := shardnet.New(shardnet.Config{
		Iface:    fmt.Sprintf("snc%x", rand.Uint32()),
		Addr:     netip.PrefixFrom(addr, 24),
		HostAddr: netip.MustParsePrefix(fmt.Sprintf("198.18.%d.1/24", subnet)),
		Shards:   1,
		Frames:   4096,
		NetNS:    ns.Handle,
		Logger:   zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return startEnv(t, &env{st: st, ns: ns, addr: addr, port: 8000})
}

// kernelEnv starts one shard of the kernel backend on 127.0.0.1 (no root
// needed).
func kernelEnv(t testing.TB) *env { return kernelEnvN(t, 1) }

// kernelEnvN is kernelEnv with n shards.
func kernelEnvN(t testing.TB, n int) *env {
	t.Helper()
	st, err := shardnet.New(shardnet.Config{Driver: shardnet.DriverKernel, Shards: n, Logger: zaptest.NewLogger(t)},
		shardnet.WithAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	return startEnv(t, &env{st: st, addr: netip.MustParseAddr("127.0.0.1")})
}

func startEnv(t testing.TB, e *env) *env {
	t.Helper()
	if err := e.st.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.st.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e
}

// freshPort returns a port nothing listens on yet.
func (e *env) freshPort(t testing.TB) uint16 {
	if e.ns != nil {
		e.port++
		return e.port
	}
	return freePort(t)
}

// listen makes a Listener on a new port and attaches it to the shard.
func (e *env) listen(t testing.TB, cfg netconn.Config) *netconn.Listener {
	t.Helper()
	ln := netconn.NewListener(e.freshPort(t), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.st.Do(ctx, ln.Attach); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func freePort(t testing.TB) uint16 {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// dial opens a kernel TCP connection to the Listener's port, from the
// client namespace if there is one.
func (e *env) dial(ctx context.Context, port int) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	target := netip.AddrPortFrom(e.addr, uint16(port)).String()
	var c net.Conn
	var err error
	if e.ns == nil {
		c, err = d.DialContext(ctx, "tcp4", target)
	} else {
		err = e.ns.Do(func() error {
			var err error
			c, err = d.DialContext(ctx, "tcp4", target)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

func (e *env) mustDial(t testing.TB, ln *netconn.Listener) *net.TCPConn {
	t.Helper()
	c, err := e.dial(context.Background(), ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// client is a net/http client whose connections are made like dial's.
func (e *env) client(maxIdle int) *nethttp.Client {
	return &nethttp.Client{
		Timeout: 30 * time.Second,
		Transport: &nethttp.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				ap, err := netip.ParseAddrPort(addr)
				if err != nil {
					return nil, err
				}
				return e.dial(ctx, int(ap.Port()))
			},
			MaxIdleConnsPerHost: maxIdle,
			DisableCompression:  true,
		},
	}
}

// serveHTTP runs net/http's Server on ln until the test ends and returns
// the base URL.
func serveHTTP(t testing.TB, ln *netconn.Listener, h nethttp.Handler) string {
	t.Helper()
	srv := &nethttp.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-done:
			if err != nethttp.ErrServerClosed {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return "http://" + ln.Addr().String()
}

// pattern writes n deterministic pseudo-random bytes derived from seed.
func pattern(w io.Writer, seed uint64, n int) error {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var b [32 << 10]byte
	for n > 0 {
		k := min(n, len(b))
		for i := 0; i < k; i += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && i+j < k; j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := w.Write(b[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func patternSum(seed uint64, n int) string {
	h := sha256.New()
	pattern(h, seed, n)
	return hex.EncodeToString(h.Sum(nil))
}

// testMux is the handler set of the HTTP tests.
func testMux() *nethttp.ServeMux {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("GET /hello", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("i"))
	})
	// POST /upload: the body's length and sha256.
	mux.HandleFunc("POST /upload", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			nethttp.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
	})
	// GET /download?n=N&seed=S: N pattern bytes.
	mux.HandleFunc("GET /download", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		seed, _ := strconv.ParseUint(r.URL.Query().Get("seed"), 10, 64)
		w.Header().Set("Content-Length", strconv.Itoa(n))
		pattern(w, seed, n)
	})
	return mux
}
