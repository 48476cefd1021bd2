package stdhttp_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	shardnet "github.com/shardnet/shardnet"
	shttp "github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/http/stdhttp"
	"github.com/shardnet/shardnet/internal/nstest"
)

// startServer runs shardnet's HTTP server with cfg on one shard of the
// kernel backend (loopback, no root needed) and returns its base URL.
func startServer(t testing.TB, cfg shttp.Config) string {
	t.Helper()
	st, err := shardnet.New(shardnet.Config{Driver: shardnet.DriverKernel, Shards: 1, Logger: zaptest.NewLogger(t)},
		shardnet.WithAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	if err := st.HandleHTTP(port, cfg); err != nil {
		t.Fatal(err)
	}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return "http://" + netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()
}

func testMux() *nethttp.ServeMux {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("GET /hello", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("name"))
	})
	mux.HandleFunc("/status/{code}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		var code int
		fmt.Sscan(r.PathValue("code"), &code)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(code)
		io.WriteString(w, "status body")
	})
	mux.HandleFunc("POST /echo", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			nethttp.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		fmt.Fprintf(w, "%d:%d:%s", r.ContentLength, len(b), b)
	})
	mux.HandleFunc("/query", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		q := r.URL.Query()
		fmt.Fprintf(w, "a=%v b=%q raw=%s", q["a"], q.Get("b"), r.URL.RawQuery)
	})
	mux.HandleFunc("/request/", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		fmt.Fprintf(w, "method=%s path=%q escaped=%s uri=%s proto=%s host=%s custom=%v remote-ok=%v hostHeader=%v",
			r.Method, r.URL.Path, r.URL.EscapedPath(), r.RequestURI, r.Proto, r.Host, r.Header["X-Custom"],
			err == nil && ap.Addr().Is4() && !ap.Addr().IsUnspecified() && ap.Port() != 0, r.Header.Get("Host") != "")
	})
	mux.HandleFunc("/redirect", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		nethttp.Redirect(w, r, "/hello?name=redirected", nethttp.StatusFound)
	})
	mux.HandleFunc("/html", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, "<!DOCTYPE html><html><body>hi</body></html>")
	})
	mux.HandleFunc("/close", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/reserved", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Length", "999")
		w.Header().Set("Server", "other")
		io.WriteString(w, "12345")
	})
	mux.HandleFunc("/panic", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, "partial")
		panic("boom")
	})
	mux.HandleFunc("/late-header", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, "x")
		w.Header().Set("X-Late", "1") // after the first Write: ignored
		w.WriteHeader(500)            // superfluous: ignored
	})
	return mux
}

// TestHandler: the table through shardnet's HTTP server on the kernel
// backend.
func TestHandler(t *testing.T) {
	a := stdhttp.New(testMux())
	base := startServer(t, shttp.Config{Handler: a.Serve})
	handlerTable(t, base, &nethttp.Client{})
	if n := a.Panics(); n != 1 {
		t.Errorf("Panics() = %d, want 1", n)
	}
}

// TestHandlerOverTAP: the same table through shardnet's HTTP server on
// shardnet's TCP (one shard, TAP), from a client in the namespace.
func TestHandlerOverTAP(t *testing.T) {
	nstest.RequireRoot(t)
	ns := nstest.New(t, "shn-sh")
	subnet := 1 + rand.IntN(250)
	st, err := shardnet.New(shardnet.Config{
		Iface:    fmt.Sprintf("ssh%x", rand.Uint32()),
		Addr:     netip.MustParsePrefix(fmt.Sprintf("198.18.%d.2/24", subnet)),
		HostAddr: netip.MustParsePrefix(fmt.Sprintf("198.18.%d.1/24", subnet)),
		Shards:   1, Frames: 4096, NetNS: ns.Handle, Logger: zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	a := stdhttp.New(testMux())
	if err := st.HandleHTTP(80, shttp.Config{Handler: a.Serve}); err != nil {
		t.Fatal(err)
	}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	d := net.Dialer{Timeout: 5 * time.Second}
	client := &nethttp.Client{Transport: &nethttp.Transport{
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
	handlerTable(t, fmt.Sprintf("http://198.18.%d.2", subnet), client)
	if n := a.Panics(); n != 1 {
		t.Errorf("Panics() = %d, want 1", n)
	}
}

// handlerTable runs the table cases against base with client.
func handlerTable(t *testing.T, base string, client *nethttp.Client) {
	client.Timeout = 10 * time.Second
	client.CheckRedirect = func(*nethttp.Request, []*nethttp.Request) error { return nethttp.ErrUseLastResponse }
	tests := []struct {
		name, method, path, body string
		reqHdr                   map[string]string
		status                   int
		wantBody                 string
		wantHdr                  map[string]string // "" means: absent
		wantClose                bool
	}{
		{name: "get", method: "GET", path: "/hello?name=shard", status: 200, wantBody: "hello shard",
			wantHdr: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Content-Length": "11", "Server": "shardnet"}},
		{name: "created", method: "GET", path: "/status/201", status: 201, wantBody: "status body",
			wantHdr: map[string]string{"Content-Type": "text/plain", "X-Multi": "a,b"}},
		{name: "teapot", method: "GET", path: "/status/418", status: 418, wantBody: "status body"},
		{name: "no content", method: "GET", path: "/status/204", status: 204, wantBody: "",
			wantHdr: map[string]string{"Content-Length": ""}},
		{name: "not found", method: "GET", path: "/nowhere", status: 404, wantBody: "404 page not found\n"},
		{name: "method not allowed", method: "DELETE", path: "/hello", status: 405,
			wantHdr: map[string]string{"Allow": "GET, HEAD"}, wantBody: "Method Not Allowed\n"},
		{name: "post echo", method: "POST", path: "/echo", body: "ping=1&pong=2",
			reqHdr: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			status: 200, wantBody: "13:13:ping=1&pong=2",
			wantHdr: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		{name: "post empty", method: "POST", path: "/echo", status: 200, wantBody: "0:0:"},
		{name: "query", method: "GET", path: "/query?a=1&a=2&b=%20x%26", status: 200,
			wantBody: `a=[1 2] b=" x&" raw=a=1&a=2&b=%20x%26`},
		{name: "request fields", method: "GET", path: "/request/a%20b/c", reqHdr: map[string]string{"X-Custom": "v1"},
			status: 200, wantBody: `method=GET path="/request/a b/c" escaped=/request/a%20b/c uri=/request/a%20b/c proto=HTTP/1.1 host=HOST custom=[v1] remote-ok=true hostHeader=false`},
		{name: "head", method: "HEAD", path: "/hello?name=shard", status: 200, wantBody: "",
			wantHdr: map[string]string{"Content-Length": "11"}},
		{name: "redirect", method: "GET", path: "/redirect", status: 302,
			wantBody: "<a href=\"/hello?name=redirected\">Found</a>.\n\n", wantHdr: map[string]string{"Location": "/hello?name=redirected"}},
		{name: "sniffed html", method: "GET", path: "/html", status: 200, wantBody: "<!DOCTYPE html><html><body>hi</body></html>",
			wantHdr: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "connection close", method: "GET", path: "/close", status: 200, wantBody: "bye", wantClose: true},
		{name: "reserved headers", method: "GET", path: "/reserved", status: 200, wantBody: "12345",
			wantHdr: map[string]string{"Content-Length": "5", "Server": "shardnet"}},
		{name: "late header", method: "GET", path: "/late-header", status: 200, wantBody: "x",
			wantHdr: map[string]string{"X-Late": ""}},
		{name: "panic", method: "GET", path: "/panic", status: 500, wantBody: "Internal Server Error\n", wantClose: true},
	}
	host := strings.TrimPrefix(base, "http://")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := nethttp.NewRequest(tc.method, base+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.reqHdr {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if want := strings.ReplaceAll(tc.wantBody, "HOST", host); string(got) != want {
				t.Errorf("body %q, want %q", got, want)
			}
			for k, want := range tc.wantHdr {
				if v := strings.Join(resp.Header.Values(k), ","); v != want {
					t.Errorf("header %s: %q, want %q", k, v, want)
				}
			}
			if resp.Close != tc.wantClose {
				t.Errorf("Connection: close %v, want %v", resp.Close, tc.wantClose)
			}
			if resp.Header.Get("Date") == "" {
				t.Error("no Date header")
			}
		})
	}
}

// TestKeepAliveAndLargeBody: many requests on one connection, each
// built fresh from pooled state, with a body near the server's limit.
func TestKeepAliveAndLargeBody(t *testing.T) {
	base := startServer(t, shttp.Config{Handler: stdhttp.Handler(testMux())})
	client := &nethttp.Client{Timeout: 10 * time.Second}
	big := strings.Repeat("0123456789abcdef", 60<<10/16) // 60 KiB, under the 64 KiB default limit
	for i := 0; i < 50; i++ {
		payload := fmt.Sprintf("%d-%s", i, big[:i*1000])
		resp, err := client.Post(base+"/echo", "text/plain", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("%d:%d:%s", len(payload), len(payload), payload); string(got) != want {
			t.Fatalf("request %d: body of %d bytes, want %d", i, len(got), len(want))
		}
		if resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("request %d: Content-Type %q (pooled header map leaked?)", i, resp.Header.Get("Content-Type"))
		}
	}
	resp, err := client.Post(base+"/echo", "text/plain", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d:%d:%s", len(big), len(big), big); string(got) != want {
		t.Fatalf("60 KiB echo: %d bytes back, want %d", len(got), len(want))
	}
}
