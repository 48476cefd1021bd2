package nstest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the main package in dir (relative to the test's package)
// into a temporary binary and returns its path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(dir))
	if dir == "." {
		bin = filepath.Join(t.TempDir(), "prog")
	}
	if out, err := exec.Command("go", "build", "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// Program is a process started inside a namespace by a test.
type Program struct {
	t      testing.TB
	cmd    *exec.Cmd
	cancel context.CancelFunc
	out    *bufio.Scanner
	stdout io.Reader
	stderr lockedBuffer
}

// Start runs bin with args in the namespace and waits (up to the timeout)
// until a line of its standard output contains ready. The process is
// killed when the test ends if it is still running.
func (ns *NS) Start(t testing.TB, timeout time.Duration, ready, bin string, args ...string) *Program {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &Program{t: t, cancel: cancel}
	p.cmd = ns.Command(ctx, bin, args...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdout = stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		cancel()
	})
	p.out = bufio.NewScanner(stdout)
	for {
		if !p.out.Scan() {
			p.cmd.Wait()
			t.Fatalf("%s exited before printing %q; stderr:\n%s", filepath.Base(bin), ready, p.Stderr())
		}
		if strings.Contains(p.out.Text(), ready) {
			return p
		}
	}
}

// Stderr is what the program wrote to standard error so far.
func (p *Program) Stderr() string { return p.stderr.String() }

// Interrupt sends SIGINT, waits for the program to exit, fails the test
// unless it exited with status 0, and returns the rest of its output.
func (p *Program) Interrupt() string {
	p.t.Helper()
	return p.Signal(syscall.SIGINT)
}

// Signal sends sig, waits for the program to exit, fails the test unless
// it exited with status 0, and returns the rest of its output.
func (p *Program) Signal(sig syscall.Signal) string {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	var rest strings.Builder
	for p.out.Scan() {
		rest.WriteString(p.out.Text())
		rest.WriteByte('\n')
	}
	io.Copy(&rest, p.stdout)
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("exited with %v; stderr:\n%s", err, p.Stderr())
	}
	return rest.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(b)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
