package stdhttp_test

import (
	"bytes"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"testing"

	shttp "github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/http/stdhttp"
)

// TestAllocsPerRequest measures what the adapter allocates per
// keep-alive request (the native server allocates nothing, and the raw
// client below nothing either), and holds it to the figure the package
// doc promises: the request-target (path, query and RequestURI share one
// string), one string per header value (Host included) and RemoteAddr,
// plus what the handler itself allocates.
func TestAllocsPerRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a stack")
	}
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	cases := []struct {
		name string
		h    nethttp.HandlerFunc
		max  float64
	}{
		// target + 2 header values (Host, User-Agent) + RemoteAddr = 4
		{"write only", func(w nethttp.ResponseWriter, r *nethttp.Request) { io.WriteString(w, "Hello, World!") }, 4},
		// + the []string of Header().Set
		{"set header", func(w nethttp.ResponseWriter, r *nethttp.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "Hello, World!")
		}, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := startServer(t, shttp.Config{Handler: stdhttp.Handler(tc.h)})
			c, err := net.Dial("tcp4", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /plaintext HTTP/1.1\r\nHost: bench\r\nUser-Agent: raw\r\n\r\n")
			buf := make([]byte, 4096)
			round := func() {
				if _, err := c.Write(req); err != nil {
					t.Fatal(err)
				}
				n := 0
				for !bytes.HasSuffix(buf[:n], []byte("\r\n\r\nHello, World!")) {
					k, err := c.Read(buf[n:])
					if err != nil {
						t.Fatal(err)
					}
					n += k
				}
			}
			round()
			n := testing.AllocsPerRun(200, round)
			t.Logf("%.1f allocations per request", n)
			if n > tc.max {
				t.Fatalf("%.1f allocations per request, want at most %.0f", n, tc.max)
			}
		})
	}
}
