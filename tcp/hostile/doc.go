// Package hostile holds shardnet's hostile-input tests (issue 7): crafted
// Ethernet/IPv4/TCP frames injected into a running shard, a SYN flood, and
// a stateful fuzz target. It has no API; everything is in its tests.
//
// Layer: tests above reactor. The namespace tests run one shard with TCP
// on a TAP device inside a network namespace of their own (as
// tcp/interop does) and reach it from the peer side in two ways: a Linux
// socket, which runs a verified transfer (internal/xfer) during every
// case to show that the shard keeps serving, and an AF_PACKET socket
// bound to the host side of the TAP, which injects hand-built frames from
// a made-up host (198.18.S.3, its own MAC) and captures what the shard
// sends back. That host exists only in the test: the kernel never owns
// its address, so it never answers the shard's segments with a RST of its
// own, and the test drives its side of every TCP connection by hand,
// knowing both sequence spaces exactly.
//
// Each case asserts three things: the answer on the wire (nothing, an
// ACK, a challenge ACK, a SYN-ACK, a RST), the drop-reason counter of
// ip.Stats or tcp.Stats that moved (read on the shard thread), and that a
// legitimate transfer running at the same time completes intact. "Nothing
// was sent" is proved without sleeping: after the hostile frames the test
// sends a fence (a valid SYN from a fresh port) and waits for its SYN-ACK;
// the shard handles frames in order, so anything the hostile frames
// provoked would have been sent first.
//
// FuzzEstablished needs no privileges: two stacks over nic/memwire, driven
// by one goroutine with a manual clock, carry a real transfer in both
// directions while fuzzer-built segments are injected into one side.
//
// Ownership: tests touch shard state only through funcs posted to the
// shard's inbox (rig.onShard); the memwire fuzz target drives its loops
// from the test goroutine, which is then their shard thread.
package hostile
