package netconn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/stream"
)

// Errors a Conn's Read and Write return, wrapped in a *net.OpError (as the
// standard library's own TCP connections do). A closed Conn returns
// net.ErrClosed; an expired deadline os.ErrDeadlineExceeded (Timeout()
// is true); a peer's RST syscall.ECONNRESET; a retransmission or
// keepalive give-up syscall.ETIMEDOUT; an abort on our side (the stack's
// Stop, a full backlog) syscall.ECONNABORTED; a write after CloseWrite,
// or after the connection ended, syscall.EPIPE.
var (
	// ErrShardStopped: the connection's shard no longer runs, so nothing
	// can reach its stream.Conn.
	ErrShardStopped = errors.New("netconn: the connection's shard has stopped")
	// ErrUnreadLost: the stack ended the connection normally while it
	// still held received bytes that had not yet been read (shardnet's
	// TCP reports the end, and frees its receive buffer, as soon as
	// both FINs are through — which can happen after CloseWrite while
	// a slow reader lags). Read returns it after the bytes it did get.
	ErrUnreadLost = errors.New("netconn: the connection ended with received bytes unread; they are lost")
)

// Conn is one TCP connection of a shard, seen from ordinary goroutines as
// a net.Conn. It implements net.Conn plus CloseWrite and CloseRead
// (half-close), like *net.TCPConn.
//
// Ownership: the stream.Conn behind it belongs to its shard, and only
// funcs run on that shard's thread (stream callbacks, and funcs posted to
// its inbox) touch it. Everything the two sides share — the read buffer,
// the slice being written, the state flags — is guarded by mu, which is
// held only to copy bytes or flip flags, never while waiting: user
// goroutines wait on channels, and the shard never waits for a user
// goroutine beyond such a short copy.
//
// Lifetimes: the slice given to Write is borrowed by the shard until
// Write returns (the shard copies it straight into the connection's send
// buffer; there is no intermediate copy); Read copies out of the Conn's
// own read buffer. Any number of goroutines may call the methods; Reads
// are serialized with each other, as are Writes.
type Conn struct {
	// Set at open, then read-only.
	h      *shardHandler
	remote *net.TCPAddr
	rbufSz int

	// Shard thread only.
	sc stream.Conn // nil once OnClose has run

	// Funcs posted to the shard, made once per connection so that
	// posting allocates nothing.
	resumeFn, flushFn, closeFn, shutWFn, shutRFn, abortFn func()

	rmu, wmu sync.Mutex // serialize Reads; serialize Writes

	mu     sync.Mutex
	ring   ring   // received bytes not yet read
	pend   []byte // the blocked Write's bytes (borrowed) …
	poff   int    // … of which the shard has taken poff
	eof    bool   // the peer's FIN: nothing more will arrive
	gone   bool   // OnClose has run
	err    error  // why the connection ended, if not cleanly
	closed bool   // Close was called
	wshut  bool   // CloseWrite (or Close) was called
	rshut  bool   // CloseRead (or Close) was called: incoming bytes are discarded
	// stalled: the last OnData could not take everything offered, so the
	// stack holds bytes for us; a Resume must be posted when there is
	// room again (resumePosted: one is on its way).
	stalled, resumePosted bool

	rnotify, wnotify chan struct{} // cap 1: "look again"
	rdl, wdl         deadline
}

func newConn(h *shardHandler, sc stream.Conn) *Conn {
	ip, port := sc.RemoteAddr()
	c := &Conn{
		h:       h,
		sc:      sc,
		remote:  &net.TCPAddr{IP: net.IPv4(ip[0], ip[1], ip[2], ip[3]).To4(), Port: int(port)},
		rbufSz:  h.ln.cfg.ReadBuffer,
		rnotify: make(chan struct{}, 1),
		wnotify: make(chan struct{}, 1),
		rdl:     newDeadline(),
		wdl:     newDeadline(),
	}
	c.resumeFn = c.shardResume
	c.flushFn = c.shardFlush
	c.closeFn = c.shardClose
	c.shutWFn = c.shardShutWrite
	c.shutRFn = c.shardShutRead
	c.abortFn = c.shardAbort
	return c
}

// ---- shard side: stream callbacks (via shardHandler) and posted funcs ----

func (c *Conn) onData(data []byte) int {
	c.mu.Lock()
	if c.rshut {
		c.mu.Unlock()
		return len(data) // CloseRead or Close: discard
	}
	if c.ring.buf == nil {
		c.ring.buf = make([]byte, c.rbufSz)
	}
	n := c.ring.write(data)
	c.stalled = n < len(data)
	c.mu.Unlock()
	if n > 0 {
		notify(c.rnotify)
	}
	return n
}

func (c *Conn) onPeerClosed() {
	c.mu.Lock()
	c.eof = true
	c.mu.Unlock()
	notify(c.rnotify)
}

func (c *Conn) onClose(reason stream.CloseReason) {
	lost := 0
	if c.sc != nil {
		lost = c.sc.Unread()
	}
	c.sc = nil
	c.mu.Lock()
	c.gone = true
	c.pend = nil // the writer sees gone and returns
	if c.err == nil {
		switch {
		case reason == stream.CloseNormal && lost > 0 && c.stalled && !c.rshut:
			c.err = ErrUnreadLost
		case reason != stream.CloseNormal:
			c.err = closeErr(reason)
		}
	}
	c.stalled = false
	c.mu.Unlock()
	notify(c.rnotify)
	notify(c.wnotify)
}

func closeErr(r stream.CloseReason) error {
	switch r {
	case stream.CloseReset:
		return syscall.ECONNRESET
	case stream.CloseAborted:
		return syscall.ECONNABORTED
	case stream.CloseTimeout:
		return syscall.ETIMEDOUT
	}
	return fmt.Errorf("netconn: connection failed (%s)", r)
}

// shardFlush hands the blocked Write's bytes to the stream.Conn: as much
// as fits now; OnWritable calls it again when there is room. sc.Write
// runs under mu (it copies, and calls back into no handler on either
// stack), so a Write that gives up on its deadline knows the shard will
// not touch its slice afterwards.
func (c *Conn) shardFlush() {
	sc := c.sc
	if sc == nil {
		return
	}
	done := false
	c.mu.Lock()
	if c.poff < len(c.pend) {
		c.poff += sc.Write(c.pend[c.poff:], c.h.host.Now())
		done = c.poff == len(c.pend)
	}
	c.mu.Unlock()
	if done {
		notify(c.wnotify)
	}
}

func (c *Conn) shardResume() {
	c.mu.Lock()
	c.resumePosted = false
	c.mu.Unlock()
	sc := c.sc
	if sc == nil {
		return
	}
	sc.Resume(c.h.host.Now())
	if c.sc != nil && sc.Unread() == 0 {
		// Everything was taken (or the stack had nothing after all):
		// make sure no reader waits for bytes that will not come.
		c.mu.Lock()
		c.stalled = false
		c.mu.Unlock()
		notify(c.rnotify)
	}
}

func (c *Conn) shardClose() {
	if c.sc != nil {
		c.sc.Close(c.h.host.Now())
	}
	c.shardShutRead()
}

func (c *Conn) shardShutWrite() {
	if c.sc != nil {
		c.sc.Close(c.h.host.Now())
	}
}

// shardShutRead offers the bytes the stack still holds once more, for
// onData to discard (it re-opens the receive window).
func (c *Conn) shardShutRead() {
	if c.sc != nil {
		c.sc.Resume(c.h.host.Now())
	}
}

func (c *Conn) shardAbort() {
	if c.sc != nil {
		c.sc.Abort(c.h.host.Now())
	}
}

// ---- user side ----

// post hands fn to the shard, retrying (with a short back-off, counted in
// Stats.InboxFull) while the inbox is full.
func (c *Conn) post(fn func()) error {
	return c.h.ln.post(c.h.inbox, fn)
}

// Read reads into p. It blocks until bytes have arrived, the peer has
// closed (io.EOF, once everything before the FIN has been read), the
// connection has ended or the read deadline passes. Freeing room in the
// read buffer lets the stack take more from the network (the TCP receive
// window opens again): a slow reader slows the sender down.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		dl := c.rdl.wait()
		if isClosed(dl) {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, c.opErr("read", net.ErrClosed)
		case c.rshut:
			c.mu.Unlock()
			return 0, io.EOF
		case c.ring.n > 0:
			n := c.ring.read(p)
			post := c.needResume()
			c.mu.Unlock()
			if post {
				if err := c.post(c.resumeFn); err != nil {
					c.fail(err)
				}
			}
			return n, nil
		case len(p) == 0:
			c.mu.Unlock()
			return 0, nil
		case c.stalled:
			// Unreachable in practice (a stalled OnData filled the
			// buffer, and reading made room), kept for safety.
			post := c.needResume()
			c.mu.Unlock()
			if post {
				if err := c.post(c.resumeFn); err != nil {
					c.fail(err)
				}
			}
		case c.err != nil:
			err := c.err
			c.mu.Unlock()
			return 0, c.opErr("read", err)
		case c.eof || c.gone:
			c.mu.Unlock()
			return 0, io.EOF
		default:
			c.mu.Unlock()
		}
		select {
		case <-c.rnotify:
		case <-dl:
		}
	}
}

// needResume reports (and records) whether a Resume must be posted now:
// the stack holds bytes for us and at least half the buffer is free.
// Call with mu held.
func (c *Conn) needResume() bool {
	if !c.stalled || c.resumePosted || c.gone || c.ring.n > len(c.ring.buf)/2 {
		return false
	}
	c.resumePosted = true
	return true
}

// fail records err (the shard is unreachable) and wakes every waiter.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.gone = true
	c.stalled = false
	c.pend = nil
	c.mu.Unlock()
	notify(c.rnotify)
	notify(c.wnotify)
}

// Write writes b. It blocks until every byte has been copied into the
// connection's send buffer on the shard (a posted func, then OnWritable
// each time there is room again), or the connection ends, or the write
// deadline passes; it returns how many bytes the shard took. A receiver
// that reads slowly therefore makes Write block: nothing is buffered
// beyond the stack's send buffer.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	dl := c.wdl.wait()
	if isClosed(dl) {
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	}
	c.mu.Lock()
	if err := c.writeErr(); err != nil {
		c.mu.Unlock()
		return 0, c.opErr("write", err)
	}
	if len(b) == 0 {
		c.mu.Unlock()
		return 0, nil
	}
	c.pend, c.poff = b, 0
	c.mu.Unlock()
	if err := c.post(c.flushFn); err != nil {
		c.fail(err)
	}
	for {
		c.mu.Lock()
		n := c.poff
		if n == len(b) {
			c.pend = nil
			c.mu.Unlock()
			return n, nil
		}
		if err := c.writeErr(); err != nil {
			c.pend = nil
			c.mu.Unlock()
			return n, c.opErr("write", err)
		}
		if isClosed(dl) {
			c.pend = nil // from here on the shard does not touch b
			c.mu.Unlock()
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		}
		c.mu.Unlock()
		select {
		case <-c.wnotify:
		case <-dl:
		}
		dl = c.wdl.wait()
	}
}

// writeErr is why a Write cannot go on, or nil. Call with mu held.
func (c *Conn) writeErr() error {
	switch {
	case c.closed:
		return net.ErrClosed
	case c.err != nil:
		return c.err
	case c.wshut, c.gone:
		return syscall.EPIPE
	}
	return nil
}

// Close closes the connection gracefully: blocked Reads and Writes return
// net.ErrClosed, a FIN follows the bytes already written, and bytes that
// still arrive are discarded. It returns at once; the shard acts on it in
// its next loop iteration.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.closed, c.wshut, c.rshut = true, true, true
	c.pend = nil
	c.ring = ring{} // the buffer goes to the garbage collector
	gone := c.gone
	c.mu.Unlock()
	notify(c.rnotify)
	notify(c.wnotify)
	c.rdl.set(time.Time{}) // stop the timers
	c.wdl.set(time.Time{})
	if gone {
		return nil
	}
	if err := c.post(c.closeFn); err != nil {
		return c.opErr("close", err)
	}
	return nil
}

// CloseWrite half-closes the connection: a FIN follows the bytes already
// written; Reads go on. Later Writes fail with EPIPE.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	if c.wshut || c.gone {
		c.wshut = true
		c.mu.Unlock()
		return nil
	}
	c.wshut = true
	c.pend = nil
	c.mu.Unlock()
	notify(c.wnotify)
	if err := c.post(c.shutWFn); err != nil {
		return c.opErr("close", err)
	}
	return nil
}

// CloseRead shuts the reading side: Reads return io.EOF, and bytes that
// arrive from now on are discarded (TCP has no way to tell the peer).
func (c *Conn) CloseRead() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	already := c.rshut || c.gone
	c.rshut = true
	c.ring = ring{}
	c.mu.Unlock()
	notify(c.rnotify)
	if already {
		return nil
	}
	if err := c.post(c.shutRFn); err != nil {
		return c.opErr("close", err)
	}
	return nil
}

// LocalAddr is the stack's address and the listening port.
func (c *Conn) LocalAddr() net.Addr { return c.h.local }

// RemoteAddr is the peer's address and port.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both the read and the write deadline.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for Reads, including one blocked now;
// the zero time means none. A Read after it returns an error whose
// Timeout() is true (os.ErrDeadlineExceeded).
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.isClosed() {
		return c.opErr("set", net.ErrClosed)
	}
	c.rdl.set(t)
	notify(c.rnotify)
	return nil
}

// SetWriteDeadline sets the deadline for Writes, including one blocked
// now. A Write that times out returns how many bytes the shard took.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.isClosed() {
		return c.opErr("set", net.ErrClosed)
	}
	c.wdl.set(t)
	notify(c.wnotify)
	return nil
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.h.local, Addr: c.remote, Err: err}
}

// notify wakes the waiter on ch, if any, without blocking.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ring is a fixed-size byte ring.
type ring struct {
	buf  []byte
	r, n int
}

// write copies what fits of p and returns how much.
func (q *ring) write(p []byte) int {
	total := 0
	for len(p) > 0 && q.n < len(q.buf) {
		w := (q.r + q.n) % len(q.buf)
		end := len(q.buf)
		if w < q.r {
			end = q.r
		}
		k := copy(q.buf[w:end], p)
		q.n += k
		p = p[k:]
		total += k
	}
	return total
}

// read copies up to len(p) bytes out and returns how many.
func (q *ring) read(p []byte) int {
	total := 0
	for len(p) > 0 && q.n > 0 {
		end := min(q.r+q.n, len(q.buf))
		k := copy(p, q.buf[q.r:end])
		q.r = (q.r + k) % len(q.buf)
		q.n -= k
		p = p[k:]
		total += k
	}
	if q.n == 0 {
		q.r = 0
	}
	return total
}

// static checks.
var (
	_ net.Conn       = (*Conn)(nil)
	_ stream.Handler = (*shardHandler)(nil)
)
