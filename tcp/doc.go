// Package tcp is a shard's TCP engine: flow table, listeners with a bounded
// SYN backlog and SYN cookies, the RFC 9293 connection state machine,
// segment output, retransmission and the other TCP timers, out-of-order
// reassembly, and an application API of callbacks.
//
// Read, at least, RFC 9293 (TCP), RFC 7323 (window scale, timestamps,
// PAWS), RFC 2018, RFC 2883 and RFC 6675 (SACK, D-SACK and SACK-based
// recovery, here with lost-retransmission detection), RFC 8985 §7 (tail
// loss probes), RFC 5681 and RFC 6582 (congestion control, NewReno), RFC
// 6298 (RTO), RFC 5961 (blind attacks), RFC 6528 (ISNs) and RFC 4987 (SYN
// cookies) before changing
// input.go; it follows RFC 9293 §3.10.7 step by step and cites sections.
//
// Layer: tcp uses wire, buf, reactor/timer, tcp/congestion and tcp/sack. It
// does not import ip: the IP layer satisfies Output, and a Stack satisfies
// ip.Protocol (Deliver), so wiring is
//
//	tcpStack, _ := tcp.New(cfg, slab, ipStack, wheel)
//	ipStack.Register(wire.ProtoTCP, tcpStack)
//
// Ownership: a Stack, its Conns, its timers and every packet it holds
// belong to one shard and are used only from that shard's thread. Nothing
// here locks. Deliver takes ownership of the packet it is given: the packet
// is released before Deliver returns, or held (out-of-order data) and
// released when it is delivered or the connection ends. Every segment sent
// is a fresh packet from the shard's slab handed to Output, which owns it
// from then on. Segments are built at the slab's headroom, leaving room for
// the IPv4 and Ethernet headers in front.
//
// Application callbacks (Handler) run inline on the shard thread, inside
// Deliver, a timer, or an API call, and must not block. From inside a
// callback an application may call any Conn method (Write, Close, Abort,
// Resume...) and Dial. The data slice given to OnData is borrowed: it
// aliases a receive frame or the connection's receive buffer and is valid
// only until OnData returns. OnData returns how many bytes it consumed;
// the rest is kept in the connection's receive buffer (a copy is made only
// then) and offered again, first in the next OnData call, or on Resume.
// Unconsumed bytes shrink the advertised receive window (flow control).
//
// Write copies into the connection's send buffer, which keeps the bytes
// until they are acknowledged; it returns how much fit and, when that was
// short, OnWritable is called once there is room again.
//
// A *Conn is valid from Dial (or the OnOpen of a passive connection) until
// OnClose returns. After that the Conn object is recycled for another
// connection and must not be used; keep the Conn's Context to find your
// own state.
//
// Memory: Conns come from a pool of Config.MaxConns preallocated objects
// (720 bytes each, plus a 128-byte congestion controller taken on the
// slot's first use) with a flow table sized at New (an open-addressed
// hash table of at least 2·MaxConns slots of 12 bytes). Everything else a
// connection may need is taken on demand and given back: buffers (below),
// the out-of-order queue while segments are out of order, and the SACK
// scoreboard (about 600 bytes) while the peer has SACKed data above
// SND.UNA. An idle established connection costs about 1 KB of Go heap
// (tcp/idle measures it with 100,000 connections).
//
// Connection cap: when the pool is full, a new connection (SYN or Dial)
// takes the slot of the oldest TIME-WAIT connection
// (Stats.TimeWaitRecycled). When no connection is in TIME-WAIT, a SYN to a
// listener (even one whose backlog is full: no SYN cookie is sent), or an
// ACK carrying a valid SYN cookie sent earlier, is dropped without an
// answer and counted as DropConnLimit: the client's SYN retransmission
// tries again later, as against a Linux listener whose accept queue is
// full (a RST would make it give up; a cookie would promise a connection
// there is no room for). Dial returns ErrNoConn. RSTs for segments that
// match no connection are rate limited per stack (Config.RSTRateLimit;
// DropRstRateLimit).
//
// Buffers are taken on demand: a connection holds send-buffer memory only
// while it has bytes written and not yet acknowledged, and receive-buffer
// memory only while it has bytes the application has not consumed (bytes
// OnData consumes in line are never copied). An idle connection holds no
// buffer at all. Buffers come from the Stack's pool in size classes (4 KiB
// doubling up to Config.SendBuf / Config.RecvBuf, which stay the
// per-connection maximums), grow by moving to a larger class, and return
// to per-class free lists when drained; the lists keep at most
// MaxBufferBytes/16 (so steady state allocates nothing), the rest goes
// to the garbage collector. Out-of-order queues are likewise taken only
// while segments are out of order.
//
// Buffer cap: all the stack's connections together hold at most
// Config.MaxBufferBytes of buffers (Stats.BufBytes, BufBytesHigh,
// BufRefusals). When it is reached: the receive window advertised
// shrinks to what could still be buffered, but never below what was
// already promised (the right edge never moves left, RFC 9293 §3.8.6);
// in-window data that the application does not consume at once and that
// cannot be buffered is dropped (DropBufferLimit) without advancing
// RCV.NXT, so the peer retransmits it; held out-of-order data is never
// reneged on. Write returns short, and OnWritable follows when another
// connection gives memory back (Stats.MemWaitWakeups).
//
// Data path errors are never error values: each dropped segment is counted
// under one DropReason in Stats.
package tcp
