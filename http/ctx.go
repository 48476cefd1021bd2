package http

import (
	"os"

	"github.com/valyala/bytebufferpool"
)

// HandlerFunc answers one request. It runs on the shard's thread, inline,
// and must not block.
type HandlerFunc func(c *Ctx)

type bodyKind uint8

const (
	bodyBuf    bodyKind = iota // Write/WriteString: the pooled buffer
	bodyShared                 // SetBodyShared
	bodyFile                   // SetBodyFile
)

// Ctx is one request and its response under construction. Each connection
// owns one Ctx and reuses it for every request; a handler must not keep
// the *Ctx, nor any slice it returns, after it returns: every []byte from
// a Ctx is valid only during the handler call.
type Ctx struct {
	cn   *conn
	head []byte // the bytes req's offsets refer to
	req  *request
	path []byte
	body []byte
	now  int64
	unix int64

	status  int
	ctype   string
	hdrs    []byte // extra header lines, "Name: value\r\n" each
	kind    bodyKind
	wbuf    *bytebufferpool.ByteBuffer
	shared  []byte
	file    *os.File
	fileOff int64
	fileN   int64
	close   bool
	pathBuf []byte
}

// reset prepares c for the next request (keeping its buffers).
func (c *Ctx) reset() {
	c.head, c.req, c.path, c.body = nil, nil, nil, nil
	c.status, c.ctype, c.hdrs = 0, "", c.hdrs[:0]
	c.kind, c.shared, c.file, c.fileOff, c.fileN = bodyBuf, nil, nil, 0, 0
	c.close = false
	if c.wbuf != nil {
		c.cn.srv.bodyPool.Put(c.wbuf)
		c.wbuf = nil
	}
}

// Method is the request method, case-sensitive as received.
func (c *Ctx) Method() []byte { return c.req.method(c.head) }

// IsHead reports whether the method is HEAD: the response gets its headers
// (Content-Length included) and no body, which the server arranges.
func (c *Ctx) IsHead() bool { return c.req.isHead }

// Path is the percent-decoded path of the request-target, without the
// query. For "OPTIONS *" it is "*".
func (c *Ctx) Path() []byte { return c.path }

// RawPath is the request-target's path as received (not decoded).
func (c *Ctx) RawPath() []byte { return c.head[c.req.mEnd+1 : c.req.qAt] }

// Target is the whole request-target as received.
func (c *Ctx) Target() []byte { return c.req.target(c.head) }

// Query is the raw query, without the '?'; nil if there is none.
func (c *Ctx) Query() []byte {
	if c.req.qAt == c.req.tEnd {
		return nil
	}
	return c.head[c.req.qAt+1 : c.req.tEnd]
}

// ProtoMinor is the request's HTTP/1 minor version: 0 or 1 (higher minor
// versions are served as 1).
func (c *Ctx) ProtoMinor() int { return int(c.req.minor) }

// Header returns the first value of the field name (case-insensitive),
// OWS trimmed; nil if the field is absent (an empty, non-nil slice if it
// is present and empty).
func (c *Ctx) Header(name string) []byte {
	r := c.req
	for i := 0; i < r.nf; i++ {
		f := &r.f[i]
		if eqFoldString(c.head[f.ns:f.ne], name) {
			return c.head[f.vs:f.ve:f.ve]
		}
	}
	return nil
}

// NumHeaders is the number of field lines in the request head.
func (c *Ctx) NumHeaders() int { return c.req.nf }

// HeaderAt returns the i'th field line's name and value (OWS trimmed), in
// the order received; use it for fields that may repeat.
func (c *Ctx) HeaderAt(i int) (name, value []byte) {
	f := &c.req.f[i]
	return c.head[f.ns:f.ne:f.ne], c.head[f.vs:f.ve:f.ve]
}

// Body is the request body (decoded if it was chunked).
func (c *Ctx) Body() []byte { return c.body }

// Now is the shard loop's monotonic clock, in nanoseconds.
func (c *Ctx) Now() int64 { return c.now }

// Unix is the wall clock in seconds, cached once per second per Server
// (the second the Date header shows).
func (c *Ctx) Unix() int64 { return c.unix }

// RemoteAddr is the peer's IPv4 address and port.
func (c *Ctx) RemoteAddr() ([4]byte, uint16) { return c.cn.c.RemoteAddr() }

// SetStatus sets the response status (default 200). A code outside
// 200..999 is sent as 500.
func (c *Ctx) SetStatus(code int) { c.status = code }

// SetHeader adds a response header field. It copies name and value into
// the connection's header buffer (no allocation once that buffer has
// grown). The server adds Date, Server, Content-Length and Connection
// itself; do not set those. A name that is not a token or a value with a
// control character (CR, LF, ...) is dropped and counted.
func (c *Ctx) SetHeader(name, value string) {
	if !validHeaderName(name) || !validHeaderValue(value) {
		c.cn.srv.stats.BadHeaderValues++
		return
	}
	c.hdrs = append(c.hdrs, name...)
	c.hdrs = append(c.hdrs, ':', ' ')
	c.hdrs = append(c.hdrs, value...)
	c.hdrs = append(c.hdrs, '\r', '\n')
}

// SetHeaderBytes is SetHeader with the value as bytes (copied).
func (c *Ctx) SetHeaderBytes(name string, value []byte) {
	if !validHeaderName(name) || !validHeaderValue(value) {
		c.cn.srv.stats.BadHeaderValues++
		return
	}
	c.hdrs = append(c.hdrs, name...)
	c.hdrs = append(c.hdrs, ':', ' ')
	c.hdrs = append(c.hdrs, value...)
	c.hdrs = append(c.hdrs, '\r', '\n')
}

// SetContentType sets the Content-Type header (v is kept, not copied: a
// constant or otherwise immutable string).
func (c *Ctx) SetContentType(v string) {
	if !validHeaderValue(v) {
		c.cn.srv.stats.BadHeaderValues++
		return
	}
	c.ctype = v
}

// SetClose asks for the connection to be closed after this response
// (which then carries Connection: close).
func (c *Ctx) SetClose() { c.close = true }

// Write appends b to the response body (copied into a pooled buffer). It
// replaces a shared or file body set before.
func (c *Ctx) Write(b []byte) {
	c.bodyBuffer()
	c.wbuf.B = append(c.wbuf.B, b...)
}

// WriteString is Write for a string.
func (c *Ctx) WriteString(s string) {
	c.bodyBuffer()
	c.wbuf.B = append(c.wbuf.B, s...)
}

func (c *Ctx) bodyBuffer() {
	if c.kind != bodyBuf {
		c.kind, c.shared, c.file = bodyBuf, nil, nil
		if c.wbuf != nil {
			c.wbuf.B = c.wbuf.B[:0]
		}
	}
	if c.wbuf == nil {
		c.wbuf = c.cn.srv.bodyPool.Get()
	}
}

// SetBodyShared makes b the response body without copying it: b must stay
// unchanged until it has been sent (an immutable cache entry guarantees
// that; a request slice from this Ctx does not). Content-Length is len(b).
// It replaces any body set or written before.
func (c *Ctx) SetBodyShared(b []byte) {
	c.kind, c.shared, c.file = bodyShared, b, nil
}

// SetBodyFile makes the byte range [off, off+n) of f the response body,
// read with pread in 64 KiB chunks as send space allows. With
// Config.FileInbox set (shardnet's HandleHTTP sets it) a goroutine reads
// them and hands them back through the shard's inbox, so a read that goes
// to the device (about 0.2 ms per chunk on a virtio disk, against a few
// microseconds from the page cache: BenchmarkFileChunk in http/static)
// stalls only this response; without, the shard's thread reads them and
// such a read stalls every connection of the shard. f must stay open, and
// that range unchanged, until the response is sent; the server does not
// close f. A read that fails or comes up short aborts the connection (the
// Content-Length was already promised). It replaces any body set before.
func (c *Ctx) SetBodyFile(f *os.File, off, n int64) {
	if n < 0 {
		n = 0
	}
	c.kind, c.shared, c.file, c.fileOff, c.fileN = bodyFile, nil, f, off, n
}

// Error sets status code and a short text/plain body with its reason
// phrase, replacing any body so far; header fields already set stay (an
// Allow for a 405, say).
func (c *Ctx) Error(code int) {
	c.status = code
	c.ctype = "text/plain; charset=utf-8"
	c.kind, c.shared, c.file = bodyBuf, nil, nil
	c.bodyBuffer()
	c.wbuf.B = append(c.wbuf.B[:0], StatusText(code)...)
	c.wbuf.B = append(c.wbuf.B, '\n')
}

// bodyLen is the response body's length.
func (c *Ctx) bodyLen() int64 {
	switch c.kind {
	case bodyShared:
		return int64(len(c.shared))
	case bodyFile:
		return c.fileN
	}
	if c.wbuf == nil {
		return 0
	}
	return int64(len(c.wbuf.B))
}

func validHeaderName[S string | []byte](s S) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tcharTab[s[i]] {
			return false
		}
	}
	return true
}

func validHeaderValue[S string | []byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if !isFieldByte(s[i]) {
			return false
		}
	}
	return true
}
