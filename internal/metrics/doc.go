// Package metrics exposes shardnet's per-shard counters in the Prometheus
// text exposition format (version 0.0.4), and serves them, with pprof
// beside them, from an admin listener on the kernel's network stack.
//
// Layer: control plane. Nothing here runs on a shard's data path or takes
// a lock there. A shard's counters are plain fields its own thread
// increments; a scrape asks each shard to copy them into a Sample on that
// thread (the gather function given to NewAdmin does this, typically by
// posting to each shard's inbox), and only the copies leave the shard.
// The Samples are then summed into text here, on the scraping goroutine.
//
// Ownership: a Sample is a value; once gathered it belongs to the caller
// and holds no reference into a shard. WriteText keeps nothing after it
// returns. An Admin owns its listener, server goroutine and mux until
// Close.
//
// Naming: every family starts with "shardnet_", carries a shard label,
// and counters end in "_total". Drop reasons, connection states and
// parse errors use the String methods of ip.DropReason, tcp.DropReason,
// tcp.State and http.ParseError as label values.
package metrics
