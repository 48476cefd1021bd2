//go:build linux

package afxdp_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic/afxdp"
)

func TestConfigErrors(t *testing.T) {
	addr := [4]byte{198, 18, 0, 3}
	for _, c := range []struct {
		name string
		cfg  afxdp.Config
	}{
		{"no iface", afxdp.Config{Addr: addr}},
		{"long iface", afxdp.Config{Iface: "abcdefghijklmnop", Addr: addr}},
		{"no addr", afxdp.Config{Iface: "eth0"}},
		{"ring not power of two", afxdp.Config{Iface: "eth0", Addr: addr, RingSize: 1000}},
		{"ring too small", afxdp.Config{Iface: "eth0", Addr: addr, RingSize: 32}},
		{"too many queues", afxdp.Config{Iface: "eth0", Addr: addr, Queues: 1000}},
		{"bad mode", afxdp.Config{Iface: "eth0", Addr: addr, Mode: 7}},
	} {
		if _, err := afxdp.Open(c.cfg); !errors.Is(err, afxdp.ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", c.name, err)
		}
	}
}

// TestStartupErrors: each start-up check fails with its sentinel and a
// message that says what to do.
func TestStartupErrors(t *testing.T) {
	r := newRig(t, 1)
	open := func(cfg afxdp.Config) error {
		cfg.NetNS = r.a.Handle
		if cfg.Iface == "" {
			cfg.Iface = r.ifA
		}
		cfg.Addr = r.stack
		d, err := afxdp.Open(cfg)
		if err == nil {
			d.Close()
		}
		return err
	}
	check := func(what string, err, want error, hint string) {
		t.Helper()
		if !errors.Is(err, want) || !strings.Contains(err.Error(), hint) {
			t.Errorf("%s: %v; want %v mentioning %q", what, err, want, hint)
		}
		if x := xdpOn(t, r.a, r.ifA); x != nil {
			t.Errorf("%s: program %d left attached after a failed Open", what, x.ProgId)
		}
	}
	check("no such interface", open(afxdp.Config{Iface: "nosuch0"}), afxdp.ErrNoDevice, "ip link show")
	check("too few queues", open(afxdp.Config{Queues: 2}), afxdp.ErrQueues, "ethtool -L "+r.ifA+" combined 2")

	r.a.MustRun(t, "ip", "link", "set", r.ifA, "mtu", "3900")
	check("MTU above a page", open(afxdp.Config{}), afxdp.ErrMTU, "mtu 1500")

	// An MTU that fits a page but not the slab's 2 KiB frames.
	r.a.MustRun(t, "ip", "link", "set", r.ifA, "mtu", "1800")
	d := r.open(t, afxdp.Config{})
	slab := newSlab(t, 256)
	_, err := d.Queue(0, slab)
	if !errors.Is(err, afxdp.ErrMTU) || !strings.Contains(err.Error(), "4096-byte frames") {
		t.Errorf("MTU 1800 with 2 KiB frames: %v", err)
	}
	r.a.MustRun(t, "ip", "link", "set", r.ifA, "mtu", "1500")
	d.Close()
	d = r.open(t, afxdp.Config{})
	small, err := buf.NewSlab(256, 1024, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := d.Queue(0, small); !errors.Is(err, afxdp.ErrBadConfig) {
		t.Errorf("1 KiB frames: %v, want ErrBadConfig", err)
	}
	few, err := buf.NewSlab(64, 2048, 256)
	if err != nil {
		t.Fatal(err)
	}
	defer few.Close()
	if _, err := d.Queue(0, few); !errors.Is(err, afxdp.ErrBadConfig) {
		t.Errorf("64-frame slab: %v, want ErrBadConfig", err)
	}
	if _, err := d.Queue(1, slab); !errors.Is(err, afxdp.ErrBadConfig) {
		t.Errorf("queue 1 of 1: %v, want ErrBadConfig", err)
	}
	queue(t, d, 0, slab)
	if _, err := d.Queue(0, slab); !errors.Is(err, afxdp.ErrBadConfig) {
		t.Errorf("queue 0 twice: %v, want ErrBadConfig", err)
	}
	// A second Device cannot bind the queue the first holds.
	if _, err := afxdp.Open(afxdp.Config{Iface: r.ifA, NetNS: r.a.Handle, Addr: r.stack}); !errors.Is(err, afxdp.ErrBusy) {
		t.Errorf("second Open: %v, want ErrBusy", err)
	}
}

// TestMissingCapabilities runs the check in a child process without
// CAP_BPF, CAP_SYS_ADMIN and CAP_NET_ADMIN (setpriv), and expects
// ErrPermission naming what is missing.
func TestMissingCapabilities(t *testing.T) {
	if os.Getenv("AFXDP_CAPS_CHILD") != "" {
		_, err := afxdp.Open(afxdp.Config{Iface: "lo", Addr: [4]byte{127, 0, 0, 3}})
		if !errors.Is(err, afxdp.ErrPermission) || !strings.Contains(err.Error(), "CAP_BPF") || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
			t.Fatalf("Open without capabilities: %v", err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop capabilities in a child")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	cmd := exec.Command("setpriv", "--inh-caps=-all", "--bounding-set=-bpf,-sys_admin,-net_admin",
		os.Args[0], "-test.run=^TestMissingCapabilities$", "-test.v")
	cmd.Env = append(os.Environ(), "AFXDP_CAPS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestMissingCapabilities") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
