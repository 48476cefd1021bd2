package static

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Handler. Zero values take the defaults shown.
type Config struct {
	// Root is the directory served. Required.
	Root string
	// MaxCacheBytes bounds the bytes of file bodies held in memory
	// (64 MiB). Files found after the budget is spent, in walk order, are
	// streamed from disk. Negative: cache nothing.
	MaxCacheBytes int64
	// MaxCachedFile is the largest file cached in memory (1 MiB); larger
	// files are streamed from an *os.File opened at scan time.
	// Negative: cache nothing.
	MaxCachedFile int64
	// Index is the file served for a directory URL ending in '/'
	// ("index.html").
	Index string
	// Rescan is how often a background goroutine checks Root for changes
	// (2 s). Negative: never (call Handler.Rescan).
	Rescan time.Duration
	// RetireAfter is how long a file that a new snapshot no longer uses
	// stays open, so that responses still streaming from it can finish
	// (10 min). After that they fail (the read returns os.ErrClosed; the
	// file descriptor is never reused under them).
	RetireAfter time.Duration
	// Dotfiles serves names starting with '.' (files and directories).
	// By default they are hidden (404): .git, .env and the like.
	Dotfiles bool
}

const (
	defaultMaxCacheBytes = 64 << 20
	defaultMaxCachedFile = 1 << 20
	defaultIndex         = "index.html"
	defaultRescan        = 2 * time.Second
	defaultRetireAfter   = 10 * time.Minute
)

// ErrClosed is returned by Rescan after Close.
var ErrClosed = errors.New("static: handler closed")

// Handler serves the files under a root directory from an immutable
// snapshot (see the package doc). Serve may be called from any number of
// shards at once; the other methods are the control plane.
type Handler struct {
	cfg  Config
	root string // absolute, symlinks resolved

	snap atomic.Pointer[snapshot]

	mu      sync.Mutex // serialises scans, Close and Stats; never taken by Serve
	closed  bool
	retired []retiredFile
	counts  Counters

	stop chan struct{}
	done chan struct{}
}

type retiredFile struct {
	f  *os.File
	at time.Time
}

// Counters count the scanner's work.
type Counters struct {
	Scans      uint64 // completed walks
	Swaps      uint64 // snapshots published after a change
	ScanErrors uint64 // walks that failed (the previous snapshot stays)
	Retired    int    // replaced files still open for in-flight responses
	LastError  error  // the last scan error, nil after a good scan
}

// Stats is a Handler's state: the served snapshot and the scanner.
type Stats struct {
	ScanStats
	Counters
}

// New scans cfg.Root, publishes the first snapshot and starts the
// background rescanner (unless cfg.Rescan < 0).
func New(cfg Config) (*Handler, error) {
	if cfg.Root == "" {
		return nil, errors.New("static: Config.Root is empty")
	}
	if cfg.MaxCacheBytes == 0 {
		cfg.MaxCacheBytes = defaultMaxCacheBytes
	}
	if cfg.MaxCachedFile == 0 {
		cfg.MaxCachedFile = defaultMaxCachedFile
	}
	if cfg.Index == "" {
		cfg.Index = defaultIndex
	}
	if cfg.Rescan == 0 {
		cfg.Rescan = defaultRescan
	}
	if cfg.RetireAfter == 0 {
		cfg.RetireAfter = defaultRetireAfter
	}
	abs, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("static: root: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("static: root: %w", err)
	}
	if fi, err := os.Stat(real); err != nil {
		return nil, fmt.Errorf("static: root: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("static: root %s is not a directory", cfg.Root)
	}
	h := &Handler{cfg: cfg, root: real, stop: make(chan struct{}), done: make(chan struct{})}
	s, _, _, err := h.scan(nil, time.Now())
	if err != nil {
		return nil, err
	}
	h.snap.Store(s)
	h.counts.Scans, h.counts.Swaps = 1, 1
	if cfg.Rescan > 0 {
		go h.rescanLoop(cfg.Rescan)
	} else {
		close(h.done)
	}
	return h, nil
}

func (h *Handler) rescanLoop(every time.Duration) {
	defer close(h.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.Rescan() // errors are counted in Stats
		}
	}
}

// Rescan walks the root now and publishes a new snapshot if anything
// changed (a file's size, mtime, inode; a file added or removed). It
// reports whether it published. Tests call it instead of waiting for the
// background rescanner.
func (h *Handler) Rescan() (changed bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false, ErrClosed
	}
	now := time.Now()
	next, changed, retired, err := h.scan(h.snap.Load(), now)
	if err != nil {
		h.counts.ScanErrors++
		h.counts.LastError = err
		return false, err
	}
	h.counts.Scans++
	h.counts.LastError = nil
	if changed {
		h.snap.Store(next)
		h.counts.Swaps++
		for _, f := range retired {
			h.retired = append(h.retired, retiredFile{f, now})
		}
	}
	h.closeRetired(now.Add(-h.cfg.RetireAfter))
	return changed, nil
}

// closeRetired closes the retired files retired before cutoff.
func (h *Handler) closeRetired(cutoff time.Time) {
	kept := h.retired[:0]
	for _, r := range h.retired {
		if r.at.After(cutoff) {
			kept = append(kept, r)
		} else {
			r.f.Close()
		}
	}
	clear(h.retired[len(kept):])
	h.retired = kept
}

// Stats returns the current snapshot's figures and the scanner's counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.counts
	c.Retired = len(h.retired)
	return Stats{ScanStats: h.snap.Load().stats, Counters: c}
}

// Close stops the rescanner and closes every open file. Call it after the
// server stopped using the handler: a response still streaming a large
// file fails.
func (h *Handler) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	close(h.stop)
	<-h.done

	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.snap.Load().files {
		if e.file != nil {
			e.file.Close()
		}
	}
	h.closeRetired(time.Now().Add(time.Hour * 24 * 365 * 100))
	return nil
}
