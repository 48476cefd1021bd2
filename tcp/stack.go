package tcp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/tcp/congestion"
	"github.com/shardnet/shardnet/tcp/sack"
	"github.com/shardnet/shardnet/wire"
)

// Output sends a TCP segment to dst. p.Data() is the TCP header and
// payload, with headroom for the headers below; Output owns p. ip.Stack
// satisfies it.
type Output interface {
	Output(p *buf.Packet, dst [4]byte, proto uint8, now int64)
}

// Config configures a Stack. Zero values mean the documented defaults.
type Config struct {
	Addr [4]byte // our IPv4 address (required)

	MSS      uint16 // MSS we announce and send with; default 1460 (clamped to what a slab frame holds)
	SendBuf  int    // per-connection send buffer bytes; default 256 KiB
	RecvBuf  int    // per-connection receive buffer bytes (max receive window); default 256 KiB
	MaxConns int    // connection objects (including SYN-RECEIVED and TIME-WAIT); default 1024
	// MaxBufferBytes bounds the send and receive buffer bytes all the
	// stack's connections hold together (buffers are taken on demand and
	// given back when drained; see doc.go "Memory"). Default 256 MiB,
	// raised to at least SendBuf+RecvBuf.
	MaxBufferBytes int64
	SynBacklog     int // SYN-RECEIVED connections per listener before SYN cookies; default 128
	// NoSynCookies drops SYNs when the backlog is full instead of answering
	// with a cookie.
	NoSynCookies bool

	TimeWait        int64 // TIME-WAIT duration (2·MSL), ns; default 60 s
	FinWait2Timeout int64 // FIN-WAIT-2 lifetime after Close, ns; default 60 s; negative: unlimited
	DelayedAck      int64 // delayed-ACK bound, ns; default 40 ms; negative disables delayed ACKs

	Keepalive         int64 // idle time before keepalive probes, ns; 0 = off (default)
	KeepaliveInterval int64 // between probes; default 75 s
	KeepaliveProbes   int   // unanswered probes before the connection is dropped; default 9

	NoDelay    bool   // disable Nagle on new connections (Conn.SetNoDelay changes it per connection)
	Congestion string // "newreno" or "cubic" (default)

	// TxCsumOffload leaves the TCP checksum to the NIC: segments carry the
	// pseudo-header sum and Meta.CsumPartial/CsumStart/CsumOffset.
	TxCsumOffload bool

	ISNSecret [16]byte // key for ISNs, timestamp offsets, cookies; random if zero

	InitialRTO int64 // ns; default 1 s (RFC 6298 2.1)
	MinRTO     int64 // ns; default 200 ms (Linux); RFC 6298 says 1 s
	MaxRTO     int64 // ns; default 120 s
	SynRetries int   // SYN / SYN-ACK retransmissions before giving up; default 6
	MaxRetries int   // consecutive data retransmission timeouts before giving up; default 15

	// ReassemblySegs bounds the out-of-order segments (packets) one
	// connection holds; default 256. ReassemblyBytes bounds their payload
	// bytes; default RecvBuf.
	ReassemblySegs  int
	ReassemblyBytes int

	ChallengeAckLimit int // challenge ACKs per second per stack (RFC 5961 §7); default 1000

	// RSTRateLimit bounds the RSTs a stack sends per second in answer to
	// segments that match no connection (closed ports, stray ACKs to a
	// listener): a token bucket of RSTBurst tokens refilled at this rate,
	// like Linux's ICMP rate limit. Default 1000; negative: unlimited.
	// Suppressed RSTs are counted as DropRstRateLimit.
	RSTRateLimit int
	RSTBurst     int // default 100

	EphemeralLow, EphemeralHigh uint16 // local ports for Dial; default 32768..60999

	NoWindowScale, NoTimestamps, NoSACK bool // turn off options we offer
}

// ErrConfig reports a bad configuration.
var ErrConfig = errors.New("tcp: bad configuration")

// Control-plane errors of the API.
var (
	ErrPortInUse    = errors.New("tcp: port already has a listener")
	ErrNoConn       = errors.New("tcp: connection limit reached")
	ErrNoPort       = errors.New("tcp: no free local port")
	ErrNotListening = errors.New("tcp: no listener on port")
)

const (
	maxHeader = wire.TCPMinHeaderLen + 40
	sec       = int64(1e9)
	ms        = int64(1e6)
)

func (c *Config) setDefaults(slab *buf.Slab) error {
	if c.Addr == ([4]byte{}) {
		return fmt.Errorf("%w: Addr is required", ErrConfig)
	}
	room := slab.FrameSize() - slab.Headroom() - maxHeader
	if c.MSS == 0 {
		c.MSS = 1460
	}
	if int(c.MSS) > room {
		c.MSS = uint16(room)
	}
	if c.MSS < 64 {
		return fmt.Errorf("%w: MSS %d (frames too small?)", ErrConfig, c.MSS)
	}
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
	def(&c.SendBuf, 256<<10)
	def(&c.RecvBuf, 256<<10)
	def(&c.MaxConns, 1024)
	if c.MaxBufferBytes == 0 {
		c.MaxBufferBytes = 256 << 20
	}
	if m := int64(c.SendBuf + c.RecvBuf); c.MaxBufferBytes < m && c.MaxBufferBytes > 0 {
		c.MaxBufferBytes = m
	}
	def(&c.SynBacklog, 128)
	def64(&c.TimeWait, 60*sec)
	def64(&c.FinWait2Timeout, 60*sec)
	def64(&c.DelayedAck, 40*ms)
	def64(&c.KeepaliveInterval, 75*sec)
	def(&c.KeepaliveProbes, 9)
	if c.Congestion == "" {
		c.Congestion = "cubic"
	}
	def64(&c.InitialRTO, sec)
	def64(&c.MinRTO, 200*ms)
	def64(&c.MaxRTO, 120*sec)
	def(&c.SynRetries, 6)
	def(&c.MaxRetries, 15)
	def(&c.ReassemblySegs, 256)
	def(&c.ReassemblyBytes, c.RecvBuf)
	def(&c.ChallengeAckLimit, 1000)
	def(&c.RSTRateLimit, 1000)
	def(&c.RSTBurst, 100)
	if c.EphemeralLow == 0 && c.EphemeralHigh == 0 {
		c.EphemeralLow, c.EphemeralHigh = 32768, 60999
	}
	switch {
	case c.SendBuf < int(c.MSS) || c.SendBuf > 1<<30:
		return fmt.Errorf("%w: SendBuf %d", ErrConfig, c.SendBuf)
	case c.RecvBuf < int(c.MSS) || c.RecvBuf > 1<<30:
		return fmt.Errorf("%w: RecvBuf %d", ErrConfig, c.RecvBuf)
	case c.MaxBufferBytes < 0:
		return fmt.Errorf("%w: MaxBufferBytes %d", ErrConfig, c.MaxBufferBytes)
	case c.MaxConns < 1 || c.MaxConns > 1<<22:
		return fmt.Errorf("%w: MaxConns %d", ErrConfig, c.MaxConns)
	case c.MinRTO <= 0 || c.MaxRTO < c.MinRTO || c.InitialRTO < c.MinRTO:
		return fmt.Errorf("%w: RTO bounds %d/%d/%d", ErrConfig, c.MinRTO, c.InitialRTO, c.MaxRTO)
	case c.EphemeralLow == 0 || c.EphemeralHigh < c.EphemeralLow:
		return fmt.Errorf("%w: ephemeral ports %d..%d", ErrConfig, c.EphemeralLow, c.EphemeralHigh)
	case c.RSTBurst < 1:
		return fmt.Errorf("%w: RSTBurst %d", ErrConfig, c.RSTBurst)
	case c.TimeWait < 0 || c.Keepalive < 0 || c.KeepaliveInterval <= 0:
		return fmt.Errorf("%w: negative timer", ErrConfig)
	}
	if _, err := congestion.New(c.Congestion); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// listener is a passive open on one local port.
type listener struct {
	port    uint16
	h       Handler
	synRcvd int // connections in SYN-RECEIVED counted against the backlog
}

// Stack is one shard's TCP: it owns the flow table, the listeners, the
// connection pool and their timers. Use it only from the shard's thread.
type Stack struct {
	cfg   Config
	slab  *buf.Slab
	out   Output
	wheel *timer.Wheel

	key0, key1 uint64
	flows      flowTable
	listeners  map[uint16]*listener
	pool       []Conn
	free       []int32 // free pool indices (LIFO)
	zombies    []int32 // closed during the current event; freed when it ends
	depth      int     // nesting of Deliver / timer / API entry points
	now        int64   // time given to the outermost entry point

	bufs    bufPool            // send/receive buffer memory (Config.MaxBufferBytes)
	oooFree [][]oooEntry       // reassembly queues not in use, for reuse (at most maxOOOFree)
	sbFree  []*sack.Scoreboard // SACK scoreboards not in use, for reuse (at most maxSBFree)
	// noBoard stands for the scoreboard of a connection that holds none:
	// always empty (n = 0). Read through Conn.board; the queries only
	// move its base (una), which means nothing while it is empty.
	noBoard sack.Scoreboard
	// memWait lists connections (pool indices) whose Write came up short
	// for lack of buffer budget; they get OnWritable when memory is given
	// back. Entries whose Conn.memWait is false are stale and skipped.
	memWait   []int32
	nextPort  uint16
	rcvWscale uint8 // the window scale we offer

	chAckSecond int64 // RFC 5961 §7 rate limit window start
	chAckCount  int

	rstCredit, rstLast int64 // RST token bucket: credit in ns of refill, last refill

	// TIME-WAIT connections, oldest first (a list through Conn.twPrev
	// and twNext, -1 terminated): the first is recycled when the pool is
	// full and a new connection needs a slot.
	twHead, twTail int32

	seg   segment           // the segment being processed (Deliver is not reentrant)
	sack  [4]wire.SACKBlock // scratch for outgoing SACK blocks
	stats Stats
}

// New builds a shard's TCP stack on slab (whose frames are used for every
// segment sent), sending through out and arming timers on wheel.
func New(cfg Config, slab *buf.Slab, out Output, wheel *timer.Wheel) (*Stack, error) {
	if slab == nil || out == nil || wheel == nil {
		return nil, fmt.Errorf("%w: slab, output and wheel are required", ErrConfig)
	}
	if err := cfg.setDefaults(slab); err != nil {
		return nil, err
	}
	if slab.Headroom() < 34 {
		return nil, fmt.Errorf("%w: slab headroom %d < 34", ErrConfig, slab.Headroom())
	}
	s := &Stack{cfg: cfg, slab: slab, out: out, wheel: wheel, listeners: make(map[uint16]*listener), twHead: -1, twTail: -1}
	if cfg.ISNSecret == ([16]byte{}) {
		if _, err := rand.Read(s.cfg.ISNSecret[:]); err != nil {
			return nil, fmt.Errorf("tcp: ISN secret: %w", err)
		}
	}
	s.key0 = binary.LittleEndian.Uint64(s.cfg.ISNSecret[:8])
	s.key1 = binary.LittleEndian.Uint64(s.cfg.ISNSecret[8:])
	s.flows.init(cfg.MaxConns, uint32(s.key0>>32)^uint32(s.key1))
	for s.rcvWscale < 14 && cfg.RecvBuf>>s.rcvWscale > 65535 {
		s.rcvWscale++
	}
	s.bufs.init(cfg.SendBuf, cfg.RecvBuf, cfg.MaxBufferBytes)
	s.pool = make([]Conn, cfg.MaxConns)
	s.free = make([]int32, 0, cfg.MaxConns)
	s.zombies = make([]int32, 0, cfg.MaxConns)
	for i := cfg.MaxConns - 1; i >= 0; i-- {
		c := &s.pool[i]
		c.s = s
		c.idx = int32(i)
		c.initTimers()
		s.free = append(s.free, int32(i))
	}
	s.nextPort = cfg.EphemeralLow + uint16(s.key1%uint64(cfg.EphemeralHigh-cfg.EphemeralLow+1))
	return s, nil
}

// Config returns the configuration with defaults filled in.
func (s *Stack) Config() Config { return s.cfg }

// Stats returns a copy of the counters.
func (s *Stack) Stats() Stats {
	st := s.stats
	st.ConnsOpen = uint64(len(s.pool) - len(s.free) - len(s.zombies))
	st.BufBytes = uint64(s.bufs.inUse)
	st.BufBytesHigh = uint64(s.bufs.high)
	st.BufFreeBytes = uint64(s.bufs.freeBytes)
	st.BufRefusals = s.bufs.refusals
	return st
}

// maxOOOFree bounds the idle reassembly queues a stack keeps for reuse.
const maxOOOFree = 64

// getOOO returns an empty reassembly queue of Config.ReassemblySegs
// entries, from the free list if it has one.
func (s *Stack) getOOO() []oooEntry {
	if n := len(s.oooFree); n > 0 {
		e := s.oooFree[n-1]
		s.oooFree[n-1] = nil
		s.oooFree = s.oooFree[:n-1]
		return e
	}
	return make([]oooEntry, 0, s.cfg.ReassemblySegs)
}

// putOOO takes the (empty) queue from r: a connection holds one only
// while segments are out of order.
func (s *Stack) putOOO(r *reassembly) {
	if cap(r.e) == 0 {
		return
	}
	if len(s.oooFree) < maxOOOFree {
		s.oooFree = append(s.oooFree, r.e[:0])
	}
	r.e = nil
}

// maxSBFree bounds the idle SACK scoreboards a stack keeps for reuse.
const maxSBFree = 256

// takeBoard returns c's SACK scoreboard, taking an empty one from the
// stack when c holds none. A connection holds a scoreboard only while the
// peer has SACKed bytes above SND.UNA (about 600 bytes, most of a Conn,
// so idle connections do not carry one).
func (c *Conn) takeBoard() *sack.Scoreboard {
	if c.sb != nil {
		return c.sb
	}
	s := c.s
	if n := len(s.sbFree); n > 0 {
		c.sb = s.sbFree[n-1]
		s.sbFree[n-1] = nil
		s.sbFree = s.sbFree[:n-1]
	} else {
		c.sb = new(sack.Scoreboard)
	}
	return c.sb
}

// putBoard gives c's scoreboard back, forgetting what it held (after an
// RTO, RFC 6675 §5.1, or once nothing is SACKed).
func (c *Conn) putBoard() {
	sb := c.sb
	if sb == nil {
		return
	}
	c.sb = nil
	s := c.s
	if len(s.sbFree) < maxSBFree {
		sb.Reset()
		s.sbFree = append(s.sbFree, sb)
	}
}

// board is c's scoreboard for queries: the stack's always-empty one when
// c holds none.
func (c *Conn) board() *sack.Scoreboard {
	if c.sb != nil {
		return c.sb
	}
	return &c.s.noBoard
}

// waitMem puts c on the list of connections woken when buffer memory is
// given back.
func (c *Conn) waitMem() {
	if !c.memWait {
		c.memWait = true
		c.s.memWait = append(c.s.memWait, c.idx)
	}
}

// wakeMemWaiters gives the connections that wait for buffer budget their
// OnWritable, in the order they started waiting, while budget lasts.
func (s *Stack) wakeMemWaiters(now int64) {
	s.bufs.released = false
	n := len(s.memWait)
	i := 0
	for ; i < n && s.bufs.avail() > 0; i++ {
		c := &s.pool[s.memWait[i]]
		if !c.memWait {
			continue
		}
		c.memWait = false
		if c.wantWritable && c.h != nil && c.canWrite() {
			c.wantWritable = false
			s.stats.MemWaitWakeups++
			c.h.OnWritable(c, now)
		}
	}
	// Keep those not reached, and any that queued again meanwhile.
	k := copy(s.memWait, s.memWait[i:])
	s.memWait = s.memWait[:k]
}

// Conns reports how many connection objects are in use (any state).
func (s *Stack) Conns() int { return len(s.pool) - len(s.free) - len(s.zombies) }

func (s *Stack) drop(r DropReason) { s.stats.Drops[r]++ }

// enter and leave bracket every entry point (Deliver, timers, API calls)
// so that connections closed during an event are recycled only once the
// outermost event is over: code up the stack may still look at them.
func (s *Stack) enter(now int64) {
	if s.depth == 0 {
		s.now = now
	}
	s.depth++
}

func (s *Stack) leave() {
	if s.depth == 1 && s.bufs.released && len(s.memWait) > 0 {
		s.wakeMemWaiters(s.now)
	}
	s.depth--
	if s.depth == 0 && len(s.zombies) > 0 {
		for _, i := range s.zombies {
			s.free = append(s.free, i)
		}
		s.zombies = s.zombies[:0]
	}
}

// connRoom reports whether allocConn would find a slot: a free one or a
// TIME-WAIT connection to recycle.
func (s *Stack) connRoom() bool { return len(s.free) > 0 || s.twHead >= 0 }

// allocConn takes a connection object from the pool and enters it in the
// flow table. When the pool is exhausted it recycles the oldest TIME-WAIT
// connection; it returns nil when there is none.
func (s *Stack) allocConn(raddr [4]byte, rport, lport uint16, h Handler, now int64) *Conn {
	var c *Conn
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		c = &s.pool[i]
	} else if s.twHead >= 0 {
		c = &s.pool[s.twHead]
		c.recycleTimeWait()
	} else {
		return nil
	}
	i := c.idx
	c.reset(raddr, rport, lport, h, now)
	s.flows.insert(c.key(), i)
	return c
}

func (s *Stack) lookup(raddr [4]byte, rport, lport uint16) *Conn {
	i := s.flows.lookup(flowKey{raddr: raddr, rport: rport, lport: lport})
	if i < 0 {
		return nil
	}
	return &s.pool[i]
}

// Listen accepts connections on port; h's callbacks serve each of them
// (OnOpen may switch a connection to another Handler with SetHandler).
func (s *Stack) Listen(port uint16, h Handler) error {
	if h == nil || port == 0 {
		return fmt.Errorf("%w: listen needs a port and a handler", ErrConfig)
	}
	if _, ok := s.listeners[port]; ok {
		return ErrPortInUse
	}
	s.listeners[port] = &listener{port: port, h: h}
	return nil
}

// Unlisten stops accepting on port. Established connections are not
// affected; SYN-RECEIVED ones complete or time out.
func (s *Stack) Unlisten(port uint16) error {
	if _, ok := s.listeners[port]; !ok {
		return ErrNotListening
	}
	delete(s.listeners, port)
	return nil
}

// Dial opens a connection to dst:port (RFC 9293 §3.10.1, active OPEN) and
// sends the SYN. h.OnOpen runs when it is established, h.OnClose if it
// fails. Ports are taken from the ephemeral range in turn; a reactor that
// needs the reply hashed to this shard uses DialFrom with a port it chose.
func (s *Stack) Dial(dst [4]byte, port uint16, h Handler, now int64) (*Conn, error) {
	span := int(s.cfg.EphemeralHigh-s.cfg.EphemeralLow) + 1
	for i := 0; i < span; i++ {
		lp := s.nextPort
		if s.nextPort >= s.cfg.EphemeralHigh {
			s.nextPort = s.cfg.EphemeralLow
		} else {
			s.nextPort++
		}
		if _, ok := s.listeners[lp]; ok {
			continue
		}
		if s.lookup(dst, port, lp) == nil {
			return s.DialFrom(lp, dst, port, h, now)
		}
	}
	return nil, ErrNoPort
}

// DialFrom is Dial from a given local port.
func (s *Stack) DialFrom(lport uint16, dst [4]byte, port uint16, h Handler, now int64) (*Conn, error) {
	if h == nil || port == 0 || lport == 0 {
		return nil, fmt.Errorf("%w: dial needs ports and a handler", ErrConfig)
	}
	if s.lookup(dst, port, lport) != nil {
		return nil, ErrNoPort
	}
	s.enter(now)
	defer s.leave()
	c := s.allocConn(dst, port, lport, h, now)
	if c == nil {
		return nil, ErrNoConn
	}
	s.stats.ActiveOpens++
	c.active = true
	c.iss = s.isn(dst, lport, port, now)
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss, c.iss
	c.snd.head = c.iss.Add(1)
	c.tsOffset = s.tsOffset(dst, lport, port)
	c.setState(StateSynSent)
	c.sendSyn(now)
	return c, nil
}

// rstAllowed takes a token from the RST bucket (Config.RSTRateLimit).
func (s *Stack) rstAllowed(now int64) bool {
	rate := s.cfg.RSTRateLimit
	if rate < 0 {
		return true
	}
	cost := sec / int64(rate)
	if rate == 0 || cost == 0 {
		cost = 1
	}
	s.rstCredit += now - s.rstLast
	s.rstLast = now
	if lim := cost * int64(s.cfg.RSTBurst); s.rstCredit > lim || s.rstCredit < 0 {
		s.rstCredit = lim
	}
	if s.rstCredit < cost {
		return false
	}
	s.rstCredit -= cost
	return true
}

// challengeAllowed applies the RFC 5961 §7 rate limit on challenge ACKs.
func (s *Stack) challengeAllowed(now int64) bool {
	if now-s.chAckSecond >= sec {
		s.chAckSecond = now
		s.chAckCount = 0
	}
	if s.chAckCount >= s.cfg.ChallengeAckLimit {
		s.drop(DropChallengeLimit)
		return false
	}
	s.chAckCount++
	return true
}

// Shutdown aborts every connection (RST for synchronized ones, OnClose
// with CloseAborted) and releases every packet the stack holds. For
// stopping a shard; the Stack stays usable.
func (s *Stack) Shutdown(now int64) {
	s.enter(now)
	for i := range s.pool {
		if c := &s.pool[i]; c.state != StateClosed {
			c.Abort(now)
		}
	}
	s.leave()
}
