package kstack

import (
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/stream"
)

// System calls the data path makes without x/sys/unix's conveniences,
// which allocate: accept4 into a caller-owned sockaddr (unix.Accept4
// returns a freshly allocated Sockaddr) and writev over a caller-owned
// iovec array (unix.Writev builds one per call).

// accept4 accepts one connection on lfd into *sa.
func accept4(lfd int, sa *unix.RawSockaddrInet4, salen *uint32) (int, unix.Errno) {
	*salen = unix.SizeofSockaddrInet4
	fd, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(sa)),
		uintptr(unsafe.Pointer(salen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	return int(fd), e
}

// writev writes iov[:n] to fd.
func writev(fd int, iov *[2]unix.Iovec, n int) (int, unix.Errno) {
	r, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
	return int(r), e
}

// write writes b to fd.
func write(fd int, b []byte) (int, unix.Errno) {
	r, _, e := unix.Syscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	return int(r), e
}

// read reads into b from fd.
func read(fd int, b []byte) (int, unix.Errno) {
	r, _, e := unix.Syscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	return int(r), e
}

// port reads a sockaddr's network-order port.
func port(sa *unix.RawSockaddrInet4) uint16 {
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	return uint16(p[0])<<8 | uint16(p[1])
}

// reusePortSocket returns a non-blocking TCP socket bound to addr:port
// with SO_REUSEADDR and SO_REUSEPORT (port 0: an ephemeral port), and the
// address it is bound to. It does not listen.
func reusePortSocket(addr netip.Addr, port uint16) (int, netip.AddrPort, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, netip.AddrPort{}, fmt.Errorf("kstack: socket: %w", err)
	}
	fail := func(what string, err error) (int, netip.AddrPort, error) {
		unix.Close(fd)
		return -1, netip.AddrPort{}, fmt.Errorf("kstack: %s %s: %w", what, netip.AddrPortFrom(addr, port), err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fail("SO_REUSEPORT", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(port), Addr: addr.As4()}); err != nil {
		return fail("bind", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return fail("getsockname", fmt.Errorf("unexpected address %T", sa))
	}
	return fd, netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)), nil
}

// listenSocket is reusePortSocket plus listen(2).
func listenSocket(addr netip.Addr, port uint16, backlog int) (int, netip.AddrPort, error) {
	fd, bound, err := reusePortSocket(addr, port)
	if err != nil {
		return -1, bound, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return -1, bound, fmt.Errorf("kstack: listen %s: %w", bound, err)
	}
	return fd, bound, nil
}

// closeReason maps a socket error to why the connection ended.
func closeReason(e unix.Errno) stream.CloseReason {
	switch e {
	case unix.ECONNRESET, unix.EPIPE:
		return stream.CloseReset
	case unix.ETIMEDOUT, unix.EHOSTUNREACH, unix.ENETUNREACH:
		return stream.CloseTimeout
	}
	return stream.CloseError
}
