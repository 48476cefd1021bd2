package static

// The request → response decision, as pure functions of the snapshot and
// the request's fields, so that every branch is tested without a server;
// serve.go only moves values between these and the http.Ctx.

type method uint8

const (
	methodOther method = iota
	methodGet
	methodHead
)

func methodOf(m []byte) method {
	switch string(m) { // method names are case-sensitive (RFC 9110 §9.1)
	case "GET":
		return methodGet
	case "HEAD":
		return methodHead
	}
	return methodOther
}

// Statuses the planner decides (besides 200 and 206 for bodies).
const (
	statusOK                  = 200
	statusPartialContent      = 206
	statusMovedPermanently    = 301
	statusNotModified         = 304
	statusNotFound            = 404
	statusMethodNotAllowed    = 405
	statusPreconditionFailed  = 412
	statusRangeNotSatisfiable = 416
	allowedMethods            = "GET, HEAD"
	acceptRanges              = "bytes"
)

// resolve finds the entry for a percent-decoded request path. It returns
// the entry and 0 for a file, the redirect entry and 301 for a directory
// named without its trailing slash, or nil and 405 or 404.
func (s *snapshot) resolve(m method, p []byte) (*entry, int) {
	if m == methodOther {
		return nil, statusMethodNotAllowed
	}
	if !cleanRequestPath(p) {
		return nil, statusNotFound
	}
	e := s.paths[string(p)]
	switch {
	case e == nil:
		return nil, statusNotFound
	case e.isRedirect():
		return e, statusMovedPermanently
	}
	return e, 0
}

// outcome is the response decided for a file: a status and, for 200 and
// 206, the body span [off, off+n) of the entry.
type outcome struct {
	status int
	off, n int64
}

// decide applies the preconditions (RFC 9110 §13.2.2), then If-Range and
// Range (GET only: §14.2 defines range handling for GET alone, so a HEAD
// gets the 200 headers), for a GET or HEAD of file entry e. now is wall
// clock unix seconds.
func decide(e *entry, m method, c *conds, rangeField []byte, now int64) outcome {
	switch evalPreconditions(c, e.etag, e.lastMod, now) {
	case condNotModified:
		return outcome{status: statusNotModified}
	case condPreconditionBad:
		return outcome{status: statusPreconditionFailed}
	}
	if m == methodGet && rangeField != nil && rangeApplies(c.ifRange, e.etag, e.lastMod, now) {
		switch off, n, r := parseRange(rangeField, e.size); r {
		case rangeOK:
			return outcome{status: statusPartialContent, off: off, n: n}
		case rangeUnsatisfiable:
			return outcome{status: statusRangeNotSatisfiable}
		}
	}
	return outcome{status: statusOK, n: e.size}
}

// appendContentRange renders "bytes first-last/size" for a 206.
func appendContentRange(dst []byte, off, n, size int64) []byte {
	dst = append(dst, "bytes "...)
	dst = appendInt(dst, off)
	dst = append(dst, '-')
	dst = appendInt(dst, off+n-1)
	dst = append(dst, '/')
	return appendInt(dst, size)
}

func appendInt(dst []byte, v int64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, tmp[i:]...)
}
