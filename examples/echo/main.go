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
type echo struct{}

// peerClosed marks a connection whose peer has half-closed.
type peerClosed struct{}

func (echo) OnOpen(c stream.Conn, now int64) {}

func (echo) OnData(c stream.Conn, data []byte, now int64) int { return c.Write(data, now) }

// OnWritable offers the bytes not yet echoed again.
func (echo) OnWritable(c stream.Conn, now int64) {
	c.Resume(now)
	closeIfDone(c, now)
}

// OnPeerClosed closes our side once everything received is echoed.
func (echo) OnPeerClosed(c stream.Conn, now int64) {
	c.SetContext(peerClosed{})
	closeIfDone(c, now)
}

func closeIfDone(c stream.Conn, now int64) {
	if _, ok := c.Context().(peerClosed); ok && c.Unread() == 0 {
		c.SetContext(nil)
		c.Close(now)
	}
}

func (echo) OnClose(c stream.Conn, reason stream.CloseReason, now int64) {}

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
	if err := st.HandleStream(uint16(*port), func(int) stream.Handler { return echo{} }); err != nil {
		app.Fail("echo", err)
	}
	os.Exit(app.Run(st, os.Stdout, f.DrainTimeout, fmt.Sprintf("echo on port %d", *port), fmt.Sprintf("nc %s %d", st.Addr(), *port)))
}
