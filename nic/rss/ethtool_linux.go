package rss

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolRxfh is struct ethtool_rxfh (linux/ethtool.h) without its
// flexible rss_config array: the indirection table (indir_size u32s) and
// then the key (key_size bytes) follow it in the same buffer.
type ethtoolRxfh struct {
	cmd        uint32
	rssContext uint32
	indirSize  uint32
	keySize    uint32
	hfunc      uint8
	inputXfrm  uint8
	_          [2]uint8
	_          uint32
}

const rxfhHeader = int(unsafe.Sizeof(ethtoolRxfh{})) // 24

// ifreqData is struct ifreq with its union holding a pointer.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// Read gets iface's RSS key, indirection table and hash function through
// the ethtool ioctl (ETHTOOL_GRSSH), in the calling thread's network
// namespace. Devices without RSS (veth, TAP, loopback) give
// ErrNotSupported; a device that hashes otherwise than with plain Toeplitz
// gives a Table and ErrNotToeplitz.
func Read(iface string) (*Table, error) {
	if len(iface) == 0 || len(iface) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("rss: interface name %q: want 1..15 bytes", iface)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("rss: socket for ethtool: %w", err)
	}
	defer unix.Close(fd)
	// First ask for the sizes, then for the contents.
	b := make([]byte, rxfhHeader)
	if err := grssh(fd, iface, b); err != nil {
		return nil, err
	}
	h := (*ethtoolRxfh)(unsafe.Pointer(&b[0]))
	indir, key := h.indirSize, h.keySize
	if indir == 0 || key == 0 {
		return nil, fmt.Errorf("%w: %s reports %d table entries and a %d-byte key", ErrNotSupported, iface, indir, key)
	}
	if indir > 1<<16 || key > 1<<10 {
		return nil, fmt.Errorf("rss: %s reports an implausible %d table entries and %d-byte key", iface, indir, key)
	}
	b = make([]byte, rxfhHeader+int(indir)*4+int(key))
	h = (*ethtoolRxfh)(unsafe.Pointer(&b[0]))
	h.indirSize, h.keySize = indir, key
	if err := grssh(fd, iface, b); err != nil {
		return nil, err
	}
	t := &Table{Indir: make([]uint32, indir), Key: make([]byte, key), HFunc: h.hfunc, InputXfrm: h.inputXfrm}
	for i := range t.Indir {
		t.Indir[i] = *(*uint32)(unsafe.Pointer(&b[rxfhHeader+4*i])) // host order, as the kernel wrote it
	}
	copy(t.Key, b[rxfhHeader+int(indir)*4:])
	return t, t.check()
}

// grssh runs ETHTOOL_GRSSH on b (header first, rest as sized in it).
func grssh(fd int, iface string, b []byte) error {
	h := (*ethtoolRxfh)(unsafe.Pointer(&b[0]))
	h.cmd = unix.ETHTOOL_GRSSH
	var ifr ifreqData
	copy(ifr.name[:], iface)
	ifr.data = unsafe.Pointer(&b[0])
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	switch {
	case errno == 0:
		return nil
	case errno == unix.EOPNOTSUPP || errno == unix.ENOTSUP:
		return fmt.Errorf("%w: %s (ETHTOOL_GRSSH: %v); veth and TAP queues are chosen by the sender, not by a hash", ErrNotSupported, iface, errno)
	case errno == unix.ENODEV:
		return fmt.Errorf("rss: no interface %q in this network namespace: %w", iface, errno)
	default:
		return fmt.Errorf("rss: ETHTOOL_GRSSH on %s: %w", iface, errno)
	}
}

// LinuxDefaultKey returns the kernel's boot-time RSS key (net.core.
// netdev_rss_key): the key of every driver that does not choose its own.
// The kernel fills it when the first such driver asks; until then it is
// all zeros and LinuxDefaultKey returns ErrNotSupported.
func LinuxDefaultKey() ([]byte, error) {
	b, err := os.ReadFile("/proc/sys/net/core/netdev_rss_key")
	if err != nil {
		return nil, fmt.Errorf("rss: reading the kernel's RSS key: %w", err)
	}
	return parseKey(string(bytes.TrimSpace(b)))
}

// parseKey reads a key written as colon-separated hex bytes.
func parseKey(s string) ([]byte, error) {
	parts := strings.Split(s, ":")
	key := make([]byte, len(parts))
	zero := true
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil || len(p) != 2 {
			return nil, fmt.Errorf("rss: key byte %d %q: want two hex digits", i, p)
		}
		key[i] = byte(v)
		zero = zero && v == 0
	}
	if zero {
		return nil, fmt.Errorf("%w: the kernel's RSS key is not set yet (no driver has asked for it)", ErrNotSupported)
	}
	return key, nil
}
