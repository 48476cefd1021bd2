package http

import "time"

// TimeFormat is the IMF-fixdate format of the Date header (RFC 9110
// §5.6.7).
const TimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// dateCache holds the current "Date: ...\r\n" line and wall-clock second.
// It is refreshed at most once per second of the shard's clock, at the
// wall clock's second boundary, so a response never formats a time.
type dateCache struct {
	clock func() time.Time
	next  int64 // shard-clock ns at which to refresh
	unix  int64
	line  []byte // "Date: " IMF-fixdate CRLF
}

func (d *dateCache) init(clock func() time.Time) {
	if clock == nil {
		clock = time.Now
	}
	d.clock = clock
	d.line = make([]byte, 0, len("Date: ")+len(TimeFormat)+2)
	d.next = -1 << 63
}

// refresh updates the cache if now has reached the next second.
func (d *dateCache) refresh(now int64) {
	if now < d.next {
		return
	}
	t := d.clock()
	d.unix = t.Unix()
	d.line = append(d.line[:0], "Date: "...)
	d.line = t.UTC().AppendFormat(d.line, TimeFormat)
	d.line = append(d.line, '\r', '\n')
	d.next = now + int64(time.Second) - int64(t.Nanosecond())
}
