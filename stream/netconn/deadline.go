package netconn

import (
	"sync"
	"time"
)

// deadline is one direction's deadline as a channel that is closed when
// it passes. Any goroutine may set it or wait on it; a waiter fetches the
// channel anew after every wake-up, because set may replace it.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	c     chan struct{} // closed once the deadline has passed
}

func newDeadline() deadline { return deadline{c: make(chan struct{})} }

// set arms the deadline for t; the zero time means none. A t in the past
// expires it at once.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		// The timer fired, or its func is waiting for d.mu: that func
		// closes its own channel only while it is still d.c.
		d.c = make(chan struct{})
	}
	d.timer = nil
	if isClosed(d.c) {
		d.c = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		close(d.c)
		return
	}
	ch := d.c
	d.timer = time.AfterFunc(dur, func() {
		d.mu.Lock()
		if d.c == ch {
			close(ch)
		}
		d.mu.Unlock()
	})
}

// wait returns the channel that is closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	c := d.c
	d.mu.Unlock()
	return c
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool { return isClosed(d.wait()) }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
