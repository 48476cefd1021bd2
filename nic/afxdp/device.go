//go:build linux

package afxdp

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
)

// Mode is how the XDP program is attached.
type Mode int

const (
	// ModeAuto tries driver (native) mode, then generic mode.
	ModeAuto Mode = iota
	// ModeDriver runs the program in the driver's receive path; fails if
	// the driver has no native XDP.
	ModeDriver
	// ModeGeneric (SKB mode) runs the program after the kernel has built
	// an skb: works on any interface, slower.
	ModeGeneric
)

func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeDriver:
		return "driver"
	case ModeGeneric:
		return "generic"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

func (m Mode) flags() link.XDPAttachFlags {
	if m == ModeGeneric {
		return link.XDPGenericMode
	}
	return link.XDPDriverMode
}

// Defaults and limits.
const (
	DefaultRingSize = 2048
	MinRingSize     = 64
	MaxRingSize     = 16384
	// MaxQueues bounds Config.Queues (the XSKMAP has one slot per queue).
	MaxQueues = 256
	// xdpHeadroom is XDP_PACKET_HEADROOM: the kernel puts received data
	// this far into a UMEM frame, after the UMEM headroom.
	xdpHeadroom = unix.XDP_PACKET_HEADROOM
	// minFrame is XDP_UMEM_MIN_CHUNK_SIZE; aligned UMEM frames are at most
	// one page.
	minFrame = 2048
)

// Config describes the interface and queues to drive.
type Config struct {
	// Iface is the interface name, e.g. "eth0". Required.
	Iface string
	// Queues is the number of AF_XDP sockets, one per receive queue:
	// queue i is the interface's RX queue i. Default 1.
	Queues int
	// Addr is the stack's IPv4 address: IPv4 frames to it, and ARP whose
	// target is it, are redirected to the sockets. Required.
	Addr [4]byte
	// Mode selects driver or generic XDP; ModeAuto (the default) tries
	// driver mode first.
	Mode Mode
	// ZeroCopy asks for zero-copy sockets, falling back to copy mode when
	// the driver cannot.
	ZeroCopy bool
	// RingSize is the entries per ring (RX, TX, fill, completion), a power
	// of two in [64, 16384]; default 2048.
	RingSize int
	// NetNS, if open (> 0), is the network namespace the interface lives
	// in; zero or -1 means the calling thread's. Open duplicates the
	// handle; the caller keeps (and closes) its own.
	NetNS netns.NsHandle
}

// Device is an interface with shardnet's XDP program attached. Its methods
// are for the control path and safe for concurrent use; its queues belong
// to their shards.
type Device struct {
	name     string
	ifindex  int
	mac      [6]byte
	mtu      int
	nqueues  int
	hwqueues int // the interface's queues (≥ nqueues)
	ringSize uint32
	zc       bool
	ns       netns.NsHandle // our dup, or -1
	mode     Mode           // the mode the program is attached in

	prog *ebpf.Program
	xsks *ebpf.Map
	lnk  link.Link

	mu      sync.Mutex // guards queues, closed
	queues  []*Queue
	closed  bool
	replace string // what Open replaced, for the log; "" if nothing
}

// Open checks the interface, loads the steering program, and attaches it
// (driver mode first under ModeAuto). The program is attached through a
// BPF link that is not pinned, so the kernel detaches it when the process
// exits, however it exits; a shardnet program left attached the old way
// (netlink, not a link) is recognised by its name and replaced. Sockets are
// made by Queue. On error nothing stays attached or open.
func Open(cfg Config) (_ *Device, err error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	if err := checkCaps(); err != nil {
		return nil, err
	}
	d := &Device{name: cfg.Iface, ringSize: uint32(cfg.RingSize), zc: cfg.ZeroCopy, ns: -1, queues: make([]*Queue, cfg.Queues)}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if cfg.NetNS > 0 {
		fd, err := unix.FcntlInt(uintptr(cfg.NetNS), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("afxdp: duplicating the network namespace handle: %w", err)
		}
		d.ns = netns.NsHandle(fd)
	}
	if err = d.inNS(func() error { return d.probe(cfg.Queues) }); err != nil {
		return nil, err
	}
	if d.xsks, err = newXSKMap(cfg.Queues); err != nil {
		return nil, bpfErr("creating the XSKMAP", err)
	}
	if d.prog, err = loadProgram(d.xsks, cfg.Addr, xdpPass); err != nil {
		return nil, err
	}
	if err = d.inNS(func() error { return d.attach(cfg.Mode) }); err != nil {
		return nil, err
	}
	return d, nil
}

func (cfg *Config) normalize() error {
	if cfg.Iface == "" || len(cfg.Iface) >= unix.IFNAMSIZ {
		return fmt.Errorf("%w: Iface %q: give the interface name (at most 15 bytes)", ErrBadConfig, cfg.Iface)
	}
	if cfg.Queues == 0 {
		cfg.Queues = 1
	}
	if cfg.Queues < 1 || cfg.Queues > MaxQueues {
		return fmt.Errorf("%w: Queues = %d, want 1..%d", ErrBadConfig, cfg.Queues, MaxQueues)
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.RingSize < MinRingSize || cfg.RingSize > MaxRingSize || cfg.RingSize&(cfg.RingSize-1) != 0 {
		return fmt.Errorf("%w: RingSize = %d, want a power of two in %d..%d", ErrBadConfig, cfg.RingSize, MinRingSize, MaxRingSize)
	}
	if cfg.Addr == ([4]byte{}) {
		return fmt.Errorf("%w: Addr is required (the stack's IPv4 address, whose frames are redirected)", ErrBadConfig)
	}
	if cfg.Mode < ModeAuto || cfg.Mode > ModeGeneric {
		return fmt.Errorf("%w: Mode %v", ErrBadConfig, cfg.Mode)
	}
	return nil
}

// probe looks the interface up and checks its queues and MTU. It runs in
// the target namespace.
func (d *Device) probe(queues int) error {
	l, err := netlink.LinkByName(d.name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("%w: %s is not in this network namespace (ip link show)", ErrNoDevice, d.name)
		}
		return fmt.Errorf("afxdp: looking up %s: %w", d.name, err)
	}
	a := l.Attrs()
	d.ifindex = a.Index
	d.mtu = a.MTU
	copy(d.mac[:], a.HardwareAddr)
	if len(a.HardwareAddr) != 6 {
		return fmt.Errorf("%w: %s is a %s link without an Ethernet address; AF_XDP here needs an Ethernet interface", ErrBadConfig, d.name, l.Type())
	}
	if d.mtu+ethHdrLen+xdpHeadroom > os.Getpagesize() {
		return fmt.Errorf("%w: %s has MTU %d, but an AF_XDP frame is at most a page (%d bytes) less %d of headroom and %d of Ethernet header; lower it (ip link set dev %s mtu 1500)",
			ErrMTU, d.name, d.mtu, os.Getpagesize(), xdpHeadroom, ethHdrLen, d.name)
	}
	have, how := queueCount(d.name, a)
	if have < queues {
		return fmt.Errorf("%w: %s has %d queue(s) (%s), %d asked; raise it with ethtool -L %s combined %d, or run fewer shards",
			ErrQueues, d.name, have, how, queues, d.name, queues)
	}
	d.nqueues, d.hwqueues = queues, have
	return nil
}

// queueCount is how many queues AF_XDP can bind on: ethtool's channel
// counts (combined plus dedicated RX, and TX, whichever is smaller), or,
// for a driver without ethtool channels, the device's real queue counts.
func queueCount(name string, a *netlink.LinkAttrs) (int, string) {
	if ch, err := getChannels(name); err == nil {
		rx, tx := int(ch.combined+ch.rx), int(ch.combined+ch.tx)
		if rx > 0 && tx > 0 {
			return min(rx, tx), "ethtool -l"
		}
	}
	return min(a.NumRxQueues, a.NumTxQueues), "from its RX/TX queue counts"
}

type channels struct{ rx, tx, combined uint32 }

// getChannels runs ETHTOOL_GCHANNELS.
func getChannels(name string) (channels, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return channels{}, err
	}
	defer unix.Close(fd)
	var ec struct {
		cmd, maxRx, maxTx, maxOther, maxCombined, rx, tx, other, combined uint32
	}
	ec.cmd = unix.ETHTOOL_GCHANNELS
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], name)
	ifr.data = uintptr(unsafePointer(&ec))
	if err := ioctl(fd, unix.SIOCETHTOOL, unsafePointer(&ifr)); err != nil {
		return channels{}, err
	}
	runtime.KeepAlive(&ec)
	return channels{rx: ec.rx, tx: ec.tx, combined: ec.combined}, nil
}

// attach attaches the program in the requested mode, replacing a stale
// shardnet program once. It runs in the target namespace.
func (d *Device) attach(mode Mode) error {
	modes := []Mode{mode}
	if mode == ModeAuto {
		modes = []Mode{ModeDriver, ModeGeneric}
	}
	var errs []error
	for _, m := range modes {
		l, err := link.AttachXDP(link.XDPOptions{Program: d.prog, Interface: d.ifindex, Flags: m.flags()})
		if err != nil && (errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST)) {
			if rerr := d.replaceStale(); rerr != nil {
				return rerr
			}
			l, err = link.AttachXDP(link.XDPOptions{Program: d.prog, Interface: d.ifindex, Flags: m.flags()})
		}
		if err == nil {
			d.lnk, d.mode = l, m
			return nil
		}
		switch {
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return fmt.Errorf("%w: attaching XDP to %s needs CAP_NET_ADMIN (run as root): %v", ErrPermission, d.name, err)
		case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EEXIST):
			return fmt.Errorf("%w: %s: another XDP program is attached and could not be replaced: %v", ErrBusy, d.name, err)
		}
		errs = append(errs, fmt.Errorf("%s mode: %w", m, err))
	}
	return fmt.Errorf("%w: attaching XDP to %s failed (%v); the driver may lack native XDP (use Mode generic) or the kernel lacks XDP links (Linux 5.9+)",
		ErrUnsupported, d.name, errors.Join(errs...))
}

// replaceStale removes an XDP program left on the interface by an earlier
// shardnet run that attached it through netlink. A program of another name,
// or one held by a live BPF link (a running process), is not touched.
func (d *Device) replaceStale() error {
	l, err := netlink.LinkByIndex(d.ifindex)
	if err != nil {
		return fmt.Errorf("afxdp: looking up %s: %w", d.name, err)
	}
	x := l.Attrs().Xdp
	if x == nil || !x.Attached || x.ProgId == 0 {
		return nil // raced with a detach: retry the attach
	}
	name := "?"
	if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(x.ProgId)); err == nil {
		if info, err := p.Info(); err == nil {
			name = info.Name
		}
		p.Close()
	}
	if name != ProgName {
		return fmt.Errorf("%w: %s already has XDP program %q (id %d) attached; remove it (ip link set dev %s xdp off) or use another interface",
			ErrBusy, d.name, name, x.ProgId, d.name)
	}
	var flags int
	switch x.AttachMode {
	case xdpAttachedDrv:
		flags = unix.XDP_FLAGS_DRV_MODE
	case xdpAttachedSKB:
		flags = unix.XDP_FLAGS_SKB_MODE
	}
	if err := netlink.LinkSetXdpFdWithFlags(l, -1, flags); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("%w: %s has shardnet's XDP program (id %d) attached by a running process; stop it first", ErrBusy, d.name, x.ProgId)
		}
		return fmt.Errorf("afxdp: removing stale XDP program %d from %s: %w", x.ProgId, d.name, err)
	}
	d.replace = fmt.Sprintf("stale %s program id %d", ProgName, x.ProgId)
	return nil
}

// IFLA_XDP_ATTACHED values.
const (
	xdpAttachedDrv = 1
	xdpAttachedSKB = 2
)

// inNS runs fn on a locked OS thread moved into the device's namespace (or
// directly, without one). If the thread cannot be moved back it is retired.
func (d *Device) inNS(fn func() error) error {
	if d.ns < 0 {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("afxdp: reading the thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(d.ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("afxdp: entering the network namespace (needs CAP_SYS_ADMIN): %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("afxdp: returning the thread to its network namespace: %w", err))
			return // still locked: the thread dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Name is the interface name.
func (d *Device) Name() string { return d.name }

// Index is the interface index in its namespace.
func (d *Device) Index() int { return d.ifindex }

// HWAddr is the interface's MAC address: the stack uses it as its own
// (nic.Caps.HWAddr), sharing the link with the host.
func (d *Device) HWAddr() [6]byte { return d.mac }

// MTU is the interface MTU read at Open.
func (d *Device) MTU() int { return d.mtu }

// NumQueues is Config.Queues.
func (d *Device) NumQueues() int { return d.nqueues }

// HWQueues is how many queues the interface has. Frames the NIC steers to
// a queue at or above NumQueues have no socket: the XDP program passes
// them to the kernel, which does not know the stack's address, so such
// flows fail. Run one shard per queue, or lower the queue count
// (ethtool -L <iface> combined <shards>).
func (d *Device) HWQueues() int { return d.hwqueues }

// Mode is the mode the program was attached in (driver or generic).
func (d *Device) Mode() Mode { return d.mode }

// Replaced describes the stale program Open removed, or is "".
func (d *Device) Replaced() string { return d.replace }

// ProgramID is the kernel's id of the attached program, 0 if unknown.
func (d *Device) ProgramID() uint32 {
	if d.prog == nil {
		return 0
	}
	info, err := d.prog.Info()
	if err != nil {
		return 0
	}
	id, _ := info.ID()
	return uint32(id)
}

// Queue opens the AF_XDP socket for RX queue i, in [0, NumQueues()), and
// hands it to the shard that owns slab. The slab's arena becomes the
// socket's UMEM: it must hold frames of 2048 bytes up to a page, and each
// frame must hold the MTU plus an Ethernet header after max(slab headroom,
// 256) bytes. Each queue can be taken once.
func (d *Device) Queue(i int, slab *buf.Slab) (nic.Queue, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return nil, fmt.Errorf("afxdp %s: %w", d.name, nic.ErrClosed)
	case i < 0 || i >= d.nqueues:
		return nil, fmt.Errorf("%w: afxdp %s: queue %d out of range [0, %d)", ErrBadConfig, d.name, i, d.nqueues)
	case d.queues[i] != nil:
		return nil, fmt.Errorf("%w: afxdp %s: queue %d was already taken", ErrBadConfig, d.name, i)
	case slab == nil:
		return nil, fmt.Errorf("%w: afxdp %s: queue %d needs a slab", ErrBadConfig, d.name, i)
	}
	fs := slab.FrameSize()
	if fs < minFrame || fs > os.Getpagesize() {
		return nil, fmt.Errorf("%w: afxdp %s: slab frame size %d; AF_XDP frames must be %d..%d bytes (a page)", ErrBadConfig, d.name, fs, minFrame, os.Getpagesize())
	}
	umemHead := max(slab.Headroom()-xdpHeadroom, 0)
	rxOff := umemHead + xdpHeadroom
	if rxOff+ethHdrLen+d.mtu > fs {
		return nil, fmt.Errorf("%w: afxdp %s: MTU %d needs %d bytes per frame (%d headroom + %d Ethernet + MTU) but the slab's frames are %d; use %d-byte frames or lower the MTU (ip link set dev %s mtu %d)",
			ErrMTU, d.name, d.mtu, rxOff+ethHdrLen+d.mtu, rxOff, ethHdrLen, fs, 2*fs, d.name, fs-rxOff-ethHdrLen)
	}
	if slab.Frames() < 2*MinRingSize {
		return nil, fmt.Errorf("%w: afxdp %s: slab has %d frames; AF_XDP needs at least %d (half are kept in the fill ring)", ErrBadConfig, d.name, slab.Frames(), 2*MinRingSize)
	}
	q := &Queue{dev: d, index: uint16(i), slab: slab, mtu: d.mtu, mac: d.mac}
	err := d.inNS(func() error { return q.open(d.ifindex, d.ringSize, uint32(umemHead), d.zc && d.mode == ModeDriver) })
	if err != nil {
		return nil, err
	}
	if err := d.xsks.Put(uint32(i), uint32(q.fd)); err != nil {
		q.Close()
		return nil, bpfErr(fmt.Sprintf("adding queue %d's socket to the XSKMAP", i), err)
	}
	q.refill()
	d.queues[i] = q
	return q, nil
}

// Close detaches the XDP program (the interface's traffic all goes to the
// kernel again) and closes every queue's socket; each shard must still
// call its Queue's Close to unmap the rings and get its frames back. Call
// it after the shards have stopped. Closing twice returns nil.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	if d.lnk != nil {
		if err := d.lnk.Close(); err != nil {
			errs = append(errs, fmt.Errorf("afxdp %s: detaching XDP: %w", d.name, err))
		}
	}
	for _, q := range d.queues {
		if q != nil {
			q.closeFd()
		}
	}
	if d.prog != nil {
		d.prog.Close()
	}
	if d.xsks != nil {
		d.xsks.Close()
	}
	if d.ns >= 0 {
		d.ns.Close()
	}
	return errors.Join(errs...)
}
