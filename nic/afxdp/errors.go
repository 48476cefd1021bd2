//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Sentinel errors. Open and Device.Queue wrap them with %w in a message
// that names the interface and says what to do; test with errors.Is.
var (
	// ErrBadConfig: a Config or slab value that cannot work.
	ErrBadConfig = errors.New("afxdp: bad configuration")
	// ErrPermission: the process lacks root or CAP_NET_ADMIN, CAP_NET_RAW
	// and CAP_BPF (or CAP_SYS_ADMIN).
	ErrPermission = errors.New("afxdp: permission denied")
	// ErrNoDevice: no interface of that name in the namespace.
	ErrNoDevice = errors.New("afxdp: no such interface")
	// ErrQueues: the interface has fewer queues than Config.Queues.
	ErrQueues = errors.New("afxdp: not enough queues")
	// ErrMTU: the interface MTU does not fit the slab's frames.
	ErrMTU = errors.New("afxdp: MTU too large for the frame size")
	// ErrUnsupported: the kernel or the driver lacks AF_XDP, XDP in the
	// requested mode, or zero-copy.
	ErrUnsupported = errors.New("afxdp: not supported")
	// ErrBusy: another XDP program (not shardnet's, or one held by a live
	// process) is attached to the interface, or the queue already has an
	// AF_XDP socket.
	ErrBusy = errors.New("afxdp: interface busy")
)

const (
	capNetAdmin = 12
	capNetRaw   = 13
	capSysAdmin = 21
	capBPF      = 39
)

// checkCaps reports which of the capabilities AF_XDP needs the process
// lacks in its effective set: CAP_NET_ADMIN (attach XDP), CAP_NET_RAW
// (AF_XDP sockets) and CAP_BPF or CAP_SYS_ADMIN (load the program).
func checkCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil // cannot tell: let the syscalls speak
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	var missing []string
	if !has(capNetAdmin) {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	if !has(capNetRaw) {
		missing = append(missing, "CAP_NET_RAW")
	}
	if !has(capBPF) && !has(capSysAdmin) {
		missing = append(missing, "CAP_BPF")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: AF_XDP needs root, or %s (missing %s): run as root, or setcap cap_net_admin,cap_net_raw,cap_bpf,cap_ipc_lock+ep on the binary",
		ErrPermission, "CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF", strings.Join(missing, ", "))
}

// bpfErr explains a failed bpf(2) operation.
func bpfErr(what string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %s needs CAP_BPF and CAP_NET_ADMIN (run as root): %v", ErrPermission, what, err)
	case errors.Is(err, ebpf.ErrNotSupported), errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: %s: this kernel lacks BPF support (CONFIG_BPF_SYSCALL): %v", ErrUnsupported, what, err)
	}
	return fmt.Errorf("afxdp: %s: %w", what, err)
}

// sockErr explains a failed AF_XDP socket call on interface ifname, queue.
func sockErr(what, ifname string, queue int, err error) error {
	switch {
	case errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("%w: this kernel has no AF_XDP sockets (build it with CONFIG_XDP_SOCKETS=y): %s: %v", ErrUnsupported, what, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %s on %s queue %d needs CAP_NET_RAW (run as root): %v", ErrPermission, what, ifname, queue, err)
	case errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.ENOMEM):
		return fmt.Errorf("afxdp: %s on %s queue %d: the kernel could not pin the slab as UMEM; raise the locked-memory limit (ulimit -l unlimited) or grant CAP_IPC_LOCK: %w", what, ifname, queue, err)
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("%w: %s queue %d already has an AF_XDP socket bound (another process or Device): %s: %v", ErrBusy, ifname, queue, what, err)
	}
	return fmt.Errorf("afxdp: %s on %s queue %d: %w", what, ifname, queue, err)
}
