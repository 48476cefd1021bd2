package kstack

import (
	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/stream"
)

// Conn is one accepted kernel socket; it implements stream.Conn. It
// belongs to its Host's thread and is valid from OnOpen until OnClose
// returns, after which the object serves another connection.
type Conn struct {
	h   *Host
	id  int32  // index in h.all: the epoll token
	gen uint32 // bumped when the object is released
	fd  int

	handler stream.Handler
	ctx     any
	raddr   [4]byte
	rport   uint16

	// Receive buffer: unconsumed bytes are rbuf[rhead:rtail]. It grows up
	// to Config.RecvBuf.
	rbuf         []byte
	rhead, rtail int

	// Send ring: slen bytes from shead, wrapping. It grows up to
	// Config.SendBuf.
	sbuf        []byte
	shead, slen int

	open         bool // between start and release: OnClose not yet run
	readable     bool // the socket may have bytes (no EAGAIN or short read since the last event)
	rdhup        bool // the peer's FIN (or a hang-up) is known: read until EOF
	peerClosed   bool // EOF read; OnPeerClosed ran
	writeBlocked bool // the kernel's send buffer is full: wait for EPOLLOUT
	wantWritable bool // a Write came up short: OnWritable owed
	closing      bool // Close called: FIN after the buffered bytes
	finSent      bool // shutdown(SHUT_WR) done
	busy         bool // inside OnData for this connection
	noDelay      bool
	inRunq       bool
	inDirty      bool
}

var _ stream.Conn = (*Conn)(nil)

func (c *Conn) start(fd int, h stream.Handler, addr [4]byte, port uint16, noDelay bool) {
	c.fd = fd
	c.handler = h
	c.raddr, c.rport = addr, port
	c.noDelay = noDelay
	c.open = true
}

// live reports whether c is still the incarnation gen.
func (c *Conn) live(gen uint32) bool { return c.open && c.gen == gen }

// Write copies as much of b as fits into the send buffer and returns how
// much; the bytes go to the kernel at the end of the loop iteration,
// together with everything else written to c in it. When it returns less
// than len(b), OnWritable follows once half the buffer is free. After
// Close it returns 0.
func (c *Conn) Write(b []byte, now int64) int {
	if !c.open || c.closing || len(b) == 0 {
		return 0
	}
	n := c.sendAppend(b)
	if n < len(b) {
		c.wantWritable = true
	}
	if n > 0 {
		c.h.markDirty(c)
	}
	return n
}

// WriteSpace is how many bytes Write would take now.
func (c *Conn) WriteSpace() int {
	if !c.open || c.closing {
		return 0
	}
	return c.h.cfg.SendBuf - c.slen
}

// Buffered is how many written bytes have not yet been handed to the
// kernel.
func (c *Conn) Buffered() int { return c.slen }

// Unread is how many received bytes the application has not consumed.
func (c *Conn) Unread() int { return c.rtail - c.rhead }

// Resume offers the unconsumed received bytes to OnData again, and reads
// the socket again in this iteration if consuming them made room. Inside
// this connection's own OnData it does nothing (return a larger count
// instead).
func (c *Conn) Resume(now int64) {
	if !c.open || c.busy {
		return
	}
	gen := c.gen
	c.offer(now)
	if c.live(gen) && c.readable && !c.peerClosed {
		c.h.enqueueRead(c)
	}
}

// Close half-closes our direction: the buffered bytes are flushed and
// then a FIN sent (shutdown(SHUT_WR)). Received bytes keep arriving until
// the peer closes too; then the socket is closed and OnClose runs with
// CloseNormal.
func (c *Conn) Close(now int64) {
	if !c.open || c.closing {
		return
	}
	c.closing = true
	c.wantWritable = false
	c.h.markDirty(c)
}

// Abort resets the connection: unsent bytes are discarded, SO_LINGER
// {1, 0} makes close(2) send a RST, and OnClose runs with CloseAborted
// before Abort returns.
func (c *Conn) Abort(now int64) {
	if !c.open {
		return
	}
	unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &c.h.linger)
	c.h.finish(c, stream.CloseAborted, now)
}

// SetContext attaches one application value to the connection (cleared
// when it closes).
func (c *Conn) SetContext(v any) { c.ctx = v }

// Context returns the value set with SetContext.
func (c *Conn) Context() any { return c.ctx }

// RemoteAddr is the peer's IPv4 address and port.
func (c *Conn) RemoteAddr() ([4]byte, uint16) { return c.raddr, c.rport }

// SetNoDelay sets TCP_NODELAY (true: Nagle's algorithm off). It makes a
// system call only when the setting changes.
func (c *Conn) SetNoDelay(on bool) {
	if !c.open || c.noDelay == on {
		return
	}
	v := 0
	if on {
		v = 1
	}
	if unix.SetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, v) == nil {
		c.noDelay = on
	}
}

// ---- receive side ----

// read reads c until EAGAIN, a short read, EOF, a full receive buffer or
// the per-iteration budget, handing what arrives to OnData. A connection
// still readable after its budget is queued for the next iteration.
func (h *Host) read(c *Conn, now int64) {
	gen := c.gen
	for budget := readBudget; budget > 0; {
		if !c.live(gen) || !c.readable || c.peerClosed {
			return
		}
		direct := c.Unread() == 0
		var p []byte
		if direct {
			// Read no more than the receive buffer could keep if OnData
			// consumes nothing.
			p = h.scratch[:min(len(h.scratch), h.cfg.RecvBuf)]
		} else if p = c.recvSpace(); len(p) == 0 {
			return // full: not read again until the application consumes (Resume)
		}
		n, e := read(c.fd, p)
		h.stats.Reads++
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			c.readable = false
			return
		case e != 0:
			h.fail(c, e, now)
			return
		case n == 0:
			c.readable = false
			h.peerEOF(c, now)
			return
		}
		h.stats.BytesIn += uint64(n)
		budget -= n
		if direct {
			c.deliver(p[:n], now)
		} else {
			c.rtail += n
			c.offer(now)
		}
		if n < len(p) && !c.rdhup && c.live(gen) {
			// A short read took all there was; epoll reports what
			// arrives after it. (With the peer's FIN known we read on,
			// to see the EOF.)
			c.readable = false
			return
		}
	}
	if c.live(gen) && c.readable && !c.peerClosed {
		h.enqueueRead(c)
	}
}

// deliver offers freshly read bytes (in the scratch buffer, nothing
// unconsumed before them) and keeps what OnData leaves.
func (c *Conn) deliver(data []byte, now int64) {
	gen := c.gen
	c.busy = true
	k := c.handler.OnData(c, data, now)
	if !c.live(gen) {
		return
	}
	c.busy = false
	k = max(0, min(k, len(data)))
	if k < len(data) {
		c.keep(data[k:])
	}
}

// offer hands the unconsumed bytes to OnData again.
func (c *Conn) offer(now int64) {
	if c.rtail == c.rhead {
		return
	}
	gen := c.gen
	d := c.rbuf[c.rhead:c.rtail]
	c.busy = true
	k := c.handler.OnData(c, d, now)
	if !c.live(gen) {
		return
	}
	c.busy = false
	c.rhead += max(0, min(k, len(d)))
	if c.rhead == c.rtail {
		c.rhead, c.rtail = 0, 0
	}
}

// keep stores b, the unconsumed rest of a scratch read, into the empty
// receive buffer (it fits: reads are no bigger than Config.RecvBuf).
func (c *Conn) keep(b []byte) {
	if len(c.rbuf) < len(b) {
		c.rbuf = make([]byte, c.grownSize(len(c.rbuf), len(b), c.h.cfg.RecvBuf))
	}
	c.rhead, c.rtail = 0, copy(c.rbuf, b)
}

// recvSpace returns the free space after the unconsumed bytes, moving
// them to the front and growing the buffer first when that helps. Empty
// means the buffer is full.
func (c *Conn) recvSpace() []byte {
	if c.rhead > 0 {
		c.rtail = copy(c.rbuf, c.rbuf[c.rhead:c.rtail])
		c.rhead = 0
	}
	limit := c.h.cfg.RecvBuf
	if free := len(c.rbuf) - c.rtail; free < initialBuf && len(c.rbuf) < limit {
		nb := make([]byte, c.grownSize(len(c.rbuf), c.rtail+initialBuf, limit))
		copy(nb, c.rbuf[:c.rtail])
		c.rbuf = nb
	}
	return c.rbuf[c.rtail:]
}

// grownSize is the next size of a buffer of size cur that must hold need
// bytes, doubling from initialBuf, at most limit.
func (c *Conn) grownSize(cur, need, limit int) int {
	n := max(cur*2, initialBuf)
	for n < need {
		n *= 2
	}
	return min(n, limit)
}

// peerEOF: read(2) returned 0.
func (h *Host) peerEOF(c *Conn, now int64) {
	gen := c.gen
	c.peerClosed = true
	c.handler.OnPeerClosed(c, now)
	if c.live(gen) && c.finSent {
		h.finish(c, stream.CloseNormal, now)
	}
}

// ---- send side ----

// sendAppend copies what fits of b into the send ring.
func (c *Conn) sendAppend(b []byte) int {
	limit := c.h.cfg.SendBuf
	if need := c.slen + len(b); need > len(c.sbuf) && len(c.sbuf) < limit {
		nb := make([]byte, c.grownSize(len(c.sbuf), need, limit))
		c.ringCopy(nb)
		c.sbuf, c.shead = nb, 0
	}
	n := min(len(b), len(c.sbuf)-c.slen)
	tail := c.shead + c.slen
	if tail >= len(c.sbuf) {
		tail -= len(c.sbuf)
	}
	k := copy(c.sbuf[tail:], b[:n])
	copy(c.sbuf, b[k:n])
	c.slen += n
	return n
}

// ringCopy copies the ring's bytes, in order, to the front of dst.
func (c *Conn) ringCopy(dst []byte) {
	k := copy(dst, c.sbuf[c.shead:min(c.shead+c.slen, len(c.sbuf))])
	copy(dst[k:], c.sbuf[:c.slen-k])
}

// flush hands the send ring to the kernel with one write(2) or writev(2),
// sends the FIN once the ring is empty after Close, and calls OnWritable
// when a short Write is owed it.
func (h *Host) flush(c *Conn, now int64) {
	if c.slen > 0 && !c.writeBlocked {
		first := c.sbuf[c.shead:min(c.shead+c.slen, len(c.sbuf))]
		var n int
		var e unix.Errno
		if len(first) == c.slen {
			n, e = write(c.fd, first)
		} else {
			second := c.sbuf[:c.slen-len(first)]
			h.iov[0].Base, h.iov[1].Base = &first[0], &second[0]
			h.iov[0].SetLen(len(first))
			h.iov[1].SetLen(len(second))
			n, e = writev(c.fd, &h.iov, 2)
			h.iov[0].Base, h.iov[1].Base = nil, nil
		}
		h.stats.Writes++
		switch e {
		case 0:
		case unix.EAGAIN:
			n = 0
		case unix.EINTR:
			h.markDirty(c) // try again next iteration
			return
		default:
			h.fail(c, e, now)
			return
		}
		h.stats.BytesOut += uint64(n)
		c.slen -= n
		if c.shead += n; c.shead >= len(c.sbuf) {
			c.shead -= len(c.sbuf)
		}
		if c.slen == 0 {
			c.shead = 0
		} else {
			c.writeBlocked = true // the kernel is full: EPOLLOUT will say when not
		}
	}
	if c.slen == 0 && c.closing && !c.finSent {
		if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
			e, _ := err.(unix.Errno)
			h.fail(c, e, now)
			return
		}
		c.finSent = true
		if c.peerClosed {
			h.finish(c, stream.CloseNormal, now)
		}
		return
	}
	if c.wantWritable && !c.closing && 2*(h.cfg.SendBuf-c.slen) >= h.cfg.SendBuf {
		c.wantWritable = false
		c.handler.OnWritable(c, now)
	}
}

// ---- the end ----

// fail ends c after a socket error.
func (h *Host) fail(c *Conn, e unix.Errno, now int64) {
	h.finish(c, closeReason(e), now)
}

// finish closes c's socket, runs OnClose and returns c to the pool.
func (h *Host) finish(c *Conn, reason stream.CloseReason, now int64) {
	unix.Close(c.fd) // also takes it out of the epoll set
	c.fd = -1
	c.open = false
	h.stats.Open--
	h.stats.Closed++
	switch reason {
	case stream.CloseAborted:
		h.stats.Aborted++
	case stream.CloseReset, stream.CloseError, stream.CloseTimeout:
		h.stats.Resets++
	}
	hd := c.handler
	hd.OnClose(c, reason, now)
	c.gen++
	c.handler, c.ctx = nil, nil
	c.raddr, c.rport = [4]byte{}, 0
	c.rhead, c.rtail, c.shead, c.slen = 0, 0, 0, 0
	c.readable, c.rdhup, c.peerClosed, c.writeBlocked, c.wantWritable = false, false, false, false, false
	c.closing, c.finSent, c.busy, c.inRunq, c.inDirty = false, false, false, false, false
	h.free = append(h.free, c)
}
