//go:build linux

package tap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
)

// Limits of the kernel's tun driver.
const (
	// MaxQueues is the most queues one TAP device can have (MAX_TAP_QUEUES).
	MaxQueues = 256
	// MaxNameLen is the longest interface name (IFNAMSIZ less the NUL).
	MaxNameLen = 15
	// DefaultMTU is used when Config.MTU is zero.
	DefaultMTU = 1500

	minMTU = 68    // the IPv4 minimum (RFC 791)
	maxMTU = 65535 // tun's max_mtu

	// ethRoom is what a receive buffer needs beyond the MTU: an Ethernet
	// header, one VLAN tag (tun inserts an offloaded tag into the frame),
	// and one spare byte, because tun truncates an oversize frame silently
	// and only a buffer that is not filled proves the frame was whole.
	ethRoom = 14 + 4 + 1
)

// Config describes the TAP device to open.
type Config struct {
	// Name is the interface name, e.g. "shn0". Required, at most 15 bytes.
	Name string
	// Queues is the number of queues (fds), default 1, at most 256.
	// IFF_MULTI_QUEUE is always set, even for one queue.
	Queues int
	// VnetHdr uses IFF_VNET_HDR (a 12-byte virtio_net_hdr on every frame)
	// for checksum offload on transmit and DATA_VALID on receive.
	VnetHdr bool
	// MTU of the link (IP packet size), default 1500.
	MTU int
	// HostAddr, if valid, is the address/prefix given to the host side of
	// the TAP, e.g. 198.18.0.1/24.
	HostAddr netip.Prefix
	// NetNS, if open (> 0), is the network namespace to create the device
	// in; zero or -1 means the calling thread's current namespace. Open
	// neither keeps nor closes the handle.
	NetNS netns.NsHandle
}

// Device is an open multiqueue TAP device. Its methods are for the control
// path and safe for concurrent use; its queues belong to their shards.
type Device struct {
	name    string
	index   int
	mac     [6]byte
	mtu     int
	vnet    bool
	mu      sync.Mutex // guards claimed, closed
	queues  []*Queue
	claimed []bool
	closed  bool
}

// Open creates (or, for an idle persistent multiqueue TAP of that name,
// attaches to) the device, opens one non-blocking fd per queue, and
// configures the host side: MTU, address, link up. On error nothing stays
// open. Errors wrap ErrBadConfig, ErrBadName, ErrPermission, ErrNoTun,
// ErrNameInUse or ErrBusy where one applies.
func Open(cfg Config) (*Device, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	ns := cfg.NetNS
	other := ns > 0
	if !other {
		ns = netns.None()
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("tap: netlink socket in the target network namespace (%v): %w", ns, err)
	}
	defer h.Close()

	attach, err := checkName(h, cfg.Name)
	if err != nil {
		return nil, err
	}
	open := func() ([]int, error) { return openQueues(&cfg, attach) }
	var fds []int
	if other {
		fds, err = inNetNS(ns, open)
	} else {
		fds, err = open()
	}
	if err != nil {
		return nil, err
	}
	d := &Device{
		name:    cfg.Name,
		mtu:     cfg.MTU,
		vnet:    cfg.VnetHdr,
		queues:  make([]*Queue, len(fds)),
		claimed: make([]bool, len(fds)),
	}
	for i, fd := range fds {
		d.queues[i] = &Queue{fd: fd, index: uint16(i), vnet: cfg.VnetHdr, mtu: cfg.MTU}
	}
	if err := d.configure(h, &cfg); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (cfg *Config) normalize() error {
	if err := validName(cfg.Name); err != nil {
		return err
	}
	if cfg.Queues == 0 {
		cfg.Queues = 1
	}
	if cfg.Queues < 1 || cfg.Queues > MaxQueues {
		return fmt.Errorf("%w: Queues = %d, want 1..%d", ErrBadConfig, cfg.Queues, MaxQueues)
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.MTU < minMTU || cfg.MTU > maxMTU {
		return fmt.Errorf("%w: MTU = %d, want %d..%d", ErrBadConfig, cfg.MTU, minMTU, maxMTU)
	}
	if cfg.HostAddr.IsValid() && cfg.HostAddr.Addr().Zone() != "" {
		return fmt.Errorf("%w: HostAddr %v has a zone", ErrBadConfig, cfg.HostAddr)
	}
	return nil
}

// validName applies the kernel's dev_valid_name rules, and refuses '%'
// (a name template would let the kernel pick a name Open does not know).
func validName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: Config.Name is required (e.g. \"shn0\")", ErrBadName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %q is %d bytes long; interface names are at most %d bytes", ErrBadName, name, len(name), MaxNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is not allowed as an interface name", ErrBadName, name)
	case strings.ContainsAny(name, "/:% \t\n\v\f\r"):
		return fmt.Errorf("%w: %q holds '/', ':', '%%' or white space, which interface names may not", ErrBadName, name)
	}
	return nil
}

// checkName looks the name up in the target namespace. It reports attach
// = true for an idle persistent multiqueue TAP (Open joins it), false when
// the name is free, and an error when the name is taken otherwise.
func checkName(h *netlink.Handle, name string) (attach bool, err error) {
	link, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return false, nil
		}
		return false, netlinkErr("looking up the name", name, err)
	}
	tt, ok := link.(*netlink.Tuntap)
	switch {
	case !ok:
		return false, fmt.Errorf("%w: %s is already a %s device in this network namespace; choose another Config.Name or delete it (ip link del %s)",
			ErrNameInUse, name, link.Type(), name)
	case tt.Mode != netlink.TUNTAP_MODE_TAP:
		return false, fmt.Errorf("%w: %s is already a TUN (layer 3) device; choose another Config.Name or delete it (ip link del %s)",
			ErrNameInUse, name, name)
	case tt.Flags&netlink.TUNTAP_MULTI_QUEUE == 0:
		return false, fmt.Errorf("%w: %s is a single-queue TAP device; delete it, or recreate it with ip tuntap add mode tap multi_queue name %s",
			ErrNameInUse, name, name)
	case tt.Queues > 0:
		return false, fmt.Errorf("%w: TAP device %s already has %d queue(s) attached (another process or Device has it open)",
			ErrBusy, name, tt.Queues)
	}
	return true, nil
}

// openQueues opens /dev/net/tun cfg.Queues times and attaches each fd to
// the device. It must run on a thread in the target namespace: tun binds a
// file to the namespace of the thread that opened it. On error it closes
// what it opened.
func openQueues(cfg *Config, attach bool) (fds []int, err error) {
	defer func() {
		if err != nil {
			closeFds(fds)
			fds = nil
		}
	}()
	for i := 0; i < cfg.Queues; i++ {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fds, openTunErr(err)
		}
		fds = append(fds, fd)
		flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_MULTI_QUEUE)
		if cfg.VnetHdr {
			flags |= unix.IFF_VNET_HDR
		}
		if i == 0 && !attach {
			// Fail rather than join a device someone else made meanwhile.
			flags |= unix.IFF_TUN_EXCL
		}
		ifr, err := unix.NewIfreq(cfg.Name)
		if err != nil {
			return fds, fmt.Errorf("%w: %q: %v", ErrBadName, cfg.Name, err)
		}
		ifr.SetUint16(flags)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return fds, setIffErr(err, cfg.Name, i, attach)
		}
		if cfg.VnetHdr {
			if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetLen); err != nil {
				return fds, fmt.Errorf("tap: TUNSETVNETHDRSZ %d on %s: %w", vnetLen, cfg.Name, err)
			}
			if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETLE, 1); err != nil {
				return fds, fmt.Errorf("tap: TUNSETVNETLE on %s (needs Linux 4.0 or later; or run without VnetHdr): %w", cfg.Name, err)
			}
		}
	}
	return fds, nil
}

// inNetNS runs fn on a fresh goroutine whose locked thread is moved into
// target and back. If the thread cannot be moved back, the goroutine exits
// still locked, so the runtime discards the thread instead of reusing it.
func inNetNS(target netns.NsHandle, fn func() ([]int, error)) ([]int, error) {
	type result struct {
		fds []int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("tap: reading the thread's network namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			// setns failed: the thread did not move.
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("tap: entering network namespace %v (needs CAP_SYS_ADMIN): %w", target, err)}
			return
		}
		fds, ferr := fn()
		if err := netns.Set(orig); err != nil {
			closeFds(fds)
			ch <- result{err: fmt.Errorf("tap: returning the thread to its network namespace: %w", err)}
			return // still locked: the thread dies with this goroutine
		}
		runtime.UnlockOSThread()
		ch <- result{fds, ferr}
	}()
	r := <-ch
	return r.fds, r.err
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// configure sets MTU, address and up on the host side, skipping what is
// already so (an unprivileged owner of a persistent device can then open
// it), and records ifindex and MAC.
func (d *Device) configure(h *netlink.Handle, cfg *Config) error {
	link, err := h.LinkByName(d.name)
	if err != nil {
		return netlinkErr("looking up the new device", d.name, err)
	}
	if link.Attrs().MTU != cfg.MTU {
		if err := h.LinkSetMTU(link, cfg.MTU); err != nil {
			return netlinkErr(fmt.Sprintf("setting MTU %d", cfg.MTU), d.name, err)
		}
	}
	if p := cfg.HostAddr; p.IsValid() {
		addr := &netlink.Addr{IPNet: &net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}}
		have, err := h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return netlinkErr("listing addresses", d.name, err)
		}
		if !slices.ContainsFunc(have, addr.Equal) {
			if err := h.AddrReplace(link, addr); err != nil {
				return netlinkErr(fmt.Sprintf("adding address %v", p), d.name, err)
			}
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(link); err != nil {
			return netlinkErr("setting the link up", d.name, err)
		}
	}
	d.index = link.Attrs().Index
	copy(d.mac[:], link.Attrs().HardwareAddr)
	return nil
}

// Name is the interface name.
func (d *Device) Name() string { return d.name }

// HostMAC is the MAC address of the host (kernel) side of the TAP. The
// stack uses its own MAC (nic.Caps.HWAddr is zero).
func (d *Device) HostMAC() [6]byte { return d.mac }

// Index is the interface index in the device's namespace.
func (d *Device) Index() int { return d.index }

// NumQueues is the number of queues opened.
func (d *Device) NumQueues() int { return len(d.queues) }

// Queue hands queue i, in [0, NumQueues()), to the shard that owns slab;
// the queue receives into slab. Each queue can be taken once. The slab's
// frames must hold the MTU plus 19 bytes after the headroom (Ethernet, a
// VLAN tag, and a byte to detect truncation), and with VnetHdr the
// headroom must hold the 12-byte virtio header.
func (d *Device) Queue(i int, slab *buf.Slab) (nic.Queue, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return nil, fmt.Errorf("tap %s: %w", d.name, nic.ErrClosed)
	case i < 0 || i >= len(d.queues):
		return nil, fmt.Errorf("%w: tap %s: queue %d out of range [0, %d)", ErrBadConfig, d.name, i, len(d.queues))
	case d.claimed[i]:
		return nil, fmt.Errorf("%w: tap %s: queue %d was already taken", ErrBadConfig, d.name, i)
	case slab == nil:
		return nil, fmt.Errorf("%w: tap %s: queue %d needs a slab", ErrBadConfig, d.name, i)
	case slab.FrameSize()-slab.Headroom() < d.mtu+ethRoom:
		return nil, fmt.Errorf("%w: tap %s: slab frames leave %d bytes after the headroom, MTU %d needs %d (use a larger frame size)",
			ErrBadConfig, d.name, slab.FrameSize()-slab.Headroom(), d.mtu, d.mtu+ethRoom)
	case d.vnet && slab.Headroom() < vnetLen:
		return nil, fmt.Errorf("%w: tap %s: slab headroom %d cannot hold the %d-byte virtio header", ErrBadConfig, d.name, slab.Headroom(), vnetLen)
	}
	q := d.queues[i]
	if q.closed.Load() {
		return nil, fmt.Errorf("tap %s queue %d: %w", d.name, i, nic.ErrClosed)
	}
	d.claimed[i] = true
	q.bind(slab)
	return q, nil
}

// Close closes every queue's fd; a device that Open created disappears
// (a persistent one it attached to stays). Call it after every shard has
// stopped using its queue. Closing twice returns nil.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var first error
	for i, q := range d.queues {
		if err := q.closeFd(); err != nil && first == nil {
			first = fmt.Errorf("tap %s: closing queue %d: %w", d.name, i, err)
		}
	}
	return first
}
