// Package memwire is an in-process Ethernet cable: New returns two
// nic.Queues, and what one end transmits the other end receives. Two
// shardnet stacks can talk over it inside one process, and tests get a
// link that is deterministic, lossless unless told otherwise (wrap it in
// nic/fault), and observable (wrap it in nic/pcap).
//
// Layer: a driver under nic. It imports buf and nic only (and x/sys/unix
// for the eventfds).
//
// Ownership: each end belongs to one shard and is called only from that
// shard's thread, with that shard's slab: TxBurst releases the frames it
// takes into their slab, RxBurst allocates from the end's own slab. The two
// ends may run on two different threads; they share nothing but the two
// rings and eventfds described below, which are built for exactly one
// producer and one consumer each. If both ends are driven from the same
// goroutine they may also share one slab.
//
// The wire: each direction is a bounded single-producer/single-consumer ring
// of fixed-size byte slots allocated once by New. TxBurst copies each frame
// into the next slot (and releases the packet, as a NIC does after DMA);
// RxBurst allocates a packet and copies the frame out. Nothing is dropped
// silently: a full ring makes TxBurst take fewer frames (Stats.TxFull), an
// oversize frame is released and counted (Stats.TxErrors), an empty slab
// leaves the frame in the ring (Stats.RxNoBuf). After the peer end is
// closed, frames sent to it are released and counted in TxErrors (the link
// is down).
//
// Sleeping: Fd is an eventfd per end. Once RxBurst has returned 0, Fd polls
// readable as soon as the peer pushes a frame; it can also poll readable
// spuriously, in which case the next RxBurst returns 0 and clears it. The
// producer writes the eventfd only when the consumer has found its ring
// empty since the last wakeup, so a busy link makes no system calls; see
// the comment on ring for the protocol and why no wakeup is lost.
//
// Lifetimes: the slices of transmitted packets are not kept after TxBurst
// returns; received packets are the caller's. Close releases nothing (the
// rings hold bytes, not packets) and closes the end's eventfd.
package memwire
