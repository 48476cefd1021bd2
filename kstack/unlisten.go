package kstack

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Unlisten closes this shard's listening socket for port: connections the
// kernel has already completed are accepted (and served) first, then the
// socket is closed, so later SYNs go to other shards still listening on
// the port (SO_REUSEPORT) or, once none is, are refused by the kernel.
// Established connections go on. Shard thread only.
func (h *Host) Unlisten(port uint16) error {
	if h.closed {
		return ErrClosed
	}
	for _, l := range h.lns {
		if l.fd < 0 || l.addr.Port() != port {
			continue
		}
		h.accept(l, h.now)
		h.wheel.Cancel(&l.retry)
		unix.EpollCtl(h.epfd, unix.EPOLL_CTL_DEL, l.fd, nil)
		unix.Close(l.fd)
		l.fd = -1 // its slot in h.lns stays: epoll tokens are indices
		return nil
	}
	return fmt.Errorf("kstack: port %d: not listening on this shard", port)
}

// Open returns how many connections are open now. Shard thread only.
func (h *Host) Open() int { return h.stats.Open }
