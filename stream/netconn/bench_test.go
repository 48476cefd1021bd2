package netconn_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"testing"
	"time"

	shttp "github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/http/stdhttp"
	"github.com/shardnet/shardnet/stream/netconn"
)

// BenchmarkPlaintext compares one shard answering GET /plaintext three
// ways: shardnet's native HTTP server, the same server running a
// net/http.Handler through stdhttp, and net/http.Server on a netconn
// Listener. The clients are 8 keep-alive connections from Go, one
// request in flight on each; req/s is the figure to compare.
func BenchmarkPlaintext(b *testing.B) {
	b.Run("kernel", func(b *testing.B) { benchPlaintext(b, kernelEnv(b)) })
	b.Run("tap", func(b *testing.B) { benchPlaintext(b, tapEnv(b)) })
}

func benchPlaintext(b *testing.B, e *env) {
	std := nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, World!")
	})
	nativePort, stdPort := e.freshPort(b), e.freshPort(b)
	if err := e.st.HandleHTTP(nativePort, shttp.Config{Handler: shttp.Plaintext}); err != nil {
		b.Fatal(err)
	}
	if err := e.st.HandleHTTP(stdPort, shttp.Config{Handler: stdhttp.Handler(std)}); err != nil {
		b.Fatal(err)
	}
	ln := e.listen(b, netconn.Config{})
	serveHTTP(b, ln, std)
	ports := []uint16{nativePort, stdPort, uint16(ln.Addr().(*net.TCPAddr).Port)}
	names := []string{"native", "stdhttp", "netconn"}
	for i, name := range names {
		b.Run(name, func(b *testing.B) { benchGets(b, e, ports[i]) })
	}
	b.Run("interleaved", func(b *testing.B) { benchInterleaved(b, e, names, ports) })
}

// benchInterleaved makes one request to each server in turn per
// iteration, on one connection each, from one goroutine, and reports
// each server's mean round-trip time: a machine busy with other work
// slows all three alike, so their ratio stays meaningful.
func benchInterleaved(b *testing.B, e *env, names []string, ports []uint16) {
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n")
	conns := make([]*bufio.Reader, len(ports))
	raw := make([]net.Conn, len(ports))
	for i, p := range ports {
		c, err := e.dial(b.Context(), int(p))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		raw[i], conns[i] = c, bufio.NewReader(c)
	}
	total := make([]time.Duration, len(ports))
	for k := 0; b.Loop(); k++ {
		for j := range ports {
			i := (j + k) % len(ports) // rotate: no server always goes first
			t0 := time.Now()
			if _, err := raw[i].Write(req); err != nil {
				b.Fatal(err)
			}
			resp, err := nethttp.ReadResponse(conns[i], nil)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			total[i] += time.Since(t0)
		}
	}
	for i, name := range names {
		b.ReportMetric(float64(total[i].Microseconds())/float64(b.N), name+"-µs/req")
	}
}

func benchGets(b *testing.B, e *env, port uint16) {
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n")
	b.SetParallelism(4) // 8 connections on 2 CPUs
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c, err := e.dial(b.Context(), int(port))
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			resp, err := nethttp.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != 13 {
				b.Error(fmt.Errorf("status %d, %d body bytes", resp.StatusCode, n))
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkEcho: one 16-byte echo round trip through a Conn (kernel
// backend, loopback) — the adapter's hand-offs with nothing else — next
// to the same echo on a plain kernel socket served by the Go runtime.
func BenchmarkEcho(b *testing.B) {
	echo := func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 16)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}
	run := func(b *testing.B, cl net.Conn) {
		msg, back := []byte("0123456789abcdef"), make([]byte, 16)
		b.ReportAllocs()
		for b.Loop() {
			cl.Write(msg)
			if _, err := io.ReadFull(cl, back); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("netconn", func(b *testing.B) {
		e := kernelEnv(b)
		ln := e.listen(b, netconn.Config{})
		go func() {
			if c, err := ln.Accept(); err == nil {
				echo(c)
			}
		}()
		cl, err := e.dial(b.Context(), ln.Addr().(*net.TCPAddr).Port)
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		run(b, cl)
	})
	b.Run("gonet", func(b *testing.B) {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			if c, err := ln.Accept(); err == nil {
				echo(c)
			}
		}()
		cl, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		run(b, cl)
	})
}
