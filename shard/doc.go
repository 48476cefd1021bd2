// Package shard runs the set of shards: one goroutine per shard, locked to
// its own OS thread and pinned to one CPU, plus the only ways other threads
// may reach a shard — a per-pair SPSC mailbox between shards, an MPSC inbox
// of funcs for any goroutine, and an eventfd Waker that gets a sleeping
// shard out of poll(2).
//
// Layer: below the reactor, which builds each shard's loop on it. It
// imports nothing from shardnet; golang.org/x/sys/unix for affinity and
// eventfd.
//
// Ownership, by type:
//
//   - Group: created by Start on any goroutine; Stop, Wait, Done and
//     Shards may be called from any goroutine.
//   - Shard: the handle is shared; ID and CPU are immutable. Send, Pending,
//     Mailbox(...).Pop and Inbox().Drain are called only on the shard's own
//     thread (inside its run func). Stopping may be read anywhere.
//   - SPSC: one producer thread calls Push, one consumer thread calls Pop
//     and PopBurst; Len is a snapshot from anywhere. The mailbox from shard
//     a to shard b is pushed only by a's thread and popped only by b's.
//   - Inbox: Post from any goroutine; Drain and Ready on the owning shard's
//     thread only; Len anywhere.
//   - Waker: PrepareSleep and Awake on the owning shard's thread; Wake from
//     any thread; Close by the Group once the shard's run has returned.
//
// Lifetimes: a Message is copied into the ring; what its P points to
// changes hands as its Kind's contract says (see Message). A func posted
// to an Inbox runs at most once, on the shard's thread; funcs still queued
// when the shard's run returns are dropped, and Post fails with
// ErrInboxClosed after that. Wakers' eventfds are closed when every run has
// returned.
//
// Nothing here allocates per message: Push, Pop, Post (of an existing func
// value), Drain, Send and Wake are allocation-free, and waking costs a
// write(2) only when the target is asleep or about to be. See Waker for the
// sleep protocol and why it loses no wake-up.
package shard
