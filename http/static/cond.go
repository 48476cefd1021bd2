package static

// Conditional requests, RFC 9110 §13. Everything here is a pure function
// of the entry and the request's field values, so it is tested without a
// server.

// etagMatch reports whether the field value list (If-Match or
// If-None-Match: "*" or 1#entity-tag) contains a tag that matches etag —
// a strong entity-tag such as `"abc"`, quotes included — under the strong
// (strong=true) or weak comparison function (§8.8.3.2). A malformed list
// matches nothing from the first bad element on; the elements before it
// still count.
func etagMatch(list, etag []byte, strong bool) bool {
	i := skipOWS(list, 0)
	if i < len(list) && list[i] == '*' && skipOWS(list, i+1) == len(list) {
		return true // the selected representation exists
	}
	for i < len(list) {
		if list[i] == ',' {
			i = skipOWS(list, i+1)
			continue
		}
		weak := false
		if len(list)-i >= 2 && list[i] == 'W' && list[i+1] == '/' {
			weak = true
			i += 2
		}
		if i >= len(list) || list[i] != '"' {
			return false
		}
		j := i + 1
		for j < len(list) && list[j] != '"' {
			if c := list[j]; c < 0x21 || c == 0x7f {
				return false // not etagc
			}
			j++
		}
		if j >= len(list) {
			return false // unterminated
		}
		tag := list[i : j+1]
		if string(tag) == string(etag) && !(strong && weak) {
			return true
		}
		i = skipOWS(list, j+1)
		if i < len(list) && list[i] != ',' {
			return false
		}
	}
	return false
}

func skipOWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

// condResult is what the preconditions decide.
type condResult uint8

const (
	condProceed         condResult = iota // perform the method
	condNotModified                       // 304
	condPreconditionBad                   // 412
)

// conds are the request's conditional fields (nil when absent).
type conds struct {
	ifMatch, ifUnmodifiedSince, ifNoneMatch, ifModifiedSince []byte
	ifRange                                                  []byte
}

// evalPreconditions applies RFC 9110 §13.2.2 steps 1–4 for a GET or HEAD
// of an existing representation with the given strong ETag and
// Last-Modified time (unix seconds); now is the server's clock in unix
// seconds. Step 5 (If-Range) is rangeApplies.
func evalPreconditions(c *conds, etag []byte, lastMod, now int64) condResult {
	// 1. If-Match, strong comparison.
	if c.ifMatch != nil {
		if !etagMatch(c.ifMatch, etag, true) {
			return condPreconditionBad
		}
	} else if c.ifUnmodifiedSince != nil {
		// 2. If-Unmodified-Since, only without If-Match; an invalid date
		// is ignored (§13.1.4).
		if t, ok := parseHTTPDate(trimOWS(c.ifUnmodifiedSince), now); ok && lastMod > t {
			return condPreconditionBad
		}
	}
	// 3. If-None-Match, weak comparison; false means 304 for GET/HEAD.
	if c.ifNoneMatch != nil {
		if etagMatch(c.ifNoneMatch, etag, false) {
			return condNotModified
		}
	} else if c.ifModifiedSince != nil {
		// 4. If-Modified-Since, only without If-None-Match (GET/HEAD
		// only, which is all this handler serves); invalid dates are
		// ignored (§13.1.3).
		if t, ok := parseHTTPDate(trimOWS(c.ifModifiedSince), now); ok && lastMod <= t {
			return condNotModified
		}
	}
	return condProceed
}

// rangeApplies evaluates If-Range (§13.1.5) for a GET that has a Range:
// true when there is no If-Range, when it holds an entity-tag that
// strongly matches etag, or when it holds an HTTP-date exactly equal to
// lastMod that is a strong validator (lastMod at least a second before
// now, §8.8.2.2). Anything else, including a weak tag or a bad value,
// means the whole representation is sent.
func rangeApplies(ifRange, etag []byte, lastMod, now int64) bool {
	if ifRange == nil {
		return true
	}
	v := trimOWS(ifRange)
	if len(v) > 0 && (v[0] == '"' || v[0] == 'W') {
		// An entity-tag, never a list; a weak one never matches.
		return len(v) >= 2 && v[0] == '"' && string(v) == string(etag)
	}
	t, ok := parseHTTPDate(v, now)
	return ok && t == lastMod && lastMod < now
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
