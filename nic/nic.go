// Package nic defines the driver contract between a NIC queue and the shard
// that owns it, and holds the drivers: tap (multiqueue TAP, the portable
// default), afxdp, memwire (an in-process cable for tests), and the wrappers
// fault (seeded fault injection) and pcap (capture to a file).
//
// Ownership: a Queue belongs to one shard and is called only from that
// shard's pinned thread. Its receive frames come from, and its transmitted
// frames go back to, that shard's buf.Slab.
package nic

import (
	"errors"

	"github.com/shardnet/shardnet/buf"
)

// Caps describes what a queue does for the stack.
type Caps struct {
	// MTU is the largest IP packet (without the Ethernet header) the link
	// carries.
	MTU int
	// HWAddr is the link's own MAC address, if the stack must use it
	// (AF_XDP on a real NIC). Zero means the stack chooses its own (TAP,
	// memwire: the stack is a separate host on the link).
	HWAddr [6]byte
	// RxCsum: received frames may carry buf.Meta.CsumVerified.
	RxCsum bool
	// TxCsumOffload: transmitted frames may carry buf.Meta.CsumPartial and
	// the driver (or the kernel/NIC behind it) completes the L4 checksum.
	TxCsumOffload bool
}

// Queue is one receive/transmit queue pair, driven by one shard.
//
// RxBurst and TxBurst never block. A shard with nothing to do sleeps in
// poll(2) on Fd() (readable means RxBurst has work) and its own eventfd.
type Queue interface {
	// RxBurst fills pkts with received frames, each allocated from the
	// shard's slab, and returns how many it filled. Ownership of those
	// packets passes to the caller. It returns 0 when nothing is waiting
	// (or the slab is exhausted: counted by the driver).
	RxBurst(pkts []*buf.Packet) int
	// TxBurst queues pkts for transmission and returns how many it took.
	// The queue owns (and releases) the packets it took; pkts[n:] stay the
	// caller's. Frames may go on the wire at once or at the next Kick.
	TxBurst(pkts []*buf.Packet) int
	// Kick pushes out anything TxBurst queued. One Kick per loop iteration.
	Kick() error
	// Fd is a file descriptor that polls readable when RxBurst has frames,
	// or -1 if the queue cannot be slept on (the loop then spins).
	Fd() int
	// Caps reports the queue's capabilities.
	Caps() Caps
	// Stats reports the queue's counters.
	Stats() Stats
	// Close releases the queue's resources and any frames it holds.
	Close() error
}

// Stats are a queue's counters, owned by its shard.
type Stats struct {
	RxPackets, RxBytes uint64
	TxPackets, TxBytes uint64
	RxNoBuf            uint64 // a frame was waiting but the slab was empty
	RxErrors           uint64 // read errors, short or oversize frames
	TxErrors           uint64 // write errors (the frame is dropped and released)
	TxFull             uint64 // TxBurst refused frames: the queue was full
}

// ErrClosed is returned by operations on a closed queue.
var ErrClosed = errors.New("nic: queue closed")
