// Package kstack runs stream applications on the Linux kernel's TCP/IP
// stack, shaped like shardnet's own reactor so that the two can be
// compared side by side with the same handlers: one pinned shard per CPU
// (package shard), each with its own epoll instance, its own listening
// socket per port bound with SO_REUSEPORT (the kernel spreads new
// connections over the shards' sockets), its own timer wheel, and no
// goroutine per connection and no lock.
//
// Layer: beside reactor, above shard and reactor/timer; it implements
// stream.Host (Host) and stream.Conn (*Conn). It imports nothing of
// shardnet's own stack (no ip, no tcp).
//
// The loop (Host.Run), per iteration: read the clock once; take the
// ready events (epoll_wait with a zero timeout, or those the last sleep
// returned); accept every pending connection on a ready listener
// (accept4, non-blocking, until EAGAIN); read every readable connection
// into the shard's 64 KiB scratch buffer and hand the bytes to OnData;
// fire due timers; run funcs posted to the shard's inbox; then flush each
// connection written to in this iteration with one write(2) or writev(2),
// so that pipelined responses leave in one system call. With nothing to
// do for SpinIdle it sleeps in epoll_wait on its sockets and the shard's
// Waker eventfd, bounded by the next timer deadline.
//
// Listening: Listen(port, h) creates the shard's SO_REUSEPORT socket for
// port on Config.Addr's address. Port 0 means Config.Addr's port; when
// that is 0 too, Start picks one free port for the whole group (Group.Addr)
// before the shards start, so every shard listens on the same port.
//
// Connections: sockets are registered edge-triggered for EPOLLIN,
// EPOLLOUT and EPOLLRDHUP. Received bytes are offered to OnData straight
// from the scratch buffer; only what OnData leaves unconsumed is copied
// into the connection's receive buffer, and the next read appends to it
// there, so the handler always sees the unconsumed prefix and the new
// bytes contiguously. While that buffer is full (Config.RecvBuf) the
// connection is not read, the kernel's receive queue fills and its
// window closes: that is the flow control. Write copies into the
// connection's send ring (Config.SendBuf) and returns how much fit; a
// flush the kernel takes only in part leaves the rest for EPOLLOUT, and
// OnWritable follows a short Write once half the ring is free. Close
// flushes and then shuts down our direction (FIN); the socket is closed
// once the peer's EOF has been read too. Abort sets SO_LINGER {1, 0} and
// closes (RST). OnPeerClosed follows the read of EOF; OnClose runs
// exactly once. Connection objects and their buffers come from a
// per-shard pool of at most Config.MaxConns; a connection accepted over
// the cap is closed at once and counted (Stats.Refused). Buffers grow on
// demand up to their configured sizes and are kept with the pooled
// object, so a warm shard allocates nothing per connection or request.
//
// Ownership: a Host, its Conns, its wheel and its counters belong to the
// shard's pinned thread; every Conn method and every Handler callback
// runs there. Other goroutines reach a shard only through its Inbox
// (shard.Shard.Inbox), which the loop drains every iteration; it neither
// sends nor drains shard-to-shard mailboxes. Group's methods may be
// called from any goroutine.
//
// Lifetimes: the slice given to OnData is borrowed (it aliases the
// shard's scratch buffer or the connection's receive buffer) and is valid
// only until OnData returns. A *Conn is valid from OnOpen until OnClose
// returns; the object is then reused for another connection. Stats read
// through Group.Stats are the shards' final counters, available once the
// group has stopped.
//
// For tests and benchmarks, NewHost builds a Host without a shard, driven
// by hand with RunOnce(now) on one goroutine (no threads, no sleeping).
package kstack
