package http

// Graceful shutdown. A Server keeps its open connections on an intrusive
// list (no allocation: the links live in each conn) so that Drain can
// reach the idle ones; everything else closes itself at its next settle.

// link puts cn on the open-connection list (OnOpen).
func (s *Server) link(cn *conn) {
	cn.prevA = nil
	cn.nextA = s.active
	if s.active != nil {
		s.active.prevA = cn
	}
	s.active = cn
}

// unlink takes cn off the open-connection list (OnClose).
func (s *Server) unlink(cn *conn) {
	if cn.prevA != nil {
		cn.prevA.nextA = cn.nextA
	} else if s.active == cn {
		s.active = cn.nextA
	}
	if cn.nextA != nil {
		cn.nextA.prevA = cn.prevA
	}
	cn.prevA, cn.nextA = nil, nil
}

// Drain starts a graceful shutdown of the server's connections at time
// now; the caller has usually stopped the listener first (so no new
// connection arrives), though one that still opens is served the same way.
// From now on:
//
//   - an idle keep-alive connection (no request begun, no response
//     waiting) is closed at once: our FIN is sent;
//   - a connection whose last response is still being written is closed
//     as soon as it has been written;
//   - a connection in the middle of a request (head or body partly read,
//     or complete requests waiting behind back-pressure) finishes it: the
//     response carries "Connection: close", and the connection closes
//     once it has been written. Pipelined requests after that one are
//     discarded, as HTTP/1.1 allows when the server closes (RFC 9112
//     §9.6); clients retry them on a new connection.
//
// Closed connections end as usual: the peer's FIN completes the close,
// or LingerTimeout resets it; Active says how many are still open.
// Calling Drain again does the same walk again. Shard thread only; it
// allocates nothing.
func (s *Server) Drain(now int64) {
	s.draining = true
	for cn := s.active; cn != nil; {
		next := cn.nextA // cn may close (but is not released) below
		if !cn.closed && cn.state == stHead && !cn.begun && !cn.paused {
			cn.settle(now, true) // writes what waits, then closes
		}
		cn = next
	}
}

// Draining reports whether Drain has been called. Shard thread only.
func (s *Server) Draining() bool { return s.draining }

// Active returns how many connections are open now (including ones we
// have closed whose peer has not yet closed its side). Shard thread only.
func (s *Server) Active() int { return s.stats.ConnsActive }
