package static

// cleanRequestPath reports whether p, a percent-decoded request path, is
// one this handler will look up: it starts with '/', and holds no NUL,
// no backslash and no empty, "." or ".." segment (a trailing '/' is
// allowed: it names a directory). Anything else gets 404 without a
// lookup — the same answer as a missing file, so a probe learns nothing.
// Since lookups are exact matches against paths found under the root at
// scan time, this is defence in depth: nothing outside the root is ever
// in the table.
func cleanRequestPath(p []byte) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			switch p[i] {
			case 0, '\\':
				return false
			case '/':
			default:
				continue
			}
		}
		seg := p[segStart:i]
		last := i == len(p)
		switch {
		case len(seg) == 0 && !last:
			return false // "//"
		case len(seg) == 1 && seg[0] == '.', len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			return false
		}
		segStart = i + 1
	}
	return true
}

// escapePath percent-encodes a URL path for a Location field: bytes
// outside RFC 3986 pchar (unreserved, sub-delims, ':' and '@') and '/'
// become %XX. Control plane only (scan time).
func escapePath(p string) string {
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isPathChar(c) {
			out = append(out, c)
		} else {
			out = append(out, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(out)
}

func isPathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', // unreserved
		'!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', // sub-delims
		':', '@', '/':
		return true
	}
	return false
}
