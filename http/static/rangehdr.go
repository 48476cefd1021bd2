package static

import "math"

// rangeResult is what a Range field asks of a representation.
type rangeResult uint8

const (
	rangeNone          rangeResult = iota // absent, invalid, or ignored: send it whole (200)
	rangeOK                               // one satisfiable range: 206
	rangeUnsatisfiable                    // no satisfiable range: 416
)

// parseRange interprets a Range field value (RFC 9110 §14.1.2, §14.2)
// against a representation of size bytes and returns the selected byte
// span [off, off+n). Syntax errors, other units and empty lists are
// ignored (the whole representation is sent, as §14.2 allows); a set of
// more than one range is also ignored, since this server does not
// generate multipart/byteranges; so is any Range on an empty
// representation. Integers saturate rather than overflow. It does not
// allocate.
func parseRange(v []byte, size int64) (off, n int64, res rangeResult) {
	const unit = "bytes="
	if len(v) < len(unit) {
		return 0, 0, rangeNone
	}
	for i := 0; i < len(unit); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != unit[i] {
			return 0, 0, rangeNone
		}
	}
	set := v[len(unit):]
	specs := 0
	var first, last int64
	var hasFirst, hasLast bool
	i := 0
	for i < len(set) {
		// #rule: empty elements and OWS around commas are allowed.
		i = skipOWS(set, i)
		if i < len(set) && set[i] == ',' {
			i++
			continue
		}
		if i == len(set) {
			break
		}
		specs++
		var f, l int64
		var hf, hl bool
		f, i, hf = parseNum(set, i)
		if i >= len(set) || set[i] != '-' {
			return 0, 0, rangeNone
		}
		i++
		l, i, hl = parseNum(set, i)
		if !hf && !hl {
			return 0, 0, rangeNone // "-" alone
		}
		if hf && hl && l < f {
			return 0, 0, rangeNone // invalid byte-range-spec (§14.1.2)
		}
		i = skipOWS(set, i)
		if i < len(set) && set[i] != ',' {
			return 0, 0, rangeNone
		}
		first, last, hasFirst, hasLast = f, l, hf, hl
	}
	if specs != 1 || size <= 0 {
		return 0, 0, rangeNone
	}
	if !hasFirst {
		// suffix-range: the last `last` bytes; -0 is unsatisfiable.
		if last == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		if last > size {
			last = size
		}
		return size - last, last, rangeOK
	}
	if first >= size {
		return 0, 0, rangeUnsatisfiable
	}
	if !hasLast || last >= size {
		last = size - 1
	}
	return first, last - first + 1, rangeOK
}

// parseNum reads 1*DIGIT at b[i:], saturating at MaxInt64.
func parseNum(b []byte, i int) (v int64, next int, ok bool) {
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		d := int64(b[i] - '0')
		if v > (math.MaxInt64-d)/10 {
			v = math.MaxInt64
		} else {
			v = v*10 + d
		}
		i++
	}
	return v, i, i > start
}
