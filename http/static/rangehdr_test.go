package static

import (
	"strconv"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 1000
	tests := []struct {
		in     string
		size   int64
		off, n int64
		res    rangeResult
	}{
		{"bytes=0-499", size, 0, 500, rangeOK},
		{"bytes=500-999", size, 500, 500, rangeOK},
		{"bytes=500-", size, 500, 500, rangeOK},
		{"bytes=0-0", size, 0, 1, rangeOK},
		{"bytes=999-999", size, 999, 1, rangeOK},
		{"bytes=-1", size, 999, 1, rangeOK},
		{"bytes=-500", size, 500, 500, rangeOK},
		{"bytes=-1000", size, 0, 1000, rangeOK},
		{"bytes=-5000", size, 0, 1000, rangeOK},     // suffix longer than the file: all of it
		{"bytes=900-5000", size, 900, 100, rangeOK}, // last-pos clamps
		{"bytes=0-99999999999999999999999", size, 0, 1000, rangeOK},
		{"bytes=-99999999999999999999999", size, 0, 1000, rangeOK},
		{"Bytes=0-1", size, 0, 2, rangeOK}, // unit is case-insensitive
		{"bytes=,0-1,", size, 0, 2, rangeOK},
		{"bytes= 0-1 ", size, 0, 2, rangeOK},
		// Unsatisfiable: 416.
		{"bytes=1000-", size, 0, 0, rangeUnsatisfiable},
		{"bytes=1000-2000", size, 0, 0, rangeUnsatisfiable},
		{"bytes=5000-", size, 0, 0, rangeUnsatisfiable},
		{"bytes=99999999999999999999999-", size, 0, 0, rangeUnsatisfiable},
		{"bytes=-0", size, 0, 0, rangeUnsatisfiable},
		// Ignored: whole file.
		{"bytes=0-1", 0, 0, 0, rangeNone},    // empty file
		{"bytes=-0", 0, 0, 0, rangeNone},     // empty file
		{"bytes=5-4", size, 0, 0, rangeNone}, // last < first: invalid
		{"bytes=", size, 0, 0, rangeNone},
		{"bytes=,", size, 0, 0, rangeNone},
		{"bytes=-", size, 0, 0, rangeNone},
		{"bytes=1", size, 0, 0, rangeNone},
		{"bytes=a-b", size, 0, 0, rangeNone},
		{"bytes=0-1x", size, 0, 0, rangeNone},
		{"bytes=0 -1", size, 0, 0, rangeNone},
		{"bytes=--1", size, 0, 0, rangeNone},
		{"bytes=+1-2", size, 0, 0, rangeNone},
		{"bytes 0-1", size, 0, 0, rangeNone},
		{"bytes:0-1", size, 0, 0, rangeNone},
		{"items=0-1", size, 0, 0, rangeNone},
		{"0-1", size, 0, 0, rangeNone},
		{"", size, 0, 0, rangeNone},
		{"bytes=0-1,5-9", size, 0, 0, rangeNone},     // multiple ranges: 200
		{"bytes=0-1,5000-", size, 0, 0, rangeNone},   // multiple ranges: 200
		{"bytes=0-1, junk", size, 0, 0, rangeNone},   // one bad spec spoils the set
		{"bytes=5000-,6000-", size, 0, 0, rangeNone}, // multiple, even unsatisfiable
	}
	for _, tt := range tests {
		off, n, res := parseRange([]byte(tt.in), tt.size)
		if off != tt.off || n != tt.n || res != tt.res {
			t.Errorf("parseRange(%q, %d) = %d, %d, %v; want %d, %d, %v", tt.in, tt.size, off, n, res, tt.off, tt.n, tt.res)
		}
	}
}

// FuzzParseRange: a range it grants always lies inside the file, and a
// plain "bytes=a-b" is granted exactly as the RFC says.
func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-499", int64(1000))
	f.Add("bytes=-5", int64(3))
	f.Add("bytes=7-", int64(7))
	f.Fuzz(func(t *testing.T, s string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		off, n, res := parseRange([]byte(s), size)
		if res == rangeOK && (off < 0 || n <= 0 || off+n > size || off+n < off) {
			t.Fatalf("%q size %d: span [%d,+%d)", s, size, off, n)
		}
		if res != rangeOK && (off != 0 || n != 0) {
			t.Fatalf("%q: span with result %v", s, res)
		}
	})
}

func TestParseRangeMatchesArithmetic(t *testing.T) {
	// Every a-b over a small file, against the RFC's arithmetic.
	const size = 7
	for a := int64(0); a < 10; a++ {
		for b := int64(0); b < 10; b++ {
			off, n, res := parseRange([]byte("bytes="+strconv.FormatInt(a, 10)+"-"+strconv.FormatInt(b, 10)), size)
			switch {
			case b < a:
				if res != rangeNone {
					t.Errorf("%d-%d: %v, want ignored", a, b, res)
				}
			case a >= size:
				if res != rangeUnsatisfiable {
					t.Errorf("%d-%d: %v, want 416", a, b, res)
				}
			default:
				last := min(b, size-1)
				if res != rangeOK || off != a || n != last-a+1 {
					t.Errorf("%d-%d: %d,%d,%v want %d,%d", a, b, off, n, res, a, last-a+1)
				}
			}
		}
	}
}

func TestParseRangeAllocs(t *testing.T) {
	in := []byte("bytes=100-199")
	if n := testing.AllocsPerRun(100, func() { parseRange(in, 1000) }); n != 0 {
		t.Errorf("parseRange allocates %v times", n)
	}
}
