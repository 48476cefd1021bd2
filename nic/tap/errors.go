//go:build linux

package tap

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Sentinel errors. Open and Device.Queue wrap them with %w in a message
// that names the device and says what to do; test with errors.Is.
var (
	// ErrBadConfig: a Config or slab value that cannot work.
	ErrBadConfig = errors.New("tap: bad configuration")
	// ErrBadName: Config.Name is empty, longer than 15 bytes, or holds a
	// character the kernel refuses in interface names.
	ErrBadName = errors.New("tap: bad interface name")
	// ErrPermission: the process lacks CAP_NET_ADMIN (or access to
	// /dev/net/tun, or ownership of a persistent device).
	ErrPermission = errors.New("tap: permission denied")
	// ErrNoTun: /dev/net/tun is missing or the tun module is not loaded.
	ErrNoTun = errors.New("tap: no /dev/net/tun")
	// ErrNameInUse: the name belongs to a device that is not a multiqueue
	// TAP (a veth, a dummy, a TUN, a single-queue TAP).
	ErrNameInUse = errors.New("tap: interface name in use")
	// ErrBusy: the name is a multiqueue TAP that already has queues
	// attached (another process, or another Device, has it open).
	ErrBusy = errors.New("tap: device busy")
)

// openTunErr explains a failed open("/dev/net/tun").
func openTunErr(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
		return fmt.Errorf("%w: load the tun module (modprobe tun) (open /dev/net/tun: %v)", ErrNoTun, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: cannot open /dev/net/tun: run as root, or setcap cap_net_admin+ep on the binary (%v)", ErrPermission, err)
	case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE):
		return fmt.Errorf("tap: open /dev/net/tun: out of file descriptors (raise ulimit -n): %w", err)
	}
	return fmt.Errorf("tap: open /dev/net/tun: %w", err)
}

// setIffErr explains a failed TUNSETIFF for queue i of device name.
// attach says whether Open meant to join an existing persistent device.
func setIffErr(err error, name string, i int, attach bool) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		if attach {
			return fmt.Errorf("%w: attaching to persistent TAP device %s needs its owner's uid/gid or CAP_NET_ADMIN (recreate it with ip tuntap add mode tap multi_queue user <you> name %s, or run as root): %v",
				ErrPermission, name, name, err)
		}
		return fmt.Errorf("%w: creating TAP device %s needs root or CAP_NET_ADMIN (run as root, or setcap cap_net_admin+ep on the binary): %v",
			ErrPermission, name, err)
	case errors.Is(err, unix.EBUSY):
		if i == 0 && !attach {
			return fmt.Errorf("%w: a device named %s appeared while it was being created; choose another Config.Name: %v", ErrNameInUse, name, err)
		}
		return fmt.Errorf("%w: TAP device %s is already attached to this file (queue %d): %v", ErrBusy, name, i, err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("%w: %s exists but is not a multiqueue TAP device with these flags; choose another Config.Name or delete it (ip link del %s): %v",
			ErrNameInUse, name, name, err)
	case errors.Is(err, unix.E2BIG):
		return fmt.Errorf("%w: TAP device %s has no room for queue %d (the kernel allows 256 queues): %v", ErrBadConfig, name, i, err)
	}
	return fmt.Errorf("tap: TUNSETIFF %s (queue %d): %w", name, i, err)
}

// netlinkErr explains a failed netlink request on the host side.
func netlinkErr(what, name string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: %s on %s needs root or CAP_NET_ADMIN (run as root, or setcap cap_net_admin+ep on the binary): %v",
			ErrPermission, what, name, err)
	}
	return fmt.Errorf("tap: %s on %s: %w", what, name, err)
}
