package static

import "time"

// imfLayout is the IMF-fixdate layout (RFC 9110 §5.6.7), for time.Format at
// scan time only; the data path never formats a date.
const imfLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

// formatHTTPDate renders unix seconds as an IMF-fixdate.
func formatHTTPDate(unix int64) string {
	return time.Unix(unix, 0).UTC().Format(imfLayout)
}

var (
	dayNames   = [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	longDays   = [7]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// parseHTTPDate parses the three HTTP-date forms a recipient must accept
// (RFC 9110 §5.6.7): IMF-fixdate, the obsolete RFC 850 form and asctime.
// It returns unix seconds and ok; it does not allocate. nowUnix resolves
// RFC 850's two-digit year: a year more than 50 years in the future is
// taken as the most recent past year with the same last two digits.
// The day name is checked for form only, not against the date (the RFC
// lets recipients be lenient there, and a wrong weekday changes nothing).
func parseHTTPDate(b []byte, nowUnix int64) (int64, bool) {
	p := dateParser{b: b}
	switch {
	case len(b) == 29 && b[3] == ',':
		// Sun, 06 Nov 1994 08:49:37 GMT
		if !p.oneOf(dayNames[:]) || !p.lit(", ") {
			return 0, false
		}
		day := p.digits(2)
		ok := p.lit(" ")
		mon := p.month()
		ok = ok && p.lit(" ")
		year := p.digits(4)
		ok = ok && p.lit(" ")
		h, m, s := p.clock()
		ok = ok && p.lit(" GMT") && p.end()
		return civil(year, mon, day, h, m, s, ok && !p.bad)
	case len(b) == 24 && b[3] == ' ':
		// Sun Nov  6 08:49:37 1994
		if !p.oneOf(dayNames[:]) || !p.lit(" ") {
			return 0, false
		}
		mon := p.month()
		ok := p.lit(" ")
		var day int
		if p.peek() == ' ' {
			p.i++
			day = p.digits(1)
		} else {
			day = p.digits(2)
		}
		ok = ok && p.lit(" ")
		h, m, s := p.clock()
		ok = ok && p.lit(" ")
		year := p.digits(4)
		ok = ok && p.end()
		return civil(year, mon, day, h, m, s, ok && !p.bad)
	default:
		// Sunday, 06-Nov-94 08:49:37 GMT
		if !p.oneOf(longDays[:]) || !p.lit(", ") {
			return 0, false
		}
		day := p.digits(2)
		ok := p.lit("-")
		mon := p.month()
		ok = ok && p.lit("-")
		yy := p.digits(2)
		ok = ok && p.lit(" ")
		h, m, s := p.clock()
		ok = ok && p.lit(" GMT") && p.end()
		if !ok || p.bad {
			return 0, false
		}
		nowYear := time.Unix(nowUnix, 0).UTC().Year()
		year := nowYear - nowYear%100 + yy
		if year > nowYear+50 {
			year -= 100
		}
		return civil(year, mon, day, h, m, s, true)
	}
}

type dateParser struct {
	b   []byte
	i   int
	bad bool
}

func (p *dateParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *dateParser) end() bool { return p.i == len(p.b) }

func (p *dateParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		p.bad = true
		return false
	}
	p.i += len(s)
	return true
}

func (p *dateParser) oneOf(names []string) bool {
	for _, n := range names {
		if len(p.b)-p.i >= len(n) && string(p.b[p.i:p.i+len(n)]) == n {
			p.i += len(n)
			return true
		}
	}
	p.bad = true
	return false
}

func (p *dateParser) month() int {
	for i, n := range monthNames {
		if len(p.b)-p.i >= 3 && string(p.b[p.i:p.i+3]) == n {
			p.i += 3
			return i + 1
		}
	}
	p.bad = true
	return 0
}

func (p *dateParser) digits(n int) int {
	v := 0
	for k := 0; k < n; k++ {
		c := p.peek()
		if c < '0' || c > '9' {
			p.bad = true
			return 0
		}
		v = v*10 + int(c-'0')
		p.i++
	}
	return v
}

func (p *dateParser) clock() (h, m, s int) {
	h = p.digits(2)
	p.lit(":")
	m = p.digits(2)
	p.lit(":")
	s = p.digits(2)
	return
}

// civil converts a UTC calendar time to unix seconds after range checks
// (second 60 is accepted as a leap second and folded into the next).
func civil(year, mon, day, h, m, s int, ok bool) (int64, bool) {
	if !ok || mon < 1 || mon > 12 || day < 1 || day > daysIn(year, mon) ||
		h > 23 || m > 59 || s > 60 {
		return 0, false
	}
	return daysFromCivil(year, mon, day)*86400 + int64(h*3600+m*60+s), true
}

func daysIn(year, mon int) int {
	switch mon {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
