// Package static is the static-file handler of shardnet's HTTP server: it
// serves a directory tree from an in-memory cache, with validators,
// conditional requests and byte ranges, and without ever allocating or
// taking a lock on a shard.
//
// Layer: an http.HandlerFunc (Handler.Serve) above package http; it sees
// only the request context, never a connection or a packet.
//
// # The cache
//
// New walks Root once and builds a snapshot: a map from cleaned URL path
// ("/css/site.css", "/docs/" for docs/index.html, "/" for the root index)
// to an immutable entry holding the body (files up to MaxCachedFile, while
// the MaxCacheBytes budget lasts, in walk order) or an *os.File opened at
// scan time (larger files, and any past the budget, streamed with
// SetBodyFile), plus every header value pre-rendered as bytes: the
// Content-Type from a fixed table in code, a strong ETag (size, mtime in
// ns and the first 8 bytes of the content's SHA-256), Last-Modified as an
// IMF-fixdate, the Content-Range of a 416. A background goroutine
// re-walks Root every Rescan interval; when a file's size, mtime, ctime
// or inode changed, or a file appeared or went, it builds a new snapshot
// (reusing the unchanged entries) and swaps it in atomically.
//
// Ownership: the snapshot and its entries are shared read-only by every
// shard. A shard loads the snapshot pointer once per request
// (atomic.Pointer) and never locks; the scanner never modifies a
// published entry. Files that a new snapshot no longer uses stay open for
// Config.RetireAfter, so responses streaming from them can finish.
//
// Lifetimes: bodies given to the server with SetBodyShared are slices of
// an immutable entry and stay valid for as long as the server holds them.
//
// # Requests
//
// GET and HEAD only; any other method is 405 with "Allow: GET, HEAD".
// Preconditions follow RFC 9110 §13.2.2 in order: If-Match (412),
// If-Unmodified-Since (412, only without If-Match), If-None-Match (304,
// weak comparison), If-Modified-Since (304, only without If-None-Match).
// A 304 carries ETag and Last-Modified. Range (GET only, §14.2) accepts a
// single byte range "a-b", "a-" or "-n": 206 with Content-Range, or 416
// with "Content-Range: bytes */size" when it is unsatisfiable; a
// malformed Range, another unit, a set of several ranges
// (multipart/byteranges is not generated) and a Range on an empty file
// are ignored and the whole file is sent (200), as §14.2 allows. If-Range
// with a strong ETag or an exact, strong Last-Modified date lets the
// range apply; anything else sends the whole file. Full responses carry
// "Accept-Ranges: bytes".
//
// # Paths
//
// The request path arrives percent-decoded once (by package http). A path
// that does not start with '/', or has a NUL, a backslash, an empty
// segment ("//"), or a "." or ".." segment gets 404 — the answer a
// missing file gets, so probing learns nothing. Double-encoded input such
// as %252e%252e arrives as the literal "%2e%2e" and simply does not
// exist. Beyond that check, lookups are exact matches against paths found
// under Root, so nothing outside it can be named. At scan time a symlink
// is resolved with filepath.EvalSymlinks and dropped if its target is
// outside Root (counted in Stats.SymlinksOutside); files are then opened
// through an os.Root, which refuses to leave the root even if a link is
// swapped after the check. Symlinks to directories are not followed
// (their targets inside Root are served under their own paths). Names
// starting with '.' are hidden unless Config.Dotfiles is set, and so is
// a symlink whose target has such a name. A directory's Index file serves
// "/dir/"; "/dir" without the slash gets 301 with "Location: /dir/"
// (percent-encoded; the query is not carried over) when that index
// exists, else 404. There are no directory listings.
//
// # Limits
//
// Ctx.Header returns the first field line only, so a conditional field
// split over several lines is judged by its first line. Each file that is
// not cached holds a file descriptor for the life of its snapshot.
package static
