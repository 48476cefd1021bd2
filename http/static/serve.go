package static

import "github.com/shardnet/shardnet/http"

// Serve answers one request from the current snapshot. It is an
// http.HandlerFunc: it runs on a shard, takes no lock, and allocates
// nothing (every header value is pre-rendered in the entry, or rendered
// into a stack buffer that SetHeaderBytes copies).
func (h *Handler) Serve(c *http.Ctx) {
	m := methodOf(c.Method())
	e, status := h.snap.Load().resolve(m, c.Path())
	switch status {
	case 0:
	case statusMovedPermanently:
		c.SetHeaderBytes("Location", e.location)
		c.Error(statusMovedPermanently)
		return
	case statusMethodNotAllowed:
		c.SetHeader("Allow", allowedMethods)
		c.Error(statusMethodNotAllowed)
		return
	default:
		c.Error(status)
		return
	}

	cd := conds{
		ifMatch:           c.Header("If-Match"),
		ifUnmodifiedSince: c.Header("If-Unmodified-Since"),
		ifNoneMatch:       c.Header("If-None-Match"),
		ifModifiedSince:   c.Header("If-Modified-Since"),
	}
	var rangeField []byte
	if m == methodGet {
		if rangeField = c.Header("Range"); rangeField != nil {
			cd.ifRange = c.Header("If-Range")
		}
	}
	o := decide(e, m, &cd, rangeField, c.Unix())
	switch o.status {
	case statusOK, statusPartialContent:
		c.SetStatus(o.status)
		c.SetContentType(e.contentType)
		c.SetHeaderBytes("ETag", e.etag)
		c.SetHeaderBytes("Last-Modified", e.lastModified)
		c.SetHeader("Accept-Ranges", acceptRanges)
		if o.status == statusPartialContent {
			var buf [64]byte
			c.SetHeaderBytes("Content-Range", appendContentRange(buf[:0], o.off, o.n, e.size))
		}
		if e.cached || e.file == nil {
			c.SetBodyShared(e.data[o.off : o.off+o.n])
		} else {
			c.SetBodyFile(e.file, o.off, o.n)
		}
	case statusNotModified:
		c.SetStatus(statusNotModified)
		c.SetHeaderBytes("ETag", e.etag)
		c.SetHeaderBytes("Last-Modified", e.lastModified)
	case statusRangeNotSatisfiable:
		c.SetHeaderBytes("Content-Range", e.unsatisfiable)
		c.Error(statusRangeNotSatisfiable)
	default:
		c.Error(o.status)
	}
}
