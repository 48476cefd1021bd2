package http

import (
	"errors"
	"fmt"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/stream"
)

// Config configures a Server. Zero fields take the defaults shown.
type Config struct {
	// Handler answers every request; if nil, Router.Serve does.
	Handler HandlerFunc
	Router  *Router

	ServerName     string // "shardnet": the Server header
	MaxHeaderBytes int    // 8 KiB: header section (field lines + final CRLF); beyond is 431
	MaxURILen      int    // 4 KiB: request-target; beyond is 414
	MaxBodyBytes   int    // 64 KiB: request body (decoded); beyond is 413

	// HeaderTimeout bounds the time from a request head's first byte to
	// its last (slowloris): 10 s.
	HeaderTimeout int64
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection (and for the first), and stalls while reading a body or
	// writing a response: 60 s.
	IdleTimeout int64
	// LingerTimeout bounds how long a connection we closed may keep
	// sending before it is reset: 5 s.
	LingerTimeout int64

	// MaxPipelined is how many responses may wait, unsent, before the
	// server stops reading further requests: 64.
	MaxPipelined int
	// MaxQueuedOutput bounds the response bytes waiting, unsent, per
	// connection before the server stops reading further requests: 64 KiB.
	MaxQueuedOutput int
	// RecvBuffer is the stack's per-connection receive buffer (256 KiB):
	// a whole request head plus a Content-Length body must fit in it, so
	// NewServer rejects limits that do not stay well below it.
	RecvBuffer int
	// FileInbox, if set, is the shard's inbox (a shard.Inbox): SetBodyFile
	// ranges are then read by a goroutine and handed back through it, so
	// that a read that goes to the device does not stall the shard
	// (fileread.go). Nil: they are read on the shard's thread.
	// shardnet's HandleHTTP sets it.
	FileInbox Poster

	// Clock is the wall clock, for Date and Ctx.Unix (time.Now if nil).
	Clock func() time.Time
}

// ErrInvalidConfig is wrapped by every error NewServer returns.
var ErrInvalidConfig = errors.New("http: invalid config")

func (cfg *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def64 := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "shardnet"
	}
	def(&cfg.MaxHeaderBytes, 8<<10)
	def(&cfg.MaxURILen, 4<<10)
	def(&cfg.MaxBodyBytes, 64<<10)
	def64(&cfg.HeaderTimeout, int64(10*time.Second))
	def64(&cfg.IdleTimeout, int64(60*time.Second))
	def64(&cfg.LingerTimeout, int64(5*time.Second))
	def(&cfg.MaxPipelined, 64)
	def(&cfg.MaxQueuedOutput, 64<<10)
	def(&cfg.RecvBuffer, 256<<10)
}

// Server is an HTTP/1.1 server on one shard: a stream.Handler, installed
// with host.Listen(port, srv). One Server per shard; it and every
// connection it serves belong to that shard's thread.
type Server struct {
	cfg     Config
	handler HandlerFunc
	wheel   *timer.Wheel
	lim     limits

	date       dateCache
	serverLine []byte // "Server: name\r\n"

	outPool   bytebufferpool.Pool // response assembly
	bodyPool  bytebufferpool.Pool // Ctx.Write bodies
	chunkPool bytebufferpool.Pool // chunked requests: head copy + decoded body
	fileBuf   []byte              // pread buffer for file bodies (lazy)
	files     *fileReader         // reads file bodies off the shard (nil: fileBuf)

	free  *conn // free list of connection states
	nfree int

	active   *conn // open connections, linked through prevA/nextA (drain.go)
	draining bool  // Drain was called: every connection closes once idle

	stats Stats
}

const maxFreeConns = 4096

// NewServer returns a Server for host's shard.
func NewServer(cfg Config, host stream.Host) (*Server, error) {
	cfg.setDefaults()
	s := &Server{cfg: cfg, handler: cfg.Handler}
	if s.handler == nil {
		if cfg.Router == nil {
			return nil, fmt.Errorf("%w: no Handler and no Router", ErrInvalidConfig)
		}
		s.handler = cfg.Router.Serve
	}
	if host == nil || host.Wheel() == nil {
		return nil, fmt.Errorf("%w: no host timer wheel", ErrInvalidConfig)
	}
	if cfg.MaxHeaderBytes < 0 || cfg.MaxURILen < 0 || cfg.MaxBodyBytes < 0 ||
		cfg.HeaderTimeout < 0 || cfg.IdleTimeout < 0 || cfg.LingerTimeout < 0 ||
		cfg.MaxPipelined < 0 || cfg.MaxQueuedOutput < 0 || cfg.RecvBuffer < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrInvalidConfig)
	}
	if head := cfg.MaxURILen + maxMethodLen + cfg.MaxHeaderBytes + 64; head+cfg.MaxBodyBytes > cfg.RecvBuffer*3/4 {
		return nil, fmt.Errorf("%w: a request of up to %d head + %d body bytes must stay well below the %d-byte receive buffer",
			ErrInvalidConfig, head, cfg.MaxBodyBytes, cfg.RecvBuffer)
	}
	if !validHeaderValue(cfg.ServerName) {
		return nil, fmt.Errorf("%w: ServerName %q", ErrInvalidConfig, cfg.ServerName)
	}
	s.wheel = host.Wheel()
	s.lim = limits{maxHeader: cfg.MaxHeaderBytes, maxURI: cfg.MaxURILen, maxBody: int64(cfg.MaxBodyBytes)}
	s.serverLine = []byte("Server: " + cfg.ServerName + "\r\n")
	s.date.init(cfg.Clock)
	s.date.refresh(host.Now())
	s.files = newFileReader(cfg.FileInbox, host, &s.stats)
	return s, nil
}

// Stats returns a copy of the Server's counters. Call it on the shard.
func (s *Server) Stats() Stats { return s.stats }

// Config returns the configuration in force (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// OnOpen implements stream.Handler.
func (s *Server) OnOpen(c stream.Conn, now int64) {
	cn := s.get()
	cn.c = c
	cn.idleSince = now
	c.SetContext(cn)
	c.SetNoDelay(true)
	s.stats.ConnsOpened++
	s.stats.ConnsActive++
	s.link(cn)
	cn.armTimer(now)
}

// OnData implements stream.Handler.
func (s *Server) OnData(c stream.Conn, data []byte, now int64) int {
	cn, ok := c.Context().(*conn)
	if !ok {
		return len(data)
	}
	return cn.onData(data, now)
}

// OnWritable implements stream.Handler.
func (s *Server) OnWritable(c stream.Conn, now int64) {
	if cn, ok := c.Context().(*conn); ok {
		cn.onWritable(now)
	}
}

// OnPeerClosed implements stream.Handler.
func (s *Server) OnPeerClosed(c stream.Conn, now int64) {
	if cn, ok := c.Context().(*conn); ok {
		cn.onPeerClosed(now)
	}
}

// OnClose implements stream.Handler.
func (s *Server) OnClose(c stream.Conn, _ stream.CloseReason, now int64) {
	cn, ok := c.Context().(*conn)
	if !ok {
		return
	}
	c.SetContext(nil)
	s.stats.ConnsClosed++
	s.stats.ConnsActive--
	s.unlink(cn)
	s.put(cn)
}

// get takes a connection state from the free list, or makes one.
func (s *Server) get() *conn {
	cn := s.free
	if cn == nil {
		cn = &conn{srv: s}
		cn.ctx.cn = cn
		cn.t.Init(cn.onTimer)
		return cn
	}
	s.free = cn.next
	s.nfree--
	cn.next = nil
	return cn
}

// put releases cn's buffers and returns it to the free list.
func (s *Server) put(cn *conn) {
	s.wheel.Cancel(&cn.t)
	if cn.out != nil {
		s.outPool.Put(cn.out)
	}
	if cn.cbuf != nil {
		s.chunkPool.Put(cn.cbuf)
	}
	if s.files != nil {
		s.files.drop(cn)
	}
	cn.ctx.reset()
	hdrs, pathBuf := cn.ctx.hdrs, cn.ctx.pathBuf
	if cap(hdrs) > 4<<10 {
		hdrs = nil
	}
	if cap(pathBuf) > 4<<10 {
		pathBuf = nil
	}
	*cn = conn{srv: s, t: cn.t, gen: cn.gen + 1}
	cn.ctx = Ctx{cn: cn, hdrs: hdrs[:0], pathBuf: pathBuf[:0]}
	if s.nfree >= maxFreeConns {
		return
	}
	cn.next = s.free
	s.free = cn
	s.nfree++
}

func (s *Server) fileBuffer() []byte {
	if s.fileBuf == nil {
		s.fileBuf = make([]byte, 64<<10)
	}
	return s.fileBuf
}
