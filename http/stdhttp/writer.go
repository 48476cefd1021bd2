package stdhttp

import (
	"net/http"
	"strings"

	shttp "github.com/shardnet/shardnet/http"
)

// writer is the http.ResponseWriter: it collects status, header fields
// and body into the Ctx's response. Valid during one ServeHTTP call.
type writer struct {
	c      *shttp.Ctx
	hdr    http.Header
	status int  // 0 until WriteHeader
	typed  bool // the handler chose the Content-Type (or none)
	done   bool // the response is final (a recovered panic)
	sniff  [512]byte
	nsniff int
}

func (w *writer) reset() {
	clear(w.hdr)
	w.c, w.status, w.typed, w.done, w.nsniff = nil, 0, false, false, 0
}

// Header is the response header map; changes after WriteHeader (or the
// first Write) are ignored.
func (w *writer) Header() http.Header { return w.hdr }

// WriteHeader sets the status and takes the header fields. Later calls
// are ignored, as are informational (1xx) codes.
func (w *writer) WriteHeader(code int) {
	if w.status != 0 || w.done {
		return
	}
	if code >= 100 && code < 200 {
		return
	}
	if code < 100 || code > 999 {
		code = http.StatusInternalServerError
	}
	w.status = code
	c := w.c
	c.SetStatus(code)
	for k, vs := range w.hdr {
		switch k {
		case "Content-Type":
			w.typed = true // present, even empty: no sniffing (as net/http)
			if len(vs) > 0 && vs[0] != "" {
				c.SetContentType(vs[0])
			}
		case "Content-Length", "Date", "Server", "Transfer-Encoding", "Keep-Alive", "Trailer":
			// The server writes these itself.
		case "Connection":
			for _, v := range vs {
				if containsToken([]byte(v), "close") {
					c.SetClose()
				}
			}
		default:
			if strings.HasPrefix(k, http.TrailerPrefix) {
				continue
			}
			for _, v := range vs {
				c.SetHeader(k, v)
			}
		}
	}
}

// Write appends b to the response body.
func (w *writer) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if !w.typed && w.nsniff < len(w.sniff) {
		w.nsniff += copy(w.sniff[w.nsniff:], b)
	}
	w.c.Write(b)
	return len(b), nil
}

// WriteString is Write for a string, without converting it.
func (w *writer) WriteString(s string) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if !w.typed && w.nsniff < len(w.sniff) {
		w.nsniff += copy(w.sniff[w.nsniff:], s)
	}
	w.c.WriteString(s)
	return len(s), nil
}

// finish completes the response once the handler has returned.
func (w *writer) finish() {
	if w.done {
		return
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.typed && w.nsniff > 0 && bodyAllowed(w.status) {
		w.c.SetContentType(http.DetectContentType(w.sniff[:w.nsniff]))
	}
}

// bodyAllowed: 204 and 304 responses carry no body (RFC 9110 §6.4.1).
func bodyAllowed(code int) bool { return code != 204 && code != 304 }
