package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	nethttp "net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// ScrapeTimeout bounds one call of the gather function: a shard that does
// not answer within it fails the scrape (503) rather than hanging it.
const ScrapeTimeout = 10 * time.Second

// Admin is the admin listener: /metrics and /debug/pprof/ served by
// net/http on the kernel's network stack, never on a shard. It owns its
// listener, its mux and the goroutine that serves them until Close.
type Admin struct {
	ln    net.Listener
	srv   *nethttp.Server
	log   *zap.Logger
	done  chan struct{} // closed when Serve has returned
	close sync.Once
	err   error
}

// Handler returns the /metrics handler: each GET or HEAD calls gather
// (with a context that ends with the request or after ScrapeTimeout) and
// answers its samples as WriteText's text, or 503 if gather fails. Calls
// of gather are serialised: one scrape at a time asks the shards, and
// scrapes that wait give up when their context ends.
func Handler(gather func(ctx context.Context) ([]Sample, error), log *zap.Logger) nethttp.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	return &metricsHandler{gather: gather, log: log, sem: make(chan struct{}, 1)}
}

type metricsHandler struct {
	gather func(ctx context.Context) ([]Sample, error)
	log    *zap.Logger
	sem    chan struct{} // one token: one gather at a time
}

func (h *metricsHandler) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	if r.Method != nethttp.MethodGet && r.Method != nethttp.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		nethttp.Error(w, "method not allowed", nethttp.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), ScrapeTimeout)
	defer cancel()
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		nethttp.Error(w, "metrics: another scrape is still gathering", nethttp.StatusServiceUnavailable)
		return
	}
	samples, err := h.gather(ctx)
	<-h.sem
	if err != nil {
		h.log.Warn("metrics scrape failed", zap.Error(err))
		nethttp.Error(w, "metrics: gather: "+err.Error(), nethttp.StatusServiceUnavailable)
		return
	}
	var b bytes.Buffer
	if err := WriteText(&b, samples); err != nil {
		h.log.Error("metrics: cannot write samples", zap.Error(err))
		nethttp.Error(w, err.Error(), nethttp.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == nethttp.MethodHead {
		return
	}
	w.Write(b.Bytes()) // a failed write is the scraper's lost connection
}

// NewAdmin serves /metrics (calling gather on each scrape) and
// /debug/pprof/ (net/http/pprof handlers registered on its own mux, not
// DefaultServeMux) with net/http on addr (kernel stack, e.g.
// "127.0.0.1:9090"; port 0 picks a free one, see Addr). Close shuts it
// down. gather is called from the server's goroutines, one call at a
// time; it must copy each shard's counters on that shard's thread.
//
// Note that importing net/http/pprof also registers its handlers on
// DefaultServeMux; shardnet never serves DefaultServeMux.
func NewAdmin(addr string, gather func(ctx context.Context) ([]Sample, error), log *zap.Logger) (*Admin, error) {
	if gather == nil {
		return nil, errors.New("metrics: NewAdmin needs a gather function")
	}
	if log == nil {
		log = zap.NewNop()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: admin listener on %q: %w (choose a free address, or port 0)", addr, err)
	}
	mux := nethttp.NewServeMux()
	mux.Handle("/metrics", Handler(gather, log))
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves the named profiles: goroutine, heap, …
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/{$}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "shardnet admin: /metrics /debug/pprof/\n")
	})
	a := &Admin{
		ln:  ln,
		log: log,
		// No WriteTimeout: /debug/pprof/profile and trace stream for as
		// many seconds as asked.
		srv: &nethttp.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       60 * time.Second,
			ErrorLog:          zap.NewStdLog(log),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			log.Error("admin listener stopped", zap.Stringer("addr", ln.Addr()), zap.Error(err))
		}
	}()
	log.Info("admin listener", zap.Stringer("addr", ln.Addr()))
	return a, nil
}

// Addr is the address the admin listener is bound to.
func (a *Admin) Addr() net.Addr { return a.ln.Addr() }

// Close stops the listener and closes every connection, including scrapes
// and profiles in progress, and waits for the server goroutine to end.
// Calls after the first return the first's result.
func (a *Admin) Close() error {
	a.close.Do(func() {
		a.err = a.srv.Close()
		<-a.done
	})
	return a.err
}
