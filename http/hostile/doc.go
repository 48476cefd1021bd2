// Package hostile holds tests that attack a running HTTP server — one
// shardnet shard over a TAP device in a throw-away namespace — with
// slowloris, slow readers, pipelining floods, oversize and smuggling
// requests and path traversal, and check for each the answer, the counter
// that moved, and that well-behaved clients keep being served.
package hostile
