package http

import "bytes"

// Chunked request bodies, RFC 9112 §7.1:
//
//	chunked-body   = *chunk last-chunk trailer-section CRLF
//	chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	chunk-size     = 1*HEXDIG
//	last-chunk     = 1*("0") [ chunk-ext ] CRLF
//	chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-val  = token / quoted-string
//
// The decoder consumes its input as it goes (the head was copied out
// first), so a body of many small chunks never has to fit in the
// connection's receive buffer; only a chunk-size line (maxChunkLine) or a
// trailer line (the header limit) must arrive whole.

const (
	chSize    = iota // expecting a chunk-size line
	chData           // inside chunk-data
	chDataEnd        // expecting the CRLF after chunk-data
	chTrailer        // expecting trailer field lines or the final CRLF
)

type chunkDecoder struct {
	phase   uint8
	left    int64 // chunk-data bytes still to come
	total   int64 // decoded bytes so far
	trailer int   // trailer-section bytes so far
}

func (d *chunkDecoder) reset() { *d = chunkDecoder{} }

// decode consumes what it can of b, appending chunk-data to dst. It
// returns the bytes consumed, the grown dst, whether the body is complete,
// and a ParseError. Bytes it leaves unconsumed must be offered again.
func (d *chunkDecoder) decode(b, dst []byte, lim *limits) (int, []byte, bool, ParseError) {
	pos := 0
	for pos < len(b) {
		switch d.phase {
		case chSize:
			i := bytes.IndexByte(b[pos:], '\n')
			if i < 0 {
				if len(b)-pos > maxChunkLine {
					return pos, dst, false, ErrBadChunk
				}
				return pos, dst, false, ErrNone
			}
			if i > maxChunkLine {
				return pos, dst, false, ErrBadChunk
			}
			if i == 0 || b[pos+i-1] != '\r' {
				return pos, dst, false, ErrBareLF
			}
			n, e := parseChunkLine(b[pos:pos+i-1], lim.maxBody-d.total)
			if e != ErrNone {
				return pos, dst, false, e
			}
			pos += i + 1
			if n == 0 {
				d.phase = chTrailer
			} else {
				d.left, d.phase = n, chData
			}
		case chData:
			k := int64(len(b) - pos)
			if k > d.left {
				k = d.left
			}
			dst = append(dst, b[pos:pos+int(k)]...)
			pos += int(k)
			d.left -= k
			d.total += k
			if d.left == 0 {
				d.phase = chDataEnd
			}
		case chDataEnd:
			if len(b)-pos < 2 {
				if b[pos] != '\r' {
					return pos, dst, false, ErrBadChunk
				}
				return pos, dst, false, ErrNone
			}
			if b[pos] != '\r' || b[pos+1] != '\n' {
				return pos, dst, false, ErrBadChunk
			}
			pos += 2
			d.phase = chSize
		case chTrailer:
			i := bytes.IndexByte(b[pos:], '\n')
			if i < 0 {
				if d.trailer+len(b)-pos > lim.maxHeader {
					return pos, dst, false, ErrTrailerTooLarge
				}
				return pos, dst, false, ErrNone
			}
			if i == 0 || b[pos+i-1] != '\r' {
				return pos, dst, false, ErrBareLF
			}
			if d.trailer += i + 1; d.trailer > lim.maxHeader {
				return pos, dst, false, ErrTrailerTooLarge
			}
			line := b[pos : pos+i-1]
			pos += i + 1
			if len(line) == 0 {
				return pos, dst, true, ErrNone
			}
			if _, _, _, e := parseField(line); e != ErrNone {
				return pos, dst, false, e
			}
		}
	}
	return pos, dst, false, ErrNone
}

// parseChunkLine parses a chunk-size line without its CRLF. A size above
// room is ErrBodyTooLarge.
func parseChunkLine(l []byte, room int64) (int64, ParseError) {
	i := 0
	var n int64
	for i < len(l) && hexVal[l[i]] >= 0 {
		n = n<<4 | int64(hexVal[l[i]])
		if n > room {
			return 0, ErrBodyTooLarge
		}
		i++
	}
	if i == 0 {
		return 0, ErrBadChunk
	}
	// chunk-ext
	for i < len(l) {
		i = skipBWS(l, i)
		if i == len(l) || l[i] != ';' {
			return 0, ErrBadChunk
		}
		i = skipBWS(l, i+1)
		j := skipToken(l, i)
		if j == i {
			return 0, ErrBadChunk
		}
		i = skipBWS(l, j)
		if i == len(l) || l[i] != '=' {
			continue
		}
		i = skipBWS(l, i+1)
		if i < len(l) && l[i] == '"' {
			j = skipQuoted(l, i)
		} else {
			j = skipToken(l, i)
		}
		if j <= i {
			return 0, ErrBadChunk
		}
		i = j
	}
	return n, ErrNone
}

func skipBWS(l []byte, i int) int {
	for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
		i++
	}
	return i
}

func skipToken(l []byte, i int) int {
	for i < len(l) && tcharTab[l[i]] {
		i++
	}
	return i
}

// skipQuoted returns the index after the quoted-string at l[i] (which is
// '"'), or -1 if it is malformed or unterminated.
func skipQuoted(l []byte, i int) int {
	for i++; i < len(l); i++ {
		switch c := l[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i == len(l) || !isFieldByte(l[i]) {
				return -1
			}
		case !isFieldByte(c):
			return -1
		}
	}
	return -1
}
