package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/nstest"
)

// TestEchoBinary runs the real echo program in a namespace and has kernel
// clients send data through it concurrently, checking every byte comes
// back; then stops it with SIGINT and reads its report.
func TestEchoBinary(t *testing.T) {
	nstest.RequireRoot(t)
	bin := filepath.Join(t.TempDir(), "echo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			ns := nstest.New(t, "shn-echo")
			subnet := 1 + mrand.IntN(250)
			addr := fmt.Sprintf("198.18.%d.2", subnet)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := ns.Command(ctx, bin, "-iface", fmt.Sprintf("shn%x", mrand.Uint32()), "-port", "7",
				"-addr", addr+"/24", "-host-addr", fmt.Sprintf("198.18.%d.1/24", subnet), "-shards", fmt.Sprint(shards))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if cmd.ProcessState == nil {
					cmd.Process.Kill()
					cmd.Wait()
				}
			})
			lines := bufio.NewScanner(stdout)
			for ok := false; !ok; {
				if !lines.Scan() {
					cmd.Wait()
					t.Fatalf("echo never printed its banner; stderr:\n%s", stderr.String())
				}
				ok = strings.Contains(lines.Text(), "try: nc "+addr+" 7")
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
					t.Fatalf("dial %d: %v\nstderr:\n%s", i, err, stderr.String())
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
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(stdout)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("echo exited with %v; stderr:\n%s", err, stderr.String())
			}
			report := string(rest)
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

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
