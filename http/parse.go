package http

import "bytes"

// Request parsing, RFC 9112 §2–§6, strict: anything outside the grammar is
// rejected with a ParseError rather than repaired.
//
// A request head is found in two steps. headScan walks the bytes once,
// across as many OnData calls as the head takes to arrive (the stack
// re-offers unconsumed bytes first, so offsets from the request's first
// byte stay valid): it validates the request-line byte by byte (so garbage
// and over-long targets are refused before the line ends) and then only
// looks for line ends, checking each LF has its CR. Once the empty line is
// seen, parseHead validates the field lines and records their offsets.

const (
	maxFields    = 100 // field lines per head; more is 431
	maxMethodLen = 32  // longer methods are 400 (no registered method is near this)
	maxChunkLine = 4096
)

// limits are the size limits a Server enforces.
type limits struct {
	maxHeader int   // header section bytes (field lines and the final CRLF)
	maxURI    int   // request-target bytes
	maxBody   int64 // body bytes (after chunked decoding)
}

// Character classes (RFC 9110 §5.6.2 token, RFC 3986 for targets).
var (
	tcharTab  = makeTab("!#$%&'*+-.^_`|~" + digits + alphas)
	targetTab = makeTab("-._~!$&'()*+,;=:@/?%" + digits + alphas)
	hostTab   = makeTab("-._~!$&'()*+,;=:[]%" + digits + alphas)
	hexVal    = makeHex()
)

const (
	digits = "0123456789"
	alphas = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

func makeTab(s string) (t [256]bool) {
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

func makeHex() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < 10; i++ {
		t['0'+i] = int8(i)
	}
	for i := 0; i < 6; i++ {
		t['a'+i] = int8(10 + i)
		t['A'+i] = int8(10 + i)
	}
	return t
}

// isFieldByte reports whether c may appear inside a field value: VCHAR,
// obs-text, SP or HTAB (RFC 9110 §5.5).
func isFieldByte(c byte) bool { return c >= 0x20 && c != 0x7f || c == '\t' }

// eqFold reports whether b equals lower, ignoring ASCII case in b; lower
// must be lower case.
func eqFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// eqFoldString is eqFold for a name given as a string in any case.
func eqFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
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

// headScan is the resumable search for the end of one request head. The
// zero value starts at the request's first byte.
type headScan struct {
	pos       int32 // bytes examined
	lineStart int32 // start of the field line being scanned
	phase     uint8 // request-line: 0 method, 1 target, 2 version, 3 done
	mEnd      int32 // index of the SP after the method
	tEnd      int32 // index of the SP after the target
	rlEnd     int32 // request-line length including CRLF
}

// scan continues over b, which holds the request from its first byte (the
// bytes scanned before are a prefix of b). It returns the head's length
// once the empty line is found, 0 while more bytes are needed, or a
// ParseError.
func (s *headScan) scan(b []byte, lim *limits) (int, ParseError) {
	pos := int(s.pos)
	for s.phase < 3 {
		if pos >= len(b) {
			s.pos = int32(pos)
			return 0, ErrNone
		}
		c := b[pos]
		switch s.phase {
		case 0: // method
			if c == ' ' {
				if pos == 0 {
					return 0, ErrBadRequestLine
				}
				s.mEnd, s.phase = int32(pos), 1
			} else if !tcharTab[c] {
				if c == '\r' || c == '\n' {
					return 0, ErrBadRequestLine
				}
				return 0, ErrBadMethod
			} else if pos >= maxMethodLen {
				return 0, ErrBadMethod
			}
		case 1: // request-target
			if c == ' ' {
				if pos == int(s.mEnd)+1 {
					return 0, ErrBadRequestLine
				}
				s.tEnd, s.phase = int32(pos), 2
			} else if !targetTab[c] {
				if c == '\r' || c == '\n' || c == '\t' {
					return 0, ErrBadRequestLine
				}
				return 0, ErrBadTarget
			} else if pos-int(s.mEnd) > lim.maxURI {
				return 0, ErrURITooLong
			}
		case 2: // HTTP-version CRLF
			if c == '\n' {
				if b[pos-1] != '\r' {
					return 0, ErrBareLF
				}
				if _, e := parseVersion(b[s.tEnd+1 : pos-1]); e != ErrNone {
					return 0, e
				}
				s.rlEnd, s.lineStart, s.phase = int32(pos+1), int32(pos+1), 3
			} else if pos-int(s.tEnd) > len("HTTP/1.1\r") {
				if _, e := parseVersion(b[s.tEnd+1 : pos+1]); e == ErrVersion {
					return 0, e
				}
				return 0, ErrBadVersion
			}
		}
		pos++
	}
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			s.pos = int32(len(b))
			if len(b)-int(s.rlEnd) > lim.maxHeader {
				return 0, ErrHeaderTooLarge
			}
			return 0, ErrNone
		}
		p := pos + i
		if b[p-1] != '\r' {
			return 0, ErrBareLF
		}
		if p+1-int(s.rlEnd) > lim.maxHeader {
			return 0, ErrHeaderTooLarge
		}
		if p-int(s.lineStart) == 1 {
			s.pos = int32(p + 1)
			return p + 1, ErrNone
		}
		s.lineStart = int32(p + 1)
		pos = p + 1
	}
}

// parseVersion checks HTTP-version = "HTTP/" DIGIT "." DIGIT. Minor
// versions above 1 are answered as HTTP/1.1 (RFC 9110 §2.5); a major
// version other than 1 ("HTTP/2.0", "HTTP/3") is ErrVersion.
func parseVersion(v []byte) (uint8, ParseError) {
	if len(v) < 6 || string(v[:5]) != "HTTP/" || v[5] < '0' || v[5] > '9' {
		return 0, ErrBadVersion
	}
	full := len(v) == 8 && v[6] == '.' && '0' <= v[7] && v[7] <= '9'
	if v[5] != '1' {
		if len(v) == 6 || full {
			return 0, ErrVersion
		}
		return 0, ErrBadVersion
	}
	if !full {
		return 0, ErrBadVersion
	}
	if v[7] == '0' {
		return 0, ErrNone
	}
	return 1, ErrNone
}

// field is one field line's offsets within the head.
type field struct{ ns, ne, vs, ve int32 }

// request is a parsed head: offsets into the bytes it was parsed from
// (the request-line starts at offset 0).
type request struct {
	mEnd      int32 // method = [0, mEnd)
	tEnd      int32 // target = [mEnd+1, tEnd)
	qAt       int32 // index of '?' in the target, or tEnd
	headLen   int32
	minor     uint8
	keepAlive bool
	expect100 bool
	chunked   bool
	isHead    bool
	cl        int64 // Content-Length, -1 if absent
	nf        int
	f         [maxFields]field
}

func (r *request) method(b []byte) []byte { return b[:r.mEnd] }
func (r *request) target(b []byte) []byte { return b[r.mEnd+1 : r.tEnd] }

// parseHead validates the complete head b (request-line to the final
// CRLF) that s scanned, filling r.
func parseHead(b []byte, s *headScan, r *request, lim *limits) ParseError {
	r.mEnd, r.tEnd, r.headLen = s.mEnd, s.tEnd, int32(len(b))
	r.nf, r.cl = 0, -1
	r.keepAlive, r.expect100, r.chunked = false, false, false
	minor, e := parseVersion(b[s.tEnd+1 : s.rlEnd-2])
	if e != ErrNone {
		return e
	}
	r.minor = minor
	method := b[:r.mEnd]
	r.isHead = string(method) == "HEAD"
	target := b[r.mEnd+1 : r.tEnd]
	r.qAt = r.tEnd
	switch {
	case target[0] == '/':
		if q := bytes.IndexByte(target, '?'); q >= 0 {
			r.qAt = r.mEnd + 1 + int32(q)
		}
	case len(target) == 1 && target[0] == '*' && string(method) == "OPTIONS":
	default:
		return ErrBadTarget
	}

	var (
		hosts           int
		closeTok, kaTok bool
		teSeen, teBad   bool
		teUnsupported   bool
		teElems         int
		expectOther     bool
	)
	end := int32(len(b) - 2) // the final CRLF
	for ls := s.rlEnd; ls < end; {
		le := ls + int32(bytes.IndexByte(b[ls:], '\n')) - 1 // the CR
		line := b[ls:le]
		ne, vs, ve, e := parseField(line)
		if e != ErrNone {
			return e
		}
		if r.nf == maxFields {
			return ErrTooManyHeaders
		}
		r.f[r.nf] = field{ls, ls + int32(ne), ls + int32(vs), ls + int32(ve)}
		r.nf++
		ls = le + 2
		name, val := line[:ne], line[vs:ve]
		switch len(name) {
		case 4:
			if eqFold(name, "host") {
				hosts++
				for _, c := range val {
					if !hostTab[c] {
						return ErrHost
					}
				}
			}
		case 6:
			if eqFold(name, "expect") && minor == 1 {
				if eqFold(val, "100-continue") {
					r.expect100 = true
				} else {
					expectOther = true
				}
			}
		case 10:
			if eqFold(name, "connection") {
				forEachElement(val, func(tok []byte) {
					if eqFold(tok, "close") {
						closeTok = true
					} else if eqFold(tok, "keep-alive") {
						kaTok = true
					}
				})
			}
		case 14:
			if eqFold(name, "content-length") {
				n, e := parseContentLength(val)
				if e != ErrNone {
					return e
				}
				if r.cl >= 0 && r.cl != n {
					return ErrDupContentLength
				}
				r.cl = n
			}
		case 17:
			if eqFold(name, "transfer-encoding") {
				teSeen = true
				forEachElement(val, func(tok []byte) {
					teElems++
					if eqFold(tok, "chunked") {
						if r.chunked {
							teBad = true
						}
						r.chunked = true
					} else {
						teUnsupported = true
					}
				})
			}
		}
	}
	if hosts > 1 || minor == 1 && hosts == 0 {
		return ErrHost
	}
	if teSeen {
		switch {
		case r.cl >= 0:
			return ErrCLAndTE
		case minor == 0:
			return ErrTEBad
		case teUnsupported:
			return ErrTEUnsupported
		case teBad || teElems == 0:
			return ErrTEBad
		}
	}
	if r.cl > lim.maxBody {
		return ErrBodyTooLarge
	}
	if expectOther {
		return ErrExpectation
	}
	if minor == 1 {
		r.keepAlive = !closeTok
	} else {
		r.keepAlive = kaTok && !closeTok
	}
	return ErrNone
}

// parseField splits one field line (without its CRLF): name = line[:ne],
// value = line[vs:ve] with surrounding OWS removed.
func parseField(line []byte) (ne, vs, ve int, e ParseError) {
	if line[0] == ' ' || line[0] == '\t' {
		return 0, 0, 0, ErrObsFold
	}
	i := 0
	for i < len(line) && tcharTab[line[i]] {
		i++
	}
	if i == len(line) || i == 0 {
		return 0, 0, 0, ErrBadFieldName
	}
	if line[i] != ':' {
		if line[i] == ' ' || line[i] == '\t' {
			return 0, 0, 0, ErrSpaceBeforeColon
		}
		return 0, 0, 0, ErrBadFieldName
	}
	vs, ve = i+1, len(line)
	for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
		vs++
	}
	for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
		ve--
	}
	for _, c := range line[vs:ve] {
		if !isFieldByte(c) {
			return 0, 0, 0, ErrBadFieldValue
		}
	}
	return i, vs, ve, ErrNone
}

// parseContentLength parses Content-Length = 1*DIGIT. A well-formed value
// too large to hold is ErrBodyTooLarge.
func parseContentLength(v []byte) (int64, ParseError) {
	if len(v) == 0 {
		return 0, ErrContentLength
	}
	var n int64
	for i, c := range v {
		if c < '0' || c > '9' {
			return 0, ErrContentLength
		}
		if i >= 18 {
			for _, c := range v[i:] {
				if c < '0' || c > '9' {
					return 0, ErrContentLength
				}
			}
			return 0, ErrBodyTooLarge
		}
		n = n*10 + int64(c-'0')
	}
	return n, ErrNone
}

// forEachElement calls fn for each non-empty element of a comma-separated
// list (RFC 9110 §5.6.1), OWS trimmed.
func forEachElement(v []byte, fn func(tok []byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var el []byte
		if i < 0 {
			el, v = v, nil
		} else {
			el, v = v[:i], v[i+1:]
		}
		if el = trimOWS(el); len(el) > 0 {
			fn(el)
		}
	}
}

// decodePath percent-decodes the path p into dst (reusing its storage)
// and returns the result; p itself when it has no '%'. A '%' not followed
// by two hex digits, or one that decodes to NUL, is not ok.
func decodePath(dst, p []byte) ([]byte, bool) {
	i := bytes.IndexByte(p, '%')
	if i < 0 {
		return p, true
	}
	dst = append(dst[:0], p[:i]...)
	for ; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(p) {
			return dst, false
		}
		h, l := hexVal[p[i+1]], hexVal[p[i+2]]
		if h < 0 || l < 0 || h == 0 && l == 0 {
			return dst, false
		}
		dst = append(dst, byte(h<<4|l))
		i += 2
	}
	return dst, true
}
