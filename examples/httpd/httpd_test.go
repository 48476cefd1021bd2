package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/shard"
)

// server is httpd running in a namespace on one driver.
type server struct {
	ns   *nstest.NS
	p    *nstest.Program
	addr string // host:port
}

// startHTTPD runs the real binary the way `make run` does (tap) or on the
// kernel backend, inside a fresh namespace.
func startHTTPD(t *testing.T, bin, driver string, shards int) *server {
	t.Helper()
	ns := nstest.New(t, "shn-httpd")
	subnet := 1 + rand.IntN(250)
	ip := fmt.Sprintf("198.18.%d.2", subnet)
	args := []string{"-driver", driver, "-port", "8080", "-root", "www", "-shards", fmt.Sprint(shards)}
	if driver == "kernel" {
		ip = "127.0.0.1"
		args = append(args, "-addr", ip)
	} else {
		args = append(args, "-iface", fmt.Sprintf("shn%x", rand.Uint32()), "-addr", ip+"/24",
			"-host-addr", fmt.Sprintf("198.18.%d.1/24", subnet))
	}
	p := ns.Start(t, 120*time.Second, "try: curl http://"+ip+":8080/", bin, args...)
	return &server{ns: ns, p: p, addr: ip + ":8080"}
}

// startHTTPDXDP runs httpd over AF_XDP: a veth pair with shards queues
// per end between two fresh namespaces, httpd on one end (-driver afxdp),
// and the returned server's namespace, for the clients, on the other.
// The peer sends full checksums (AF_XDP sees frames as sent) and keeps
// each socket's TX hash (net.core.txrehash=0), as a NIC's RSS would.
func startHTTPDXDP(t *testing.T, bin string, shards int) *server {
	t.Helper()
	srvNS, cliNS := vethPair(t, "shn-hx", shards)
	args := []string{"-driver", "afxdp", "-iface", srvNS.iface, "-addr", srvNS.addr + "/24", "-port", "8080", "-root", "www",
		"-shards", fmt.Sprint(shards)}
	p := srvNS.Start(t, 120*time.Second, "try: curl http://"+srvNS.addr+":8080/", bin, args...)
	return &server{ns: cliNS, p: p, addr: srvNS.addr + ":8080"}
}

// xdpNS is the namespace holding the veth end a program drives.
type xdpNS struct {
	*nstest.NS
	iface string
	addr  string // the stack's address
}

// vethPair makes the AF_XDP topology (nstest.NewVeth); the stack will be .2.
func vethPair(t *testing.T, prefix string, queues int) (*xdpNS, *nstest.NS) {
	t.Helper()
	v := nstest.NewVeth(t, prefix, queues)
	return &xdpNS{NS: v.Srv, iface: v.Iface, addr: v.Addr}, v.Cli
}

func (s *server) curl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.ns.Run(30*time.Second, "curl", append([]string{"-sS", "--max-time", "20"}, args...)...)
	if err != nil {
		t.Fatalf("curl %v: %v\n%s\nhttpd stderr:\n%s", args, err, out, s.p.Stderr())
	}
	return out
}

func TestHTTPD(t *testing.T) {
	nstest.RequireRoot(t, "ping", "curl", "ab", "h2load", "wrk", "ethtool")
	bin := nstest.Build(t, ".")
	index, err := os.ReadFile("www/index.html")
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.ReadFile("www/data/256k.bin")
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]string{} // driver → status line per bad request
	for _, c := range []struct {
		driver string
		shards int
	}{{"tap", 1}, {"tap", 2}, {"afxdp", 2}, {"kernel", 2}} {
		t.Run(fmt.Sprintf("%s/shards=%d", c.driver, c.shards), func(t *testing.T) {
			var s *server
			if c.driver == "afxdp" {
				if cpus, _ := shard.AllowedCPUs(); len(cpus) < c.shards {
					t.Skipf("needs %d CPUs, has %d", c.shards, len(cpus))
				}
				s = startHTTPDXDP(t, bin, c.shards)
			} else {
				s = startHTTPD(t, bin, c.driver, c.shards)
			}
			host := strings.Split(s.addr, ":")[0]
			if c.driver != "kernel" {
				if out, err := s.ns.Run(30*time.Second, "ping", "-n", "-c", "3", "-i", "0.1", "-w", "20", host); err != nil ||
					!strings.Contains(out, "3 packets transmitted, 3 received") {
					t.Fatalf("ping: %v\n%s", err, out)
				}
			}
			url := "http://" + s.addr
			if got := s.curl(t, url+"/"); got != string(index) {
				t.Fatalf("GET / returned %d bytes, not the site's index.html (%d bytes)", len(got), len(index))
			}
			if got := s.curl(t, url+"/plaintext"); got != "Hello, World!" {
				t.Fatalf("/plaintext = %q", got)
			}
			head := s.curl(t, "-I", url+"/hello.txt")
			etag := regexp.MustCompile(`(?i)etag: (".*")`).FindStringSubmatch(head)
			if !strings.HasPrefix(head, "HTTP/1.1 200") || etag == nil {
				t.Fatalf("HEAD /hello.txt:\n%s", head)
			}
			if got := s.curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: "+etag[1], url+"/hello.txt"); got != "304" {
				t.Fatalf("If-None-Match with the current ETag gave %s, want 304", got)
			}
			if got := s.curl(t, "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-r", "100-1123", url+"/data/256k.bin"); got != "206 1024" {
				t.Fatalf("Range 100-1123 gave %q, want 206 of 1024 bytes", got)
			}
			full := s.curl(t, "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url+"/data/256k.bin")
			if full != "200 262144" {
				t.Fatalf("GET /data/256k.bin gave %q", full)
			}
			if got := s.curl(t, url+"/data/256k.bin"); got != string(blob) {
				t.Fatalf("GET /data/256k.bin: %d bytes that differ from the file", len(got))
			}
			// Load generators: no failed request may appear.
			out, err := s.ns.Run(60*time.Second, "ab", "-k", "-n", "4000", "-c", "16", url+"/hello.txt")
			if err != nil || !regexp.MustCompile(`Failed requests:\s+0\b`).MatchString(out) || !strings.Contains(out, "Complete requests:      4000") {
				t.Fatalf("ab -k: %v\n%s", err, out)
			}
			out, err = s.ns.Run(60*time.Second, "h2load", "--h1", "-n", "4000", "-c", "4", "-m", "16", url+"/plaintext")
			if err != nil || !strings.Contains(out, "4000 succeeded, 0 failed, 0 errored") {
				t.Fatalf("h2load --h1 -m 16: %v\n%s", err, out)
			}
			out, err = s.ns.Run(60*time.Second, "wrk", "-t", "1", "-c", "16", "-d", "2s", url+"/plaintext")
			if err != nil || strings.Contains(out, "Socket errors") || strings.Contains(out, "Non-2xx") || !strings.Contains(out, "Requests/sec") {
				t.Fatalf("wrk: %v\n%s", err, out)
			}
			t.Logf("wrk /plaintext on %s: %s", c.driver, regexp.MustCompile(`Requests/sec:\s+\S+`).FindString(out))
			bad[c.driver] = s.badRequests(t)
			report := s.p.Interrupt()
			if c.driver != "kernel" && strings.Count(report, "in-use 0") != c.shards {
				t.Fatalf("unclean exit report (leaked buffers?):\n%s", report)
			}
		})
	}
	if t.Failed() || bad["kernel"] == nil {
		return
	}
	for i, req := range badReqs {
		for _, drv := range []string{"tap", "afxdp"} {
			if b := bad[drv]; b != nil && b[i] != bad["kernel"][i] {
				t.Errorf("%q: shardnet on %s answered %q, kernel backend %q", req.name, drv, b[i], bad["kernel"][i])
			}
		}
	}
}

var badReqs = []struct{ name, raw, want string }{
	{"smuggling CL+TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
	{"two Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"},
	{"unknown coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"},
	{"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400"},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505"},
	{"no Host", "GET / HTTP/1.1\r\n\r\n", "400"},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", "400"},
	{"traversal", "GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
	{"encoded traversal", "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
	{"target too long", "GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"},
	{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n", "431"},
	{"body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n", "413"},
	{"POST to a file", "POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "405"},
}

// badRequests sends each bad request on its own connection and returns
// the status lines, checking each against its expected code.
func (s *server) badRequests(t *testing.T) []string {
	t.Helper()
	var lines []string
	for _, r := range badReqs {
		var c net.Conn
		if err := s.ns.Do(func() error {
			var err error
			c, err = net.DialTimeout("tcp4", s.addr, 10*time.Second)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte(r.raw))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 "+r.want+" ") {
			t.Errorf("%s: got %q (%v), want status %s", r.name, line, err, r.want)
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	return lines
}
