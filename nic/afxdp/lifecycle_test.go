//go:build linux

package afxdp_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic/afxdp"
)

// attachLegacy attaches a trivial XDP_PASS program named name to the
// interface through netlink (the pre-link way, which outlives the process
// that did it), as an older or crashed tool would leave it.
func attachLegacy(t *testing.T, r *rig, name string) uint32 {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: name, Type: ebpf.XDP, License: "Dual MIT/GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close() // the attachment keeps it alive
	err = r.a.Do(func() error {
		l, err := netlink.LinkByName(r.ifA)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(l, prog.FD(), unix.XDP_FLAGS_SKB_MODE)
	})
	if err != nil {
		t.Fatal(err)
	}
	x := xdpOn(t, r.a, r.ifA)
	if x == nil {
		t.Fatal("legacy program not attached")
	}
	return x.ProgId
}

// TestStaleProgramReplaced: a shardnet program left attached through
// netlink is recognised by name and replaced; anyone else's is refused
// with ErrBusy and left alone.
func TestStaleProgramReplaced(t *testing.T) {
	r := newRig(t, 1)
	old := attachLegacy(t, r, afxdp.ProgName)
	d := r.open(t, afxdp.Config{})
	if !strings.Contains(d.Replaced(), fmt.Sprint(old)) {
		t.Errorf("Replaced() = %q, want it to name program %d", d.Replaced(), old)
	}
	if x := xdpOn(t, r.a, r.ifA); x == nil || x.ProgId != d.ProgramID() || x.ProgId == old {
		t.Fatalf("interface XDP %+v, want the new program %d", x, d.ProgramID())
	}
	d.Close()
	if x := xdpOn(t, r.a, r.ifA); x != nil {
		t.Fatalf("program %d left after Close", x.ProgId)
	}

	foreign := attachLegacy(t, r, "someone_else")
	_, err := afxdp.Open(afxdp.Config{Iface: r.ifA, NetNS: r.a.Handle, Addr: r.stack})
	if !errors.Is(err, afxdp.ErrBusy) || !strings.Contains(err.Error(), "someone_else") {
		t.Fatalf("Open over a foreign program: %v, want ErrBusy naming it", err)
	}
	if x := xdpOn(t, r.a, r.ifA); x == nil || x.ProgId != foreign {
		t.Fatalf("foreign program %d was touched: %+v", foreign, x)
	}
}

// TestSecondOpenBusy: while one Device holds the interface, a second Open
// fails with ErrBusy and leaves the first attached.
func TestSecondOpenBusy(t *testing.T) {
	r := newRig(t, 1)
	d := r.open(t, afxdp.Config{})
	_, err := afxdp.Open(afxdp.Config{Iface: r.ifA, NetNS: r.a.Handle, Addr: r.stack})
	if !errors.Is(err, afxdp.ErrBusy) {
		t.Fatalf("second Open: %v, want ErrBusy", err)
	}
	if x := xdpOn(t, r.a, r.ifA); x == nil || x.ProgId != d.ProgramID() {
		t.Fatalf("first Device's program gone: %+v", x)
	}
}

// TestCrashDetaches: a process that opened the device and a queue and was
// then killed with SIGKILL leaves no program attached (the BPF link dies
// with its last fd), and the next Open succeeds.
func TestCrashDetaches(t *testing.T) {
	r := newRig(t, 1)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "AFXDP_CHILD_NS=/var/run/netns/"+r.a.Name, "AFXDP_CHILD_IF="+r.ifA,
		"AFXDP_CHILD_ADDR="+ip4(r.stack))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY") {
				ready <- sc.Text()
				return
			}
		}
		ready <- ""
	}()
	select {
	case line := <-ready:
		if line == "" {
			t.Fatal("child exited before opening the device")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("child did not open the device")
	}
	if xdpOn(t, r.a, r.ifA) == nil {
		t.Fatal("child's program not attached")
	}
	cmd.Process.Signal(unix.SIGKILL)
	cmd.Wait()
	// The kernel frees the link when the dead process's files are closed,
	// which exit does before the parent's wait returns.
	if x := xdpOn(t, r.a, r.ifA); x != nil {
		t.Fatalf("program %d still attached after the owner was killed", x.ProgId)
	}
	d := r.open(t, afxdp.Config{})
	slab := newSlab(t, 256)
	queue(t, d, 0, slab) // the queue's socket is free again too
}

// TestCrashChild is the child of TestCrashDetaches; it does nothing
// unless run by it.
func TestCrashChild(t *testing.T) {
	nsPath := os.Getenv("AFXDP_CHILD_NS")
	if nsPath == "" {
		t.Skip("helper for TestCrashDetaches")
	}
	ns, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var addr [4]byte
	fmt.Sscanf(os.Getenv("AFXDP_CHILD_ADDR"), "%d.%d.%d.%d", &addr[0], &addr[1], &addr[2], &addr[3])
	d, err := afxdp.Open(afxdp.Config{Iface: os.Getenv("AFXDP_CHILD_IF"), NetNS: netnsHandle(ns), Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	slab, err := buf.NewSlab(256, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Queue(0, slab); err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY")
	select {} // until killed
}
