package tcp

import "github.com/shardnet/shardnet/wire"

// sendBuf is a connection's send buffer: a ring of bytes written by the
// application and not yet acknowledged. head is the sequence number of the
// first byte held. The ring's memory comes from the Stack's bufPool when
// bytes are written and goes back to it once they are all acknowledged:
// an idle connection holds none (b is nil). Its logical size, what Write
// may fill, is Config.SendBuf; b is at most that.
type sendBuf struct {
	b     []byte
	start int
	n     int
	head  wire.Seq
}

// reset forgets the contents (the slot's next connection).
func (s *sendBuf) reset(p *bufPool) {
	p.put(s.b)
	s.b = nil
	s.start, s.n = 0, 0
}

func (s *sendBuf) end() wire.Seq { return s.head.Add(uint32(s.n)) }

// write appends as much of p as fits in the logical size limit and the
// shard's budget, growing the ring as needed, and returns how much.
func (s *sendBuf) write(p []byte, pool *bufPool, limit int) int {
	n := min(len(p), limit-s.n)
	if n <= 0 {
		return 0
	}
	if want := s.n + n; want > len(s.b) {
		if nb := pool.grow(s.b, want, limit); nb != nil {
			s.copyOut(nb[:s.n], 0)
			pool.recycle(s.b)
			s.b, s.start = nb, 0
		}
		n = min(n, len(s.b)-s.n)
		if n <= 0 {
			return 0
		}
	}
	w := (s.start + s.n) % len(s.b)
	c := copy(s.b[w:], p[:n])
	copy(s.b, p[c:n])
	s.n += n
	return n
}

// consume drops n acknowledged bytes from the front; the memory goes back
// to the pool when none are left.
func (s *sendBuf) consume(n int, pool *bufPool) {
	if n > s.n {
		n = s.n
	}
	s.head = s.head.Add(uint32(n))
	s.n -= n
	if s.n == 0 {
		pool.put(s.b)
		s.b, s.start = nil, 0
		return
	}
	s.start = (s.start + n) % len(s.b)
}

// copyOut copies len(dst) bytes starting off bytes after head.
func (s *sendBuf) copyOut(dst []byte, off int) {
	if len(dst) == 0 {
		return
	}
	r := (s.start + off) % len(s.b)
	c := copy(dst, s.b[r:])
	copy(dst[c:], s.b)
}

// recvBuf holds in-order bytes the application has not consumed. It is
// linear (compacted when the tail reaches the end) so the application is
// always offered one contiguous slice. Its memory comes from the Stack's
// bufPool when bytes must be kept and goes back when the application has
// consumed them all: an idle connection holds none (b is nil). Its logical
// size, the most the receive window offers, is Config.RecvBuf.
type recvBuf struct {
	b    []byte
	r, w int
}

func (r *recvBuf) reset(p *bufPool) {
	p.put(r.b)
	r.b = nil
	r.r, r.w = 0, 0
}

func (r *recvBuf) len() int     { return r.w - r.r }
func (r *recvBuf) data() []byte { return r.b[r.r:r.w] }

// append copies as much of p as fits in the logical size limit and the
// shard's budget, growing the buffer as needed, and returns how much.
func (r *recvBuf) append(p []byte, pool *bufPool, limit int) int {
	n := min(len(p), limit-r.len())
	if n <= 0 {
		return 0
	}
	if n > len(r.b)-r.w {
		if want := r.len() + n; want > len(r.b) {
			if nb := pool.grow(r.b, want, limit); nb != nil {
				k := copy(nb, r.b[r.r:r.w])
				pool.recycle(r.b)
				r.b, r.r, r.w = nb, 0, k
			}
		}
		if n > len(r.b)-r.w && r.r > 0 {
			k := copy(r.b, r.b[r.r:r.w])
			r.r, r.w = 0, k
		}
		n = min(n, len(r.b)-r.w)
	}
	k := copy(r.b[r.w:], p[:n])
	r.w += k
	return k
}

// consume drops n bytes the application has read; the memory goes back to
// the pool when none are left.
func (r *recvBuf) consume(n int, pool *bufPool) {
	if n > r.len() {
		n = r.len()
	}
	r.r += n
	if r.r == r.w {
		pool.put(r.b)
		r.b, r.r, r.w = nil, 0, 0
	}
}
