package http

import (
	"os"

	"github.com/valyala/bytebufferpool"

	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/stream"
)

// Per-connection state and its event handling. A conn belongs to its
// Server's shard; it lives from OnOpen to OnClose and then goes back to
// the Server's free list.
//
// Input: OnData is given every unconsumed byte, oldest first. Complete
// requests are answered in order and consumed; an incomplete one is left
// unconsumed and re-examined when more bytes come (the head scan resumes
// where it stopped, its offsets still valid from the request's first
// byte). A chunked body is the exception: its head is copied to a pooled
// buffer and the body decoded into it as it arrives.
//
// Output: responses are appended to a pooled buffer, written when the
// batch of requests in one OnData is answered (so pipelined responses
// share segments), and before a streamed (large shared or file) body.
// While a streamed body or more than MaxQueuedOutput bytes or
// MaxPipelined responses are waiting, further input is left unconsumed
// (TCP flow control then pushes back on the client) until OnWritable has
// drained the output and Resume offers the input again.

type connState uint8

const (
	stHead    connState = iota // reading a request head
	stBody                     // head parsed, waiting for its Content-Length body
	stChunked                  // head copied to cbuf, decoding a chunked body
	stClosing                  // no more requests: input is discarded
)

type timerKind uint8

const (
	tkIdle timerKind = iota
	tkHeader
	tkBody
	tkWrite
	tkLinger
)

type flushResult uint8

const (
	flushDone    flushResult = iota // all output handed to the connection
	flushPending                    // a Write came up short: OnWritable will follow
	flushAborted                    // the connection was aborted (and released)
)

type conn struct {
	srv  *Server
	c    stream.Conn
	next *conn // free list
	t    timer.Timer
	tk   timerKind

	state connState
	scan  headScan
	req   request
	chunk chunkDecoder
	cbuf  *bytebufferpool.ByteBuffer // stChunked: head copy, then decoded body

	begun        bool  // the current head's first byte has been seen
	headDeadline int64 // when the current head must be complete
	idleSince    int64 // when the connection last became idle
	bodySince    int64 // last body progress
	lastWrite    int64 // last output progress
	sent100      bool

	ctx Ctx

	out    *bytebufferpool.ByteBuffer // responses not yet written
	outOff int                        // out.B[:outOff] is written
	queued int                        // responses in out since the last complete flush
	sb     []byte                     // shared body being streamed, after out
	sf     *os.File                   // file body being streamed, after out
	sfOff  int64
	sfN    int64
	fc     *fileChunk // its chunk being read or written (Config.FileInbox)

	fwNext   *conn // the next connection waiting for a file chunk
	fwaiting bool  // on the Server's file reader's waiting list

	closeAfter bool // close once the current response is written
	paused     bool // input left unconsumed until the output drains
	peerClosed bool
	closed     bool   // Close called
	gen        uint32 // bumped each time the state is released

	prevA, nextA *conn // the open connections (Server.active), for Drain
}

// onData handles the unconsumed input data and returns how much of it was
// consumed.
func (cn *conn) onData(data []byte, now int64) int {
	s := cn.srv
	if cn.state == stClosing {
		return len(data)
	}
	if cn.paused {
		switch cn.flush(now) {
		case flushAborted:
			return len(data)
		case flushPending:
			if cn.blocked() {
				cn.armTimer(now)
				return 0
			}
		}
		cn.paused = false
	}
	s.date.refresh(now)
	pos, batch := 0, 0
loop:
	for {
		var n int
		var served bool
		switch cn.state {
		case stHead:
			n, served = cn.readHead(data[pos:], now)
		case stBody:
			n, served = cn.readBody(data[pos:], now)
		case stChunked:
			n, served = cn.readChunked(data[pos:], now)
		default:
			break loop
		}
		pos += n
		if !served {
			if cn.state == stHead || n == 0 || pos == len(data) {
				break
			}
			continue // a state change with input left: go on
		}
		batch++
		if cn.state == stClosing {
			break
		}
		if cn.sb != nil || cn.sf != nil || cn.queued >= s.cfg.MaxPipelined || cn.outLen() >= s.cfg.MaxQueuedOutput {
			switch cn.flush(now) {
			case flushAborted:
				return len(data)
			case flushPending:
				if cn.blocked() {
					cn.paused = true
					s.stats.Paused++
					break loop
				}
			}
		}
	}
	if batch > s.stats.PipelinedMax {
		s.stats.PipelinedMax = batch
	}
	if cn.state == stClosing {
		pos = len(data)
	}
	if !cn.settle(now, !cn.paused) {
		return len(data)
	}
	return pos
}

// readHead looks for a complete request head at the start of b and, if
// the body is there too (or there is none), answers the request.
func (cn *conn) readHead(b []byte, now int64) (int, bool) {
	s := cn.srv
	pos := 0
	if cn.scan.pos == 0 {
		// RFC 9112 §2.2: empty lines before a request-line are ignored.
		for len(b)-pos >= 2 && b[pos] == '\r' && b[pos+1] == '\n' {
			pos += 2
		}
		if len(b)-pos == 1 && b[pos] == '\r' {
			cn.beginHead(now)
			return pos, false
		}
	}
	if pos > 0 || len(b) > 0 {
		cn.beginHead(now)
	}
	r := b[pos:]
	if len(r) == 0 {
		return pos, false
	}
	hl, e := cn.scan.scan(r, &s.lim)
	if e == ErrNone && hl > 0 {
		e = parseHead(r[:hl], &cn.scan, &cn.req, &s.lim)
	}
	if e != ErrNone {
		cn.reject(e)
		return len(b), false
	}
	if hl == 0 {
		return pos, false
	}
	req := &cn.req
	if req.chunked {
		cn.cbuf = s.chunkPool.Get()
		cn.cbuf.B = append(cn.cbuf.B[:0], r[:hl]...)
		cn.chunk.reset()
		cn.state = stChunked
		cn.bodySince = now
		if req.expect100 && len(r) == hl {
			cn.sendContinue()
		}
		return pos + hl, false
	}
	need := hl
	if req.cl > 0 {
		need += int(req.cl)
	}
	if len(r) < need {
		cn.state = stBody
		cn.bodySince = now
		if req.expect100 && len(r) == hl {
			cn.sendContinue()
		}
		return pos, false
	}
	cn.serve(r[:hl], r[hl:need], now)
	return pos + need, true
}

// readBody answers the parsed request once its Content-Length body is
// complete; b starts at the request's first byte.
func (cn *conn) readBody(b []byte, now int64) (int, bool) {
	hl := int(cn.req.headLen)
	need := hl + int(cn.req.cl)
	if len(b) < need {
		cn.bodySince = now
		return 0, false
	}
	cn.serve(b[:hl], b[hl:need], now)
	return need, true
}

// readChunked decodes chunked body bytes and answers the request once the
// body is complete.
func (cn *conn) readChunked(b []byte, now int64) (int, bool) {
	n, dst, done, e := cn.chunk.decode(b, cn.cbuf.B, &cn.srv.lim)
	cn.cbuf.B = dst
	if e != ErrNone {
		cn.reject(e)
		return len(b), false
	}
	if !done {
		if n > 0 {
			cn.bodySince = now
		}
		return n, false
	}
	hl := int(cn.req.headLen)
	cn.serve(cn.cbuf.B[:hl], cn.cbuf.B[hl:], now)
	return n, true
}

func (cn *conn) beginHead(now int64) {
	if !cn.begun {
		cn.begun = true
		cn.headDeadline = now + cn.srv.cfg.HeaderTimeout
	}
}

func (cn *conn) sendContinue() {
	if cn.sent100 {
		return
	}
	cn.sent100 = true
	cn.srv.stats.Continues++
	o := cn.outBuf()
	o.B = append(o.B, continueResponse...)
}

// serve runs the handler for the request in head and body, appends its
// response and readies the connection for the next request.
func (cn *conn) serve(head, body []byte, now int64) {
	s, c, req := cn.srv, &cn.ctx, &cn.req
	raw := head[req.mEnd+1 : req.qAt]
	p, ok := decodePath(c.pathBuf, raw)
	if len(p) > 0 && (len(raw) == 0 || &p[0] != &raw[0]) {
		c.pathBuf = p[:0]
	}
	if !ok {
		cn.reject(ErrBadPath)
		return
	}
	c.head, c.req, c.path, c.body = head, req, p, body
	c.status = 200
	c.now, c.unix = now, s.date.unix
	cn.closeAfter = !req.keepAlive || s.draining
	s.stats.Requests++
	s.handler(c)
	if c.close {
		cn.closeAfter = true
	}
	cn.appendResponse()
	cn.queued++
	cn.lastWrite = now
	c.reset()
	cn.nextRequest(now)
	if cn.closeAfter {
		cn.state = stClosing
	}
}

// nextRequest resets the request state for the next request.
func (cn *conn) nextRequest(now int64) {
	cn.state = stHead
	cn.scan = headScan{}
	cn.begun, cn.sent100 = false, false
	cn.idleSince = now
	if cn.cbuf != nil {
		cn.srv.chunkPool.Put(cn.cbuf)
		cn.cbuf = nil
	}
}

// reject answers a malformed request with its status and Connection:
// close: the stream's framing is no longer known.
func (cn *conn) reject(e ParseError) {
	cn.srv.stats.ParseErrors[e]++
	cn.closeAfter = true
	cn.appendError(e.Status())
	cn.queued++
	if cn.cbuf != nil {
		cn.srv.chunkPool.Put(cn.cbuf)
		cn.cbuf = nil
	}
	cn.state = stClosing
}

func (cn *conn) outLen() int {
	if cn.out == nil {
		return 0
	}
	return len(cn.out.B) - cn.outOff
}

// pending reports whether output is waiting to be written.
func (cn *conn) pending() bool { return cn.outLen() > 0 || cn.sb != nil || cn.sf != nil }

// blocked reports whether the waiting output is enough to stop reading.
func (cn *conn) blocked() bool {
	return cn.sb != nil || cn.sf != nil || cn.queued >= cn.srv.cfg.MaxPipelined ||
		cn.outLen() >= cn.srv.cfg.MaxQueuedOutput
}

// flush writes as much waiting output as the connection takes.
func (cn *conn) flush(now int64) flushResult {
	if cn.out != nil {
		if cn.outOff < len(cn.out.B) {
			n := cn.c.Write(cn.out.B[cn.outOff:], now)
			if n > 0 {
				cn.lastWrite = now
			}
			cn.outOff += n
			if cn.outOff < len(cn.out.B) {
				return flushPending
			}
		}
		cn.srv.outPool.Put(cn.out)
		cn.out, cn.outOff = nil, 0
	}
	if cn.sb != nil {
		n := cn.c.Write(cn.sb, now)
		if n > 0 {
			cn.lastWrite = now
		}
		if cn.sb = cn.sb[n:]; len(cn.sb) > 0 {
			return flushPending
		}
		cn.sb = nil
	}
	if fr := cn.srv.files; cn.sf != nil && fr != nil {
		if r := cn.flushFileAsync(fr, now); r != flushDone {
			return r
		}
	}
	if cn.sf != nil {
		buf := cn.srv.fileBuffer()
		for cn.sfN > 0 {
			// With no space, a one-byte Write still comes up short, and
			// that is what asks for OnWritable.
			k := max(cn.c.WriteSpace(), 1)
			k = int(min(int64(k), int64(len(buf)), cn.sfN))
			if m, _ := cn.sf.ReadAt(buf[:k], cn.sfOff); m < k {
				cn.srv.stats.FileErrors++
				cn.c.Abort(now)
				return flushAborted
			}
			w := cn.c.Write(buf[:k], now)
			if w > 0 {
				cn.lastWrite = now
			}
			cn.sfOff += int64(w)
			cn.sfN -= int64(w)
			if w < k {
				return flushPending
			}
		}
		cn.sf = nil
	}
	cn.queued = 0
	return flushDone
}

// settle ends an event: it flushes, closes the connection if it is done,
// and arms the timer for what it waits for next. drained says every
// complete request in the input has been answered (so after the peer's
// FIN, what is left can never complete). It returns false if the
// connection was aborted or closed (cn may then be released: the caller
// must not touch it).
func (cn *conn) settle(now int64, drained bool) bool {
	switch cn.flush(now) {
	case flushAborted:
		return false
	case flushDone:
		if cn.closed {
			return true
		}
		if cn.peerClosed && drained && cn.state != stClosing {
			// Every complete request was answered; what is left can
			// never complete.
			if cn.begun || cn.state != stHead {
				cn.srv.stats.IncompleteAtEOF++
			}
			cn.state = stClosing
		}
		if cn.srv.draining && cn.state == stHead && !cn.begun && !cn.paused {
			cn.state = stClosing // idle while draining: close now
		}
		if cn.state == stClosing {
			cn.closeConn(now)
			return false
		}
	}
	cn.armTimer(now)
	return true
}

// closeConn closes our direction (after the written output) and gives the
// peer LingerTimeout to close its own before the connection is reset.
func (cn *conn) closeConn(now int64) {
	cn.state, cn.closed = stClosing, true
	cn.tk = tkLinger
	cn.srv.wheel.Schedule(&cn.t, now+cn.srv.cfg.LingerTimeout)
	cn.c.Close(now)
}

// armTimer schedules the one timer for what the connection waits on.
func (cn *conn) armTimer(now int64) {
	if cn.closed {
		return
	}
	cfg := &cn.srv.cfg
	var k timerKind
	var at int64
	switch {
	case cn.pending() || cn.paused:
		k, at = tkWrite, cn.lastWrite+cfg.IdleTimeout
	case cn.state == stBody || cn.state == stChunked:
		k, at = tkBody, cn.bodySince+cfg.IdleTimeout
	case cn.begun:
		k, at = tkHeader, cn.headDeadline
	default:
		k, at = tkIdle, cn.idleSince+cfg.IdleTimeout
	}
	if cn.tk == k && cn.t.Armed() && cn.t.When() == at {
		return
	}
	cn.tk = k
	cn.srv.wheel.Schedule(&cn.t, at)
}

// onTimer: the connection waited too long for what armTimer said.
func (cn *conn) onTimer(now int64) {
	st := &cn.srv.stats
	switch cn.tk {
	case tkIdle:
		st.IdleTimeouts++
	case tkHeader:
		st.HeaderTimeouts++
	case tkBody:
		st.BodyTimeouts++
	case tkWrite:
		// The peer does not read: a graceful close would wait behind
		// the same unread output.
		st.WriteTimeouts++
		cn.c.Abort(now)
		return
	case tkLinger:
		st.LingerAborts++
		cn.c.Abort(now)
		return
	}
	cn.closeConn(now)
}

func (cn *conn) onWritable(now int64) {
	if !cn.paused {
		cn.settle(now, true)
		return
	}
	switch cn.flush(now) {
	case flushAborted:
		return
	case flushPending:
		if cn.blocked() {
			cn.armTimer(now)
			return
		}
	}
	cn.paused = false
	if cn.c.Unread() > 0 {
		// The requests left unconsumed come again through OnData, which
		// settles (and, after a FIN, closes) itself.
		gen := cn.gen
		cn.c.Resume(now)
		if cn.gen != gen || cn.closed {
			return
		}
		cn.settle(now, false)
		return
	}
	cn.settle(now, true)
}

func (cn *conn) onPeerClosed(now int64) {
	cn.peerClosed = true
	if cn.closed || cn.paused {
		// Closing already, or complete requests wait behind the
		// output: settle closes once they are answered.
		return
	}
	cn.settle(now, true)
}
