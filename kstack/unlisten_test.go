package kstack

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestUnlisten: after Unlisten new connections are refused by the kernel,
// a connection accepted before goes on, and the port can be listened on
// again.
func TestUnlisten(t *testing.T) {
	th := newTestHost(t, Config{}, &echo{})
	addr := th.addr()
	c := dial(t, addr)
	th.runUntil("accept", func() bool { return th.Open() == 1 })

	if err := th.Unlisten(addr.Port()); err != nil {
		t.Fatal(err)
	}
	if err := th.Unlisten(addr.Port()); err == nil {
		t.Fatal("second Unlisten of the same port succeeded")
	}
	if _, err := net.DialTimeout("tcp4", addr.String(), 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Unlisten: %v, want connection refused", err)
	}

	// The established connection still echoes.
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	done := make(chan error, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.ReadFull(c, got)
		done <- err
	}()
	var err error
	th.runUntil("echo", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	if err != nil || string(got) != "ping" {
		t.Fatalf("echo after Unlisten: %q, %v", got, err)
	}
	if th.Stats().AcceptErrors != 0 {
		t.Fatalf("AcceptErrors = %d", th.Stats().AcceptErrors)
	}
	if err := th.Listen(addr.Port(), &echo{}); err != nil {
		t.Fatalf("listening again on the port: %v", err)
	}
}
