// Package stdhttp serves a standard net/http.Handler from shardnet's own
// HTTP server: each request the shard's http.Server parses becomes a
// *net/http.Request, the handler runs inline on the shard's thread, and
// what it writes to the ResponseWriter becomes the Ctx's response.
//
// Layer: an adapter above package http (shardnet's), for handlers written
// against the standard library. It is slower than a native
// http.HandlerFunc — see "Cost" — and is meant for compatibility (an
// existing mux, middleware, a health or metrics endpoint) next to native
// routes that carry the load.
//
// The handler must not block: it runs between packets on the shard's
// pinned thread, so a handler that waits (on a lock, a channel, the
// network, a file system that may stall) stalls every connection of the
// shard. Handlers that must block belong on netconn's net.Listener with
// net/http.Serve, where each connection has its own goroutine.
//
// Ownership and lifetimes: the *Request, its Header, URL and Body, and
// the ResponseWriter are valid only during ServeHTTP: they are reused for
// later requests, and the body reads from the connection's buffer. A
// handler must not keep any of them, nor use them from another goroutine
// after it returns.
//
// Semantics: the body is read whole by the server before the handler
// runs (shardnet's MaxBodyBytes applies; Content-Length is its decoded
// length, also for a chunked request); the response is sent whole after
// the handler returns, with Content-Length — there is no streaming,
// and the ResponseWriter implements neither http.Flusher nor
// http.Hijacker. The server writes Date, Server, Content-Length and
// Connection itself, so those response header fields (and
// Transfer-Encoding, Keep-Alive, Trailer) are ignored; "Connection:
// close" asks for the connection to be closed after the response.
// Informational (1xx) WriteHeader calls are ignored. Without a
// Content-Type the first 512 bytes are sniffed, as net/http does. A
// panic in the handler is recovered and answered with 500 and
// Connection: close, and counted (Adapter.Panics). Request.Context is
// context.Background; Request.TLS is nil.
//
// Cost: per request, in addition to the native server's work (which
// allocates nothing), the adapter allocates the strings the standard
// types need — the request-target (one string that Path, RawQuery and
// RequestURI share unless the path has escapes), one per header value
// (Host included), RemoteAddr: 4 allocations for a GET with Host and
// User-Agent (TestAllocsPerRequest) — plus what the handler allocates (a
// Header().Set is one []string). The Request, URL, header maps, body
// reader and ResponseWriter are pooled. The response body is copied once
// into the Ctx's buffer, as with Ctx.Write.
package stdhttp

import (
	"bytes"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	shttp "github.com/shardnet/shardnet/http"
)

// Adapter serves a net/http.Handler on shardnet's HTTP server. One
// Adapter may be shared by the servers of every shard (it holds only the
// handler, a pool and a counter).
type Adapter struct {
	h      http.Handler
	pool   sync.Pool // *state
	panics atomic.Uint64
}

// New returns an Adapter for h.
func New(h http.Handler) *Adapter {
	a := &Adapter{h: h}
	a.pool.New = func() any { return newState() }
	return a
}

// Handler returns a shardnet HandlerFunc that serves h; it is
// New(h).Serve.
func Handler(h http.Handler) shttp.HandlerFunc { return New(h).Serve }

// Panics returns how many handler calls panicked. Any goroutine.
func (a *Adapter) Panics() uint64 { return a.panics.Load() }

// Serve answers the request in c with the handler. Shard thread (it is a
// shardnet http.HandlerFunc).
func (a *Adapter) Serve(c *shttp.Ctx) {
	st := a.pool.Get().(*state)
	st.fill(c)
	a.run(st)
	st.w.finish()
	st.clear()
	a.pool.Put(st)
}

func (a *Adapter) run(st *state) {
	defer func() {
		if r := recover(); r != nil {
			a.panics.Add(1)
			c := st.w.c
			c.Error(http.StatusInternalServerError)
			c.SetClose()
			st.w.done = true
		}
	}()
	a.h.ServeHTTP(&st.w, &st.req)
}

// state is one request's standard-library view, reused through the pool.
type state struct {
	req  http.Request
	url  url.URL
	body body
	hdr  http.Header
	vals []string // backing store for hdr's values
	w    writer
}

func newState() *state {
	st := &state{hdr: make(http.Header), vals: make([]string, 0, 16)}
	st.w.hdr = make(http.Header)
	return st
}

// fill builds the request from c.
func (st *state) fill(c *shttp.Ctx) {
	st.w.c = c
	r := &st.req
	r.Method = method(c.Method())
	r.ProtoMajor, r.ProtoMinor = 1, c.ProtoMinor()
	r.Proto = "HTTP/1.1"
	if r.ProtoMinor == 0 {
		r.Proto = "HTTP/1.0"
	}
	target := c.Target()
	tgt := string(target) // one string; path and query are cut from it
	r.RequestURI = tgt
	if len(tgt) > 0 && tgt[0] == '/' {
		raw := c.RawPath()
		if path := c.Path(); string(path) == string(raw) {
			st.url.Path = tgt[:len(raw)]
		} else {
			st.url.Path = string(path)
			st.url.RawPath = tgt[:len(raw)]
		}
		if q := c.Query(); q != nil {
			st.url.RawQuery = tgt[len(tgt)-len(q):]
		}
		r.URL = &st.url
	} else if u, err := url.ParseRequestURI(tgt); err == nil {
		r.URL = u // absolute-form, or "*"
	} else {
		r.URL = &url.URL{Path: tgt}
	}

	vals := st.vals[:0]
	for i := 0; i < c.NumHeaders(); i++ {
		name, value := c.HeaderAt(i)
		key := canonical(name)
		if key == "Host" {
			if r.Host == "" {
				r.Host = string(value)
			}
			continue
		}
		vals = append(vals, string(value))
		if old, ok := st.hdr[key]; ok {
			st.hdr[key] = append(old, vals[len(vals)-1])
		} else {
			st.hdr[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	st.vals = vals
	r.Header = st.hdr
	if r.Host == "" && r.URL.Host != "" {
		r.Host = r.URL.Host
	}
	r.Close = wantsClose(c)

	b := c.Body()
	r.ContentLength = int64(len(b))
	if len(b) == 0 {
		r.Body = http.NoBody
	} else {
		st.body.Reset(b)
		r.Body = &st.body
	}
	ip, port := c.RemoteAddr()
	r.RemoteAddr = netip.AddrPortFrom(netip.AddrFrom4(ip), port).String()
}

// clear drops every reference the request held, for the pool.
func (st *state) clear() {
	clear(st.hdr)
	clear(st.vals)
	st.vals = st.vals[:0]
	st.body.Reset(nil)
	st.url = url.URL{}
	st.req = http.Request{}
	st.w.reset()
}

// wantsClose: Connection: close, or HTTP/1.0 without keep-alive.
func wantsClose(c *shttp.Ctx) bool {
	conn := c.Header("Connection")
	if c.ProtoMinor() == 0 {
		return !containsToken(conn, "keep-alive")
	}
	return containsToken(conn, "close")
}

// containsToken reports whether the comma-separated list v has tok
// (case-insensitive), without allocating.
func containsToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		f := v
		if i >= 0 {
			f, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		f = bytes.TrimSpace(f)
		if len(f) == len(tok) && strings.EqualFold(string(f), tok) {
			return true
		}
	}
	return false
}

// body is the request body: a reader over the connection's buffer.
type body struct{ bytes.Reader }

func (*body) Close() error { return nil }

// method returns m as a string, without allocating for the usual ones.
func method(m []byte) string {
	switch string(m) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodPatch:
		return http.MethodPatch
	}
	return string(m)
}

// common holds the canonical forms of frequent header names, so that
// canonical allocates nothing for them.
var common = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language",
		"Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Length",
		"Content-Type", "Cookie", "Expect", "Host", "If-Match", "If-Modified-Since",
		"If-None-Match", "If-Range", "If-Unmodified-Since", "Origin", "Pragma", "Range",
		"Referer", "Te", "Transfer-Encoding", "Upgrade", "User-Agent", "X-Forwarded-For",
		"X-Forwarded-Proto", "X-Request-Id"} {
		m[k] = k
		m[strings.ToLower(k)] = k
	}
	return m
}()

// canonical returns the canonical MIME form of a header name.
func canonical(name []byte) string {
	if k, ok := common[string(name)]; ok {
		return k
	}
	return http.CanonicalHeaderKey(string(name))
}
