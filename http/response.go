package http

import (
	"strconv"

	"github.com/valyala/bytebufferpool"
)

// Response assembly. A response is built straight into the connection's
// pooled output buffer: status line and standard fields from precomputed
// bytes, the handler's fields, Content-Length, then the body. A shared
// body of more than smallShared bytes, and every file body, is not copied
// there: it is written to the connection after the buffered bytes (and
// later responses wait for it).

const smallShared = 16 << 10

// StatusText is the reason phrase of code (RFC 9110 §15), "" if unknown.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 203:
		return "Non-Authoritative Information"
	case 204:
		return "No Content"
	case 205:
		return "Reset Content"
	case 206:
		return "Partial Content"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Range Not Satisfiable"
	case 417:
		return "Expectation Failed"
	case 421:
		return "Misdirected Request"
	case 422:
		return "Unprocessable Content"
	case 426:
		return "Upgrade Required"
	case 428:
		return "Precondition Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// statusLines[code] is "HTTP/1.1 code reason\r\n" for 200..999 (an
// unknown code gets an empty reason, which the grammar allows).
var statusLines = func() (t [1000]string) {
	for code := 200; code < 1000; code++ {
		t[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + StatusText(code) + "\r\n"
	}
	return t
}()

const (
	continueResponse = "HTTP/1.1 100 Continue\r\n\r\n"
	errorContentType = "text/plain; charset=utf-8"
)

// outBuf returns the connection's output buffer, getting one if needed.
func (cn *conn) outBuf() *bytebufferpool.ByteBuffer {
	if cn.out == nil {
		cn.out = cn.srv.outPool.Get()
		cn.outOff = 0
	}
	return cn.out
}

// appendResponse appends the response cn.ctx describes to the output.
func (cn *conn) appendResponse() {
	s, c := cn.srv, &cn.ctx
	code := c.status
	if code < 200 || code > 999 {
		code = 500
	}
	if code < 600 {
		s.stats.Status[code/100]++
	} else {
		s.stats.Status[0]++
	}
	o := cn.outBuf()
	b := append(o.B, statusLines[code]...)
	b = append(b, s.serverLine...)
	b = append(b, s.date.line...)
	if c.ctype != "" {
		b = append(b, "Content-Type: "...)
		b = append(b, c.ctype...)
		b = append(b, '\r', '\n')
	}
	b = append(b, c.hdrs...)
	noBody := code == 204 || code == 304
	if !noBody {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, c.bodyLen(), 10)
		b = append(b, '\r', '\n')
	}
	b = cn.appendConnection(b)
	b = append(b, '\r', '\n')
	if !noBody && !c.req.isHead {
		switch c.kind {
		case bodyBuf:
			if c.wbuf != nil {
				b = append(b, c.wbuf.B...)
			}
		case bodyShared:
			if len(c.shared) <= smallShared {
				b = append(b, c.shared...)
			} else {
				cn.sb = c.shared
			}
		case bodyFile:
			if c.fileN > 0 {
				cn.sf, cn.sfOff, cn.sfN = c.file, c.fileOff, c.fileN
			}
		}
	}
	o.B = b
}

// appendConnection adds the Connection field the response needs.
func (cn *conn) appendConnection(b []byte) []byte {
	if cn.closeAfter {
		return append(b, "Connection: close\r\n"...)
	}
	if cn.req.minor == 0 {
		return append(b, "Connection: keep-alive\r\n"...)
	}
	return b
}

// appendError appends the server's own response for a rejected request:
// status, a text/plain reason, Connection: close.
func (cn *conn) appendError(code int) {
	s := cn.srv
	s.stats.Status[code/100]++
	reason := StatusText(code)
	o := cn.outBuf()
	b := append(o.B, statusLines[code]...)
	b = append(b, s.serverLine...)
	b = append(b, s.date.line...)
	b = append(b, "Content-Type: "+errorContentType+"\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(reason)+1), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, reason...)
	b = append(b, '\n')
	o.B = b
}
