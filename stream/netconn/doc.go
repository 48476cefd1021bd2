// Package netconn puts a net.Listener and net.Conn over shardnet's
// stream API, so that standard servers — net/http.Serve, a gRPC or SSH
// server, anything written for net.Conn — run unchanged on shardnet's
// TCP (or on the kernel backend, kstack) from ordinary goroutines.
//
// Layer: an application adapter above stream; it sees only stream.Host,
// stream.Conn and the shard's inbox. It is not on the native data path
// and is slower than the native API: use it for compatibility, and the
// stream API (or http.Server) where speed matters.
//
// How it works. NewListener makes the Listener; Attach, called on each
// shard's thread (shardnet.Stack.Do(ctx, ln.Attach)), listens on the port
// there. A connection the shard establishes becomes a *Conn and waits in
// a bounded backlog for Accept; when the backlog is full it is aborted
// and counted. The shard side runs in the stream callbacks, inline, and
// never blocks: OnData copies what fits into the Conn's read buffer and
// returns only that much, so the rest stays in the stack's receive
// buffer and a slow reader closes the TCP window; OnWritable hands on
// the bytes of a blocked Write. The user side — Read, Write, Close,
// deadlines — blocks on channels and reaches the shard only by posting
// funcs to its inbox (a Resume when Read has freed half the buffer; a
// flush per Write; Close, CloseWrite, CloseRead); the shard wakes them
// with non-blocking sends on per-Conn channels. No goroutine is started,
// per connection or per shard; the goroutines that block are the
// caller's.
//
// What it costs compared to the native API, per connection and per call:
//
//   - Received bytes are copied twice: the stack's buffer → the Conn's
//     read buffer (on the shard), → the caller's slice (in Read). The
//     native OnData sees them in place.
//   - Sent bytes are copied once, as natively: Write's slice is borrowed
//     by the shard, which copies it straight into the send buffer.
//   - Every Write is one inbox post (waking the shard if it sleeps) and
//     one channel wake-up of the writer by the shard; a Read that has to
//     wait costs such a wake-up too, and one that frees half the buffer
//     after the stack stalled costs a post. A request/response exchange
//     thus pays cross-thread hand-offs that the native API does not, each
//     a goroutine switch (and a thread wake-up when the other side
//     sleeps); BenchmarkPlaintext and BenchmarkEcho measure them.
//   - A Conn is allocated per connection, with its read buffer
//     (Config.ReadBuffer, 64 KiB by default, allocated on first data),
//     two channels, six prepared funcs and the timers of its deadlines.
//     Posting and reading allocate nothing; SetDeadline may allocate.
//   - Each Conn has a mutex shared by the shard and the caller; it is
//     held only to copy bytes or flip flags, so the shard can wait on it
//     only for the length of such a copy, never for the caller's logic.
//
// Ownership: a Conn's stream.Conn belongs to its shard and is touched
// only there; the Conn itself may be used from any goroutine. The slice
// passed to Write is borrowed until Write returns (a Write that times out
// has released it when it returns); Read copies.
//
// Semantics, as for *net.TCPConn: Read blocks until data, io.EOF (the
// peer's FIN, after everything before it) or the deadline; Write blocks
// until every byte is in the stack's send buffer, or the deadline; an
// expired deadline is os.ErrDeadlineExceeded (Timeout() true); after the
// peer's RST, Read (once the bytes received before it are read) and
// Write return syscall.ECONNRESET; Close sends a FIN after the written
// bytes and discards later input (it does not wait for the peer);
// CloseWrite half-closes; CloseRead discards input from then on. Errors
// are *net.OpError values. TCP_NODELAY is on unless Config.Nagle.
//
// Limits: if the stack stops without closing its connections (a shard
// group stopped directly, not through shardnet.Stack.Stop, which aborts
// them), a Read or Write without a deadline on such a Conn waits until
// its deadline. After CloseWrite, shardnet's TCP reports the end of the
// connection as soon as the peer's FIN is through, even if the reader
// has not yet taken all the bytes that came before it; those are lost,
// and Read says so (ErrUnreadLost) rather than returning io.EOF.
package netconn
