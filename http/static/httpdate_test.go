package static

import (
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).Unix()
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC).Unix()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		// The three forms of RFC 9110 §5.6.7, all the same instant.
		{"Sun, 06 Nov 1994 08:49:37 GMT", want, true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", want, true},
		{"Sun Nov  6 08:49:37 1994", want, true},
		{"Sun Nov 16 08:49:37 1994", want + 10*86400, true},
		{"Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{"Thu, 29 Feb 2024 23:59:59 GMT", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC).Unix(), true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix(), true},
		// RFC 850 two-digit years: more than 50 years ahead means the past century.
		{"Monday, 01-Jan-74 00:00:00 GMT", time.Date(2074, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), true},
		{"Monday, 01-Jan-76 00:00:00 GMT", time.Date(1976, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), true},
		{"Thursday, 01-Jan-70 00:00:00 GMT", time.Date(2070, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), true},
		// Invalid.
		{"", 0, false},
		{"Sun, 06 Nov 1994 08:49:37 UTC", 0, false},
		{"Sun, 06 Nov 1994 08:49:37 gmt", 0, false},
		{"sun, 06 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 6 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 06 Nov 94 08:49:37 GMT", 0, false},
		{"Sun, 06 Nov 1994 08:49:37 GMT ", 0, false},
		{"Sun, 06 Foo 1994 08:49:37 GMT", 0, false},
		{"Sun, 30 Feb 2024 08:49:37 GMT", 0, false},
		{"Sun, 29 Feb 2023 08:49:37 GMT", 0, false},
		{"Sun, 29 Feb 1900 08:49:37 GMT", 0, false},
		{"Sun, 00 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 06 Nov 1994 24:00:00 GMT", 0, false},
		{"Sun, 06 Nov 1994 08:60:00 GMT", 0, false},
		{"Sun, 06 Nov 1994 08:49:61 GMT", 0, false},
		{"Sun, 06 Nov 1994 08-49-37 GMT", 0, false},
		{"Sun, 06 Nov 1994 0a:49:37 GMT", 0, false},
		{"Sunday, 06-Nov-1994 08:49:37 GMT", 0, false},
		{"Sun Nov 06 08:49:37 1994 ", 0, false},
		{"Sun Nov  6 08:49:37 94", 0, false},
		{"1994-11-06T08:49:37Z", 0, false},
		{"784111777", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseHTTPDate([]byte(tt.in), now)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseHTTPDate(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFormatHTTPDateRoundTrip(t *testing.T) {
	for _, u := range []int64{0, 784111777, 1709251199, 253402300799} {
		s := formatHTTPDate(u)
		if len(s) != 29 {
			t.Errorf("formatHTTPDate(%d) = %q: not 29 bytes", u, s)
		}
		got, ok := parseHTTPDate([]byte(s), 0)
		if !ok || got != u {
			t.Errorf("round trip %d → %q → %d, %v", u, s, got, ok)
		}
	}
	if s := formatHTTPDate(784111777); s != "Sun, 06 Nov 1994 08:49:37 GMT" {
		t.Errorf("formatHTTPDate = %q", s)
	}
}

func TestParseHTTPDateAllocs(t *testing.T) {
	in := []byte("Sunday, 06-Nov-94 08:49:37 GMT")
	if n := testing.AllocsPerRun(100, func() { parseHTTPDate(in, 1e9) }); n != 0 {
		t.Errorf("parseHTTPDate allocates %v times", n)
	}
}

// FuzzParseHTTPDate: an IMF-fixdate it accepts means what the standard
// library says; a canonical one (what time.Format writes) is accepted;
// nothing panics.
func FuzzParseHTTPDate(f *testing.F) {
	f.Add("Sun, 06 Nov 1994 08:49:37 GMT")
	f.Add("Sunday, 06-Nov-94 08:49:37 GMT")
	f.Add("Sun Nov  6 08:49:37 1994")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseHTTPDate([]byte(s), 1.7e9)
		if len(s) != 29 || s[3] != ',' {
			return
		}
		ref, err := time.Parse(imfLayout, s)
		if ok && (err != nil || ref.Unix() != got) && s[23:25] != "60" { // leap second: folded here, refused there
			t.Fatalf("%q: accepted as %d; time.Parse: %d, %v", s, got, ref.Unix(), err)
		}
		if err == nil && ref.Format(imfLayout) == s && !ok {
			t.Fatalf("%q: canonical date rejected", s)
		}
	})
}
