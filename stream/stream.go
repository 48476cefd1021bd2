// Package stream is the byte-stream API that both of shardnet's stacks
// implement — its own TCP (tcp.Conn, through FromTCP) and the kernel's
// (the kstack backend) — so that an application such as the http server
// is written once and measured on either.
//
// Layer: above tcp; the http package sees only this API, never a packet.
//
// Ownership: a Conn belongs to the shard whose loop runs it; every method
// is called on that shard's thread, and every Handler callback runs there,
// inline, and must not block. A Conn is valid from OnOpen until OnClose
// returns.
//
// Lifetimes: the data slice given to OnData is borrowed and valid only
// until OnData returns. OnData returns how many bytes it consumed; the
// rest stay with the connection (they shrink the receive window) and are
// offered again, first, at the next OnData or on Resume. Write copies into
// the connection's send buffer and returns how much fit; when that was
// short, OnWritable follows once there is room.
package stream

import "github.com/shardnet/shardnet/reactor/timer"

// Conn is one established byte stream.
type Conn interface {
	// Write copies as much of b as fits into the send buffer; bytes
	// written in one loop iteration leave together.
	Write(b []byte, now int64) int
	// WriteSpace is how many bytes Write would take now.
	WriteSpace() int
	// Buffered is how many written bytes are not yet acknowledged (or,
	// for the kernel backend, not yet handed to the kernel).
	Buffered() int
	// Unread is how many received bytes the application has not consumed.
	Unread() int
	// Resume offers the unconsumed received bytes to OnData again.
	Resume(now int64)
	// Close half-closes our direction after the buffered bytes (FIN).
	Close(now int64)
	// Abort resets the connection (RST); OnClose follows at once.
	Abort(now int64)
	// SetContext / Context hold one application value.
	SetContext(v any)
	Context() any
	// RemoteAddr is the peer's IPv4 address and port.
	RemoteAddr() ([4]byte, uint16)
	// SetNoDelay turns Nagle's algorithm off (true) or on.
	SetNoDelay(on bool)
}

// CloseReason says why a connection ended.
type CloseReason uint8

const (
	CloseNormal  CloseReason = iota // both directions closed cleanly
	CloseReset                      // the peer reset the connection
	CloseAborted                    // we aborted it (Abort, or shutdown)
	CloseTimeout                    // retransmissions or keepalives gave up
	CloseError                      // any other failure (e.g. a socket error)
)

var closeNames = [...]string{"normal", "reset", "aborted", "timeout", "error"}

func (r CloseReason) String() string {
	if int(r) < len(closeNames) {
		return closeNames[r]
	}
	return "unknown"
}

// Handler is an application's side of a stream.
type Handler interface {
	// OnOpen: the connection is established.
	OnOpen(c Conn, now int64)
	// OnData: in-order bytes arrived; return how many were consumed.
	OnData(c Conn, data []byte, now int64) int
	// OnWritable: a short Write can make progress again.
	OnWritable(c Conn, now int64)
	// OnPeerClosed: the peer half-closed; no more data will arrive.
	OnPeerClosed(c Conn, now int64)
	// OnClose: the connection is over; c must not be used afterwards.
	OnClose(c Conn, reason CloseReason, now int64)
}

// Host is what a stack offers an application on one shard.
type Host interface {
	// Listen serves port with h on this shard.
	Listen(port uint16, h Handler) error
	// Wheel is the shard's timer wheel (for application timeouts).
	Wheel() *timer.Wheel
	// Now is the clock reading of the current loop iteration.
	Now() int64
}
