// Package http is shardnet's HTTP/1.1 server: a strict, zero-allocation
// request parser and response writer over the byte-stream API, so the
// same handlers run on shardnet's TCP and on the kernel's.
//
// Layer: above stream; it sees only stream.Conn, stream.Handler and
// stream.Host (whose timer wheel carries its timeouts), never a packet.
//
// Ownership: a Server belongs to one shard (make one per shard and install
// it with host.Listen(port, srv)). It, its connections, its buffer pools,
// its Date cache and its Stats are touched only from that shard's thread;
// a Router may be shared, read-only, by all shards once its routes are
// registered.
//
// Lifetimes: a handler runs inline in OnData and must not block. Every
// []byte a Ctx returns (Method, Path, RawPath, Query, Header, HeaderAt,
// Body) borrows the received bytes or a per-connection buffer and is
// valid only during the handler call; the *Ctx itself is reused for the
// connection's next request. Response bytes given to Write, WriteString,
// SetHeader and SetHeaderBytes are copied; SetContentType keeps its string
// (use a constant); a SetBodyShared slice and a SetBodyFile range must
// stay unchanged until sent, which may be after the handler returns.
//
// Parsing follows RFC 9112 strictly: no bare LF, no obs-fold, no
// whitespace before a colon, Host exactly once in HTTP/1.1, no
// Content-Length with Transfer-Encoding, no differing Content-Lengths,
// only the chunked coding (anything else is 501), origin-form targets
// (and "*" for OPTIONS), limits on the target (414), the header section
// (431) and the body (413). Every rejected request gets its status,
// Connection: close, and the connection closes; the reason is counted in
// Stats.ParseErrors.
//
// Pipelined requests are answered in order; the responses to one batch of
// input leave in one Write. Large shared and file bodies are streamed as
// send space allows, and later responses wait for them; while output is
// backed up the server leaves input unconsumed, so TCP flow control
// pushes back on the client.
package http
