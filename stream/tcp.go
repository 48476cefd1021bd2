package stream

import "github.com/shardnet/shardnet/tcp"

// FromTCP adapts h to shardnet's TCP: the *tcp.Conn itself is the Conn
// (an interface holding a pointer: no allocation per callback).
func FromTCP(h Handler) tcp.Handler { return tcpAdapter{h} }

type tcpAdapter struct{ h Handler }

func (a tcpAdapter) OnOpen(c *tcp.Conn, now int64)               { a.h.OnOpen(c, now) }
func (a tcpAdapter) OnData(c *tcp.Conn, b []byte, now int64) int { return a.h.OnData(c, b, now) }
func (a tcpAdapter) OnWritable(c *tcp.Conn, now int64)           { a.h.OnWritable(c, now) }
func (a tcpAdapter) OnPeerClosed(c *tcp.Conn, now int64)         { a.h.OnPeerClosed(c, now) }
func (a tcpAdapter) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) {
	a.h.OnClose(c, closeReasonFromTCP(r), now)
}

func closeReasonFromTCP(r tcp.CloseReason) CloseReason {
	switch r {
	case tcp.CloseNormal:
		return CloseNormal
	case tcp.CloseReset, tcp.CloseRefused:
		return CloseReset
	case tcp.CloseAborted:
		return CloseAborted
	case tcp.CloseTimeout:
		return CloseTimeout
	}
	return CloseError
}

// static check: *tcp.Conn is a Conn.
var _ Conn = (*tcp.Conn)(nil)
