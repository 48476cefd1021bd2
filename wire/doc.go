// Package wire is a set of typed, zero-copy views over packet bytes:
// Ethernet II, ARP (Ethernet/IPv4), IPv4, ICMPv4 and TCP headers, the
// Internet checksum (RFC 1071, RFC 1624) and TCP sequence-number arithmetic.
//
// Layer: a leaf. It imports only the standard library and nothing from
// shardnet; ip and tcp build on it.
//
// Views: each header type is a named []byte (Ethernet, ARP, IPv4, ICMPv4,
// TCP). Converting a slice to a view copies nothing and allocates nothing.
// Field offsets are constants and the accessors are one-line functions the
// compiler inlines. Addresses are [4]byte and [6]byte values. Each header
// also has a Fields struct and an Encode method for building it.
//
// The Check promise: a view is validated once, by its Check method. After
// Check returns nil, and for as long as the bytes are not changed, no
// accessor of that view panics, whatever the bytes hold. Check never
// panics on any input, including nil. Without a successful Check, accessors
// may panic on short input. Setters write in place; a setter that changes a
// length field (IPv4.SetTotalLen) can break the promise if given a value the
// slice cannot back, and the caller must Check again before relying on it.
// Encode methods need a slice at least as long as the header they write and
// panic otherwise (a programming error, not a property of received data).
//
// Errors: Check reports each distinct reason with its own package-level
// sentinel error (ErrIPv4Version, ErrTCPOptions, ...), so returning one
// never allocates and callers compare with == to pick a drop-reason
// counter. Checksums are not part of Check: they are verified separately
// (IPv4.HeaderChecksumValid, ICMPv4.ChecksumValid, TCP.ChecksumValid), so
// the caller can count a bad checksum apart from a malformed header.
//
// Ownership and lifetimes: a view aliases the caller's bytes; it owns
// nothing and is valid exactly as long as those bytes are (for a
// buf.Packet: until the packet is released). Slices returned by accessors
// (Payload, Options) alias the same bytes. Nothing in this package keeps a
// reference after a call returns, has state, or is tied to a shard; every
// function is safe to call from any goroutine on bytes that goroutine owns.
//
// Data path: no function here allocates, except TCPFlags.String (for logs
// and tests only) and the error strings built once at init.
package wire
