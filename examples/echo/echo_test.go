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
)

// TestEchoBinary runs the real echo program in a namespace and has kernel
// clients send data through it concurrently, checking every byte comes
// back; then stops it with SIGINT and reads its report.
func TestEchoBinary(t *testing.T) {
	nstest.RequireRoot(t)
	bin := nstest.Build(t, ".")
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			ns := nstest.New(t, "shn-echo")
			subnet := 1 + mrand.IntN(250)
			addr := fmt.Sprintf("198.18.%d.2", subnet)
			p := ns.Start(t, 90*time.Second, "try: nc "+addr+" 7", bin, "-iface", fmt.Sprintf("shn%x", mrand.Uint32()), "-port", "7",
				"-addr", addr+"/24", "-host-addr", fmt.Sprintf("198.18.%d.1/24", subnet), "-shards", fmt.Sprint(shards))
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
			report := p.Interrupt()
			if strings.Count(report, "in-use 0") != shards || strings.Count(report, "tcp: segs in/out") != shards {
				t.Fatalf("want a clean report (no leaked buffers) for %d shards:\n%s", shards, report)
			}
		})
	}
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
