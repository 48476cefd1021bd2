package shardnet

import (
	"context"
	"fmt"
	"time"

	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/stream"
)

// serviceTimeout bounds how long a Handle call on a running stack waits
// for the shards to set the service up.
const serviceTimeout = 10 * time.Second

// HandleHTTP serves HTTP/1.1 on port: every shard gets its own
// http.Server made from cfg (its connections, buffers and counters are
// the shard's; cfg's Handler or Router, and anything they use, are shared
// by all shards and must be safe for concurrent use). The Stack keeps the
// servers: their counters appear in Samples and on /metrics, and Stop
// drains them (http.Server.Drain). A zero cfg.RecvBuffer is set to the
// stack's RecvBuf; a nil cfg.FileInbox to each shard's inbox, so that file
// bodies (SetBodyFile) are read off the shard's thread. Before Start the
// service starts with the stack; after, it starts on every shard before
// HandleHTTP returns.
func (st *Stack) HandleHTTP(port uint16, cfg http.Config) error {
	if cfg.RecvBuffer == 0 && st.cfg.RecvBuf != 0 {
		cfg.RecvBuffer = st.cfg.RecvBuf
	}
	if cfg.Handler == nil && cfg.Router == nil {
		return fmt.Errorf("%w: HandleHTTP(%d): the http.Config needs a Handler or a Router", ErrConfig, port)
	}
	return st.addService(port, "http", func(ss *shardState) error {
		cfg := cfg
		if cfg.FileInbox == nil {
			cfg.FileInbox = ss.sh.Inbox() // file bodies read off the shard
		}
		srv, err := http.NewServer(cfg, ss.host)
		if err != nil {
			return fmt.Errorf("HandleHTTP(%d): %w", port, err)
		}
		if err := ss.listen(port, srv); err != nil {
			return err
		}
		ss.servers = append(ss.servers, srv)
		return nil
	})
}

// HandleStream serves port with a stream.Handler per shard: newHandler is
// called on each shard's thread with the shard's ID (0..Shards-1) and
// returns the handler for the connections that shard accepts. A handler
// that implements Drainer is told when Stop begins; Stop then waits for
// its connections to close. Before Start the service starts with the
// stack; after, on every shard before HandleStream returns.
func (st *Stack) HandleStream(port uint16, newHandler func(shard int) stream.Handler) error {
	if newHandler == nil {
		return fmt.Errorf("%w: HandleStream(%d) needs a handler constructor", ErrConfig, port)
	}
	return st.addService(port, "stream", func(ss *shardState) error {
		h := newHandler(ss.id)
		if h == nil {
			return fmt.Errorf("HandleStream(%d): the constructor returned no handler", port)
		}
		return ss.listen(port, h)
	})
}

// addService records a service on port, or starts it on a running stack.
func (st *Stack) addService(port uint16, what string, f func(ss *shardState) error) error {
	if port == 0 {
		return fmt.Errorf("%w: %s service on port 0: choose a port from 1 to 65535", ErrConfig, what)
	}
	st.mu.Lock()
	if prev, ok := st.ports[port]; ok {
		st.mu.Unlock()
		return fmt.Errorf("%w: port %d already has a %s service: choose another port", ErrConfig, port, prev)
	}
	switch st.state {
	case stConfigured:
		st.ports[port] = what
		st.setups = append(st.setups, f)
		st.mu.Unlock()
		return nil
	case stRunning:
		st.ports[port] = what
		st.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
		defer cancel()
		return st.onEach(ctx, f)
	}
	st.mu.Unlock()
	return ErrNotRunning
}
