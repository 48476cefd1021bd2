package rss_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/nic/rss"
)

// TestReadVeth: a veth has no RSS (the sender picks the queue): Read says
// so with ErrNotSupported; a missing interface is a different error.
func TestReadVeth(t *testing.T) {
	nstest.RequireRoot(t)
	ns := nstest.New(t, "shn-rss")
	a, b := fmt.Sprintf("ra%x", rand.Uint32()), fmt.Sprintf("rb%x", rand.Uint32())
	ns.MustRun(t, "ip", "link", "add", a, "numtxqueues", "2", "numrxqueues", "2", "type", "veth", "peer", "name", b)
	var err error
	if derr := ns.Do(func() error { _, err = rss.Read(a); return nil }); derr != nil {
		t.Fatal(derr)
	}
	if !errors.Is(err, rss.ErrNotSupported) {
		t.Fatalf("Read(veth) = %v, want ErrNotSupported", err)
	}
	t.Logf("veth: %v", err)
	if derr := ns.Do(func() error { _, err = rss.Read("nosuch0"); return nil }); derr != nil {
		t.Fatal(derr)
	}
	if err == nil || errors.Is(err, rss.ErrNotSupported) {
		t.Fatalf("Read(missing) = %v, want a no-such-device error", err)
	}
}

func TestLinuxDefaultKey(t *testing.T) {
	k, err := rss.LinuxDefaultKey()
	switch {
	case errors.Is(err, rss.ErrNotSupported):
		t.Skipf("kernel key not set on this machine: %v", err)
	case err != nil:
		t.Skip(err)
	}
	if len(k) < 16 {
		t.Fatalf("kernel RSS key of %d bytes", len(k))
	}
}
