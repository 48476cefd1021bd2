package idle

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/nstest"
	"golang.org/x/sys/unix"
)

// The client sockets live in child processes (this test binary run again
// inside the namespace): one process may not hold 100k descriptors (the
// hard RLIMIT_NOFILE is often 20k or less, and raising it needs
// CAP_SYS_RESOURCE), and the shard's process then measures only itself.

const (
	envClient   = "SHARDNET_IDLE_CLIENT" // "first,count,dst,src1,src2,..."
	perChild    = 16000
	clientReady = "idle-client-ok"
	clientError = "idle-client-error"
)

// openClients starts enough children to open n connections (connection
// i from srcs[i%len(srcs)]), each echoing 8 bytes, and returns once all
// are idle. The children hold them until the test ends.
func openClients(t *testing.T, ns *nstest.NS, n int, srcs [clientAddrs][4]byte, dst [4]byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	type child struct {
		stdin io.WriteCloser
		done  chan error
	}
	var kids []*child
	t.Cleanup(func() {
		// Closing stdin tells a child to reset its connections and exit.
		for _, k := range kids {
			k.stdin.Close()
		}
		for _, k := range kids {
			select {
			case <-k.done:
			case <-time.After(30 * time.Second):
				t.Errorf("an idle client did not exit")
			}
		}
	})
	addrs := []string{netip.AddrFrom4(dst).String()}
	for _, s := range srcs {
		addrs = append(addrs, netip.AddrFrom4(s).String())
	}
	results := make(chan string, n/perChild+1)
	for first := 0; first < n; first += perChild {
		cnt := min(perChild, n-first)
		cmd := ns.Command(ctx, os.Args[0], "-test.run=^TestIdleClientProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d,%s", envClient, first, cnt, strings.Join(addrs, ",")))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		k := &child{stdin: stdin, done: make(chan error, 1)}
		kids = append(kids, k)
		go func() {
			sc := bufio.NewScanner(stdout)
			said := false
			for sc.Scan() {
				if l := sc.Text(); strings.HasPrefix(l, clientReady) || strings.HasPrefix(l, clientError) {
					results <- l
					said = true
				}
			}
			err := cmd.Wait()
			if !said {
				results <- fmt.Sprintf("%s: child exited: %v\n%s", clientError, err, stderr.String())
			}
			k.done <- err
		}()
	}
	for range kids {
		select {
		case l := <-results:
			if !strings.HasPrefix(l, clientReady) {
				t.Fatal(l)
			}
		case <-ctx.Done():
			t.Fatal("idle clients did not finish in time")
		}
	}
}

// TestIdleClientProcess is the child's side: it runs only when started
// by openClients.
func TestIdleClientProcess(t *testing.T) {
	spec := os.Getenv(envClient)
	if spec == "" {
		t.Skip("a helper process of TestIdleConnections")
	}
	if err := runClient(spec); err != nil {
		fmt.Printf("%s: %v\n", clientError, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runClient(spec string) error {
	f := strings.Split(spec, ",")
	if len(f) < 4 {
		return fmt.Errorf("bad spec %q", spec)
	}
	first, _ := strconv.Atoi(f[0])
	n, _ := strconv.Atoi(f[1])
	var addrs [][4]byte
	for _, a := range f[2:] {
		ad, err := netip.ParseAddr(a)
		if err != nil {
			return err
		}
		addrs = append(addrs, ad.As4())
	}
	dst, srcs := addrs[0], addrs[1:]
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur < uint64(n+256) {
		lim.Cur = min(lim.Max, uint64(n+256))
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		if lim.Cur < uint64(n+256) {
			return fmt.Errorf("RLIMIT_NOFILE %d < %d", lim.Cur, n+256)
		}
	}
	fds := make([]int, 0, n)
	defer func() {
		// Reset (linger 0): no TIME-WAITs left behind.
		for _, fd := range fds {
			syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
			syscall.Close(fd)
		}
	}()
	for range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		fds = append(fds, fd)
	}
	// Each worker connects its share, sends 8 bytes, reads the echo, and
	// leaves the connection idle. Sockets block, with timeouts.
	const workers = 16
	deadline := time.Now().Add(4 * time.Minute)
	var failed atomic.Bool
	var firstErr atomic.Value
	var wg sync.WaitGroup
	tv := syscall.Timeval{Sec: 10}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, got := make([]byte, 8), make([]byte, 8)
			for i := w; i < n; i += workers {
				if failed.Load() {
					return
				}
				gi := first + i
				fd := fds[i]
				err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
				if err == nil {
					err = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
				}
				if err == nil {
					// The port is picked at connect, by 4-tuple: fast.
					err = syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
				}
				if err == nil {
					err = syscall.Bind(fd, &syscall.SockaddrInet4{Addr: srcs[gi%len(srcs)]})
				}
				if err == nil {
					err = connect(fd, dst)
				}
				binary.BigEndian.PutUint64(msg, uint64(gi)*0x9e3779b97f4a7c15)
				if err == nil {
					_, err = retry(func() (int, error) { return syscall.Write(fd, msg) })
				}
				for k := 0; err == nil && k < len(got); {
					var m int
					m, err = retry(func() (int, error) { return syscall.Read(fd, got[k:]) })
					if err == nil && m == 0 {
						err = io.ErrUnexpectedEOF
					}
					k += m
				}
				if err == nil && !bytes.Equal(msg, got) {
					err = fmt.Errorf("echo %x, sent %x", got, msg)
				}
				if err == nil && time.Now().After(deadline) {
					err = fmt.Errorf("deadline")
				}
				if err != nil {
					failed.Store(true)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("connection %d: %v", gi, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		return fmt.Errorf("%v", firstErr.Load())
	}
	fmt.Printf("%s %d\n", clientReady, n)
	// Hold the connections until the parent closes our stdin.
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// retry repeats a blocking call that a signal (the Go runtime's
// preemption) interrupted.
func retry(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// connect is a blocking connect that survives EINTR: the attempt goes on
// in the kernel, so wait for the socket to become writable and read its
// result.
func connect(fd int, dst [4]byte) error {
	err := syscall.Connect(fd, &syscall.SockaddrInet4{Addr: dst, Port: port})
	if err != syscall.EINTR {
		return err
	}
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, 10000)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("connect: timed out")
		}
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return err
		}
		if v != 0 {
			return syscall.Errno(v)
		}
		return nil
	}
}
