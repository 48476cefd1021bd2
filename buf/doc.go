// Package buf is the per-shard packet memory: a slab of fixed-size frames in
// one mmap'd arena outside the Go heap, and the Packet handle that names one
// frame while it is in use.
//
// Layer: a leaf. It imports nothing from shardnet.
//
// Ownership: a Slab and every Packet allocated from it belong to one shard and
// are touched only from that shard's pinned thread. A Packet is owned by
// exactly one holder at a time (driver, ip, tcp, or a TX batch); handing it on
// hands on the duty to Release it. A Packet is released on the shard whose
// Slab allocated it.
//
// Lifetimes: the slice returned by Packet.Data (and by Prepend, Append,
// Frame) aliases the arena; it is valid until the Packet is released, and
// must not be kept after that. The arena itself lives until Slab.Close.
//
// Bounds: a Slab never grows. Alloc on an exhausted slab returns nil and
// counts the failure in Stats.AllocFail; the caller drops and counts.
// InUse reports frames not yet released, so tests can check for leaks.
package buf
