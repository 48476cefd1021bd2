package xfer

import (
	"fmt"

	"github.com/shardnet/shardnet/tcp"
)

// Result is one finished transfer, as the shard side saw it.
type Result struct {
	Remote [4]byte
	Port   uint16
	Header Header
	Sent   uint64
	Err    error
	Reason tcp.CloseReason
	Info   tcp.Info // at close
}

// Handler runs the protocol on a shard: as a server (Listen with it) it
// reads the header and answers; as a dialer (DialWith) it sends the
// header. Results go to the channel, which must have room
// (the handler runs on the shard thread and must not block: a full
// channel panics the test rather than stall the shard).
type Handler struct {
	Results chan<- Result
	// ChunkSize bounds each Write (default 64 KiB).
	ChunkSize int

	live map[*tcp.Conn]*state // shard thread only
}

type state struct {
	hdr     Header
	hdrBuf  [HeaderLen]byte
	hdrN    int
	dialer  bool
	sent    uint64 // payload bytes accepted by Write (after the header)
	hdrSent bool
	closed  bool
	v       *Verifier
	scratch []byte
	res     Result
}

// OnOpen starts a dialer's upload; a server waits for the header.
func (h *Handler) OnOpen(c *tcp.Conn, now int64) {
	if st := h.st(c); st.dialer {
		h.pump(c, st, now)
	}
}

// st returns the connection's state. A server's is made on its first
// callback; a dialer's is set by DialWith right after Dial returns, before
// any segment can arrive.
func (h *Handler) st(c *tcp.Conn) *state {
	if s, ok := c.Context().(*state); ok {
		return s
	}
	s := &state{scratch: make([]byte, h.chunk())}
	s.res.Remote, s.res.Port = c.RemoteAddr()
	c.SetContext(s)
	h.track(c, s)
	return s
}

func (h *Handler) track(c *tcp.Conn, s *state) {
	if h.live == nil {
		h.live = map[*tcp.Conn]*state{}
	}
	h.live[c] = s
}

// Live describes every connection still open: call it on the shard thread
// (post it to the shard's inbox) when a test times out.
func (h *Handler) Live() []string {
	var out []string
	for c, s := range h.live {
		got := uint64(0)
		if s.v != nil {
			got = s.v.Got()
		}
		i := c.Info()
		out = append(out, fmt.Sprintf("%v:%d hdr %+v sent %d got %d state %v una %d nxt %d rcvnxt %d cwnd %d ssthresh %d sndwnd %d rcvwnd %d inflight %d rto %dms recovery %v buffered %d unread %d ooo %d",
			s.res.Remote, s.res.Port, s.hdr, s.sent, got, i.State, i.SndUna, i.SndNxt, i.RcvNxt, i.Cwnd, i.Ssthresh,
			i.SndWnd, i.RcvWnd, i.InFlight, i.RTO/1e6, i.InRecovery, i.Buffered, i.Unread, i.OOOSegs))
	}
	return out
}

func (h *Handler) chunk() int {
	if h.ChunkSize > 0 {
		return h.ChunkSize
	}
	return 64 << 10
}

// DialWith dials dst:port from stack s with header hdr.
func (h *Handler) DialWith(s *tcp.Stack, dst [4]byte, port uint16, hdr Header, now int64) error {
	c, err := s.Dial(dst, port, h, now)
	if err != nil {
		return err
	}
	st := &state{hdr: hdr, dialer: true, scratch: make([]byte, h.chunk()), v: NewVerifier(hdr.DownSeed(), hdr.Down)}
	st.res.Remote, st.res.Port, st.res.Header = dst, port, hdr
	c.SetContext(st)
	h.track(c, st)
	return nil
}

func (h *Handler) OnData(c *tcp.Conn, data []byte, now int64) int {
	st := h.st(c)
	n := len(data)
	if !st.dialer && st.hdrN < HeaderLen {
		k := copy(st.hdrBuf[st.hdrN:], data)
		st.hdrN += k
		data = data[k:]
		if st.hdrN < HeaderLen {
			return n
		}
		st.hdr = DecodeHeader(st.hdrBuf[:])
		st.res.Header = st.hdr
		st.v = NewVerifier(st.hdr.UpSeed(), st.hdr.Up)
		h.pump(c, st, now)
	}
	if len(data) > 0 {
		st.v.Write(data)
	}
	return n
}

func (h *Handler) OnWritable(c *tcp.Conn, now int64) { h.pump(c, h.st(c), now) }

// pump writes what the send buffer takes and half-closes when done.
func (h *Handler) pump(c *tcp.Conn, st *state, now int64) {
	if st.closed {
		return
	}
	total := st.hdr.Down
	seed := st.hdr.DownSeed()
	if st.dialer {
		total, seed = st.hdr.Up, st.hdr.UpSeed()
		if !st.hdrSent {
			var b [HeaderLen]byte
			st.hdr.Encode(b[:])
			if c.WriteSpace() < HeaderLen {
				return
			}
			c.Write(b[:], now)
			st.hdrSent = true
		}
	}
	for st.sent < total {
		k := min(uint64(len(st.scratch)), total-st.sent)
		Fill(seed, st.sent, st.scratch[:k])
		n := c.Write(st.scratch[:k], now)
		st.sent += uint64(n)
		if uint64(n) < k {
			return // OnWritable resumes
		}
	}
	st.closed = true
	c.Close(now)
}

func (h *Handler) OnPeerClosed(c *tcp.Conn, now int64) {}

func (h *Handler) OnClose(c *tcp.Conn, reason tcp.CloseReason, now int64) {
	st := h.st(c)
	delete(h.live, c)
	st.res.Sent, st.res.Reason, st.res.Info = st.sent, reason, c.Info()
	switch {
	case st.v == nil:
		st.res.Err = fmt.Errorf("closed (%v) before the header arrived (%d of %d bytes)", reason, st.hdrN, HeaderLen)
	case reason != tcp.CloseNormal:
		st.res.Err = fmt.Errorf("closed: %v after receiving %d bytes and sending %d", reason, st.v.Got(), st.sent)
	default:
		st.res.Err = st.v.Err()
	}
	select {
	case h.Results <- st.res:
	default:
		panic("xfer: results channel full")
	}
}
