package tcp

import "github.com/shardnet/shardnet/wire"

// sendBuf is a connection's send buffer: a ring of bytes written by the
// application and not yet acknowledged. head is the sequence number of the
// first byte held. The ring is allocated the first time its pool slot is
// used and kept for the slot's later connections.
type sendBuf struct {
	b     []byte
	start int
	n     int
	head  wire.Seq
}

func (s *sendBuf) ensure(size int) {
	if cap(s.b) != size {
		s.b = make([]byte, size)
	}
	s.start, s.n = 0, 0
}

func (s *sendBuf) free() int     { return len(s.b) - s.n }
func (s *sendBuf) end() wire.Seq { return s.head.Add(uint32(s.n)) }

// write appends as much of p as fits and returns how much.
func (s *sendBuf) write(p []byte) int {
	n := len(p)
	if f := s.free(); n > f {
		n = f
	}
	w := (s.start + s.n) % len(s.b)
	c := copy(s.b[w:], p[:n])
	copy(s.b, p[c:n])
	s.n += n
	return n
}

// consume drops n acknowledged bytes from the front.
func (s *sendBuf) consume(n int) {
	if n > s.n {
		n = s.n
	}
	s.start = (s.start + n) % len(s.b)
	s.n -= n
	s.head = s.head.Add(uint32(n))
	if s.n == 0 {
		s.start = 0
	}
}

// copyOut copies len(dst) bytes starting off bytes after head.
func (s *sendBuf) copyOut(dst []byte, off int) {
	r := (s.start + off) % len(s.b)
	c := copy(dst, s.b[r:])
	copy(dst[c:], s.b)
}

// recvBuf holds in-order bytes the application has not consumed. It is
// linear (compacted when the tail reaches the end) so the application is
// always offered one contiguous slice.
type recvBuf struct {
	b    []byte
	r, w int
}

func (r *recvBuf) ensure(size int) {
	if cap(r.b) != size {
		r.b = make([]byte, size)
	}
	r.r, r.w = 0, 0
}

func (r *recvBuf) len() int     { return r.w - r.r }
func (r *recvBuf) free() int    { return len(r.b) - r.len() }
func (r *recvBuf) data() []byte { return r.b[r.r:r.w] }

// append copies as much of p as fits and returns how much.
func (r *recvBuf) append(p []byte) int {
	if len(p) > len(r.b)-r.w && r.r > 0 {
		n := copy(r.b, r.b[r.r:r.w])
		r.r, r.w = 0, n
	}
	n := copy(r.b[r.w:], p)
	r.w += n
	return n
}

func (r *recvBuf) consume(n int) {
	if n > r.len() {
		n = r.len()
	}
	r.r += n
	if r.r == r.w {
		r.r, r.w = 0, 0
	}
}
