package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/shard"
)

// TestEchoBinary runs the real echo program in a namespace and has kernel
// clients send data through it concurrently, checking every byte comes
// back; then stops it with SIGINT and reads its report.
func TestEchoBinary(t *testing.T) {
	nstest.RequireRoot(t)
	bin := nstest.Build(t, ".")
	for _, c := range []struct {
		driver string
		shards int
	}{{"tap", 1}, {"tap", 2}, {"afxdp", 2}} {
		shards := c.shards
		name := fmt.Sprintf("shards=%d", shards)
		if c.driver != "tap" {
			name = c.driver + "/" + name
		}
		t.Run(name, func(t *testing.T) {
			var ns *nstest.NS // where the clients run
			var p *nstest.Program
			var addr string
			if c.driver == "afxdp" {
				nstest.RequireRoot(t, "ethtool")
				if cpus, _ := shard.AllowedCPUs(); len(cpus) < shards {
					t.Skipf("needs %d CPUs, has %d", shards, len(cpus))
				}
				var srv *nstest.NS
				var iface string
				srv, ns, iface, addr = vethPair(t, shards)
				p = srv.Start(t, 90*time.Second, "try: nc "+addr+" 7", bin, "-driver", "afxdp", "-iface", iface, "-port", "7",
					"-addr", addr+"/24", "-shards", fmt.Sprint(shards))
			} else {
				ns = nstest.New(t, "shn-echo")
				subnet := 1 + mrand.IntN(250)
				addr = fmt.Sprintf("198.18.%d.2", subnet)
				p = ns.Start(t, 90*time.Second, "try: nc "+addr+" 7", bin, "-iface", fmt.Sprintf("shn%x", mrand.Uint32()), "-port", "7",
					"-addr", addr+"/24", "-host-addr", fmt.Sprintf("198.18.%d.1/24", subnet), "-shards", fmt.Sprint(shards))
			}
			const conns = 16
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for i := 0; i < conns; i++ {
				size := 1 + mrand.IntN(1<<20)
				var c net.Conn
				if err := ns.Do(func() error {
					var err error
					c, err = net.DialTimeout("tcp4", addr+":7", 10*time.Second)
					return err
				}); err != nil {
					t.Fatalf("dial %d: %v\nstderr:\n%s", i, err, p.Stderr())
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- roundTrip(c.(*net.TCPConn), size)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			// An idle connection at stop time is closed gracefully (Drain):
			// the client reads EOF, not a reset, and closes its side.
			var idle net.Conn
			if err := ns.Do(func() error {
				var err error
				idle, err = net.DialTimeout("tcp4", addr+":7", 10*time.Second)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer idle.Close()
			buf := make([]byte, 2)
			if _, err := idle.Write([]byte("hi")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(idle, buf); err != nil || string(buf) != "hi" {
				t.Fatalf("idle connection echo: %q %v", buf, err)
			}
			eof := make(chan error, 1)
			go func() {
				idle.SetReadDeadline(time.Now().Add(60 * time.Second))
				_, err := idle.Read(buf)
				idle.Close()
				eof <- err
			}()
			report := p.Interrupt()
			if err := <-eof; err != io.EOF {
				t.Fatalf("idle connection at stop: read %v, want EOF (a graceful close)", err)
			}
			if strings.Count(report, "in-use 0") != shards || strings.Count(report, "tcp: segs in/out") != shards {
				t.Fatalf("want a clean report (no leaked buffers) for %d shards:\n%s", shards, report)
			}
		})
	}
}

// vethPair makes the AF_XDP topology (nstest.NewVeth): srv holds iface,
// for the program (the stack is addr), cli the peer end.
func vethPair(t *testing.T, queues int) (srv, cli *nstest.NS, iface, addr string) {
	t.Helper()
	v := nstest.NewVeth(t, "shn-ex", queues)
	return v.Srv, v.Cli, v.Iface, v.Addr
}

// roundTrip sends size random bytes, half-closes, and checks the same
// bytes come back followed by EOF.
func roundTrip(c *net.TCPConn, size int) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	data := make([]byte, size)
	rand.Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, rerr := io.ReadAll(c)
	if err := <-werr; err != nil {
		return fmt.Errorf("write %d bytes: %w", size, err)
	}
	if rerr != nil {
		return fmt.Errorf("read after %d of %d bytes: %w", len(got), size, rerr)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("echoed %d bytes differ from the %d sent", len(got), size)
	}
	return nil
}
