package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/nstest"
)

// TestHTTPDAnswersPing runs the real binary the way `make run` does, inside
// a namespace, pings it, stops it with SIGINT and reads its exit report.
func TestHTTPDAnswersPing(t *testing.T) {
	nstest.RequireRoot(t, "ping")
	bin := filepath.Join(t.TempDir(), "httpd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			ns := nstest.New(t, "shn-httpd")
			subnet := 1 + rand.IntN(250)
			addr := fmt.Sprintf("198.18.%d.2", subnet)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := ns.Command(ctx, bin, "-iface", fmt.Sprintf("shn%x", rand.Uint32()),
				"-addr", addr+"/24", "-host-addr", fmt.Sprintf("198.18.%d.1/24", subnet),
				"-shards", fmt.Sprint(shards))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr syncBuffer
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
			banner := false
			for !banner && lines.Scan() {
				banner = strings.Contains(lines.Text(), "try: ping "+addr)
			}
			if !banner {
				cmd.Wait()
				t.Fatalf("httpd never printed its banner; stderr:\n%s", stderr.String())
			}
			out, err := ns.Run(30*time.Second, "ping", "-n", "-c", "4", "-i", "0.1", "-w", "20", addr)
			if err != nil || !strings.Contains(out, "4 packets transmitted, 4 received") {
				t.Fatalf("ping: %v\n%s\nhttpd stderr:\n%s", err, out, stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(stdout)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("httpd exited with %v; stderr:\n%s", err, stderr.String())
			}
			report := string(rest)
			echo := 0
			for i := 0; i < shards; i++ {
				m := regexp.MustCompile(fmt.Sprintf(`shard %d cpu \d+: .* echo (\d+),.* in-use 0`, i)).FindStringSubmatch(report)
				if m == nil {
					t.Fatalf("no clean report line for shard %d in:\n%s", i, report)
				}
				var n int
				fmt.Sscan(m[1], &n)
				echo += n
			}
			if echo != 4 {
				t.Fatalf("shards answered %d echo requests in all, want 4:\n%s", echo, report)
			}
		})
	}
}

// syncBuffer collects a child's stderr while the test may read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
