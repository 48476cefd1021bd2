// Command echo is a TCP echo server (RFC 862) on shardnet's user-space
// stack: every byte a client sends comes back. It takes the same driver
// flags as httpd.
//
//	sudo echo -iface shn0 -addr 198.18.0.2/24 -port 7
//	nc 198.18.0.2 7
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/shardnet/shardnet/examples/internal/app"
	"github.com/shardnet/shardnet/stream"
)

// echo answers each connection's bytes with the same bytes. It consumes
// only what the send buffer took, so a client that does not read stalls
// its own upload (flow control) instead of growing a buffer here. It is a
// stream.Handler, so it runs on shardnet's TCP and on the kernel's alike.
// There is one per shard, used only on that shard's thread.
type echo struct {
	conns    map[stream.Conn]struct{} // open connections, for Drain
	draining bool
}

// peerClosed marks a connection whose peer has half-closed.
type peerClosed struct{}

func (e *echo) OnOpen(c stream.Conn, now int64) {
	e.conns[c] = struct{}{}
	if e.draining {
		c.Close(now)
	}
}

func (e *echo) OnData(c stream.Conn, data []byte, now int64) int {
	if e.draining {
		return len(data) // our side is closed: nothing can be echoed any more
	}
	return c.Write(data, now)
}

// OnWritable offers the bytes not yet echoed again.
func (e *echo) OnWritable(c stream.Conn, now int64) {
	c.Resume(now)
	closeIfDone(c, now)
}

// OnPeerClosed closes our side once everything received is echoed.
func (e *echo) OnPeerClosed(c stream.Conn, now int64) {
	c.SetContext(peerClosed{})
	closeIfDone(c, now)
}

func closeIfDone(c stream.Conn, now int64) {
	if _, ok := c.Context().(peerClosed); ok && c.Unread() == 0 {
		c.SetContext(nil)
		c.Close(now)
	}
}

func (e *echo) OnClose(c stream.Conn, reason stream.CloseReason, now int64) { delete(e.conns, c) }

// Drain (on SIGINT/SIGTERM) closes every connection gracefully: what was
// already echoed is delivered, then a FIN; Stop waits for the peers to
// close their side.
func (e *echo) Drain(now int64) {
	e.draining = true
	for c := range e.conns {
		c.Close(now)
	}
}

func main() {
	var f app.Flags
	f.Register(flag.CommandLine)
	port := flag.Int("port", 7, "TCP port to echo on")
	flag.Parse()
	if *port < 1 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "echo: -port %d: want 1..65535\n", *port)
		os.Exit(2)
	}
	st, err := f.New()
	if err != nil {
		app.Fail("echo", err)
	}
	if err := st.HandleStream(uint16(*port), func(int) stream.Handler { return &echo{conns: map[stream.Conn]struct{}{}} }); err != nil {
		app.Fail("echo", err)
	}
	os.Exit(app.Run(st, os.Stdout, f.DrainTimeout, fmt.Sprintf("echo on port %d", *port), fmt.Sprintf("nc %s %d", st.Addr(), *port)))
}
