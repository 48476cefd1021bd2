// Package soak is the long-run test of issue 7: mixed traffic between a
// shard (TCP on a TAP device in a namespace of its own) and the Linux
// kernel, through nic/fault with loss, duplication, reordering and
// corruption in both directions, every byte verified (internal/xfer:
// byte-by-byte against the generator and by SHA-256). Many short and some
// long connections run at once, uploads, downloads and both, in both
// roles: kernel clients connect to the shard, and the shard dials a
// kernel server. At the end the runner checks that the shard's slab
// frames in use, its TCP connections, its timers, and the process's
// goroutines and file descriptors are back at their baseline, and
// reports bytes verified, connections and faults injected by kind.
//
// `make soak` runs TestSoak for SOAK_TIME (default 10 minutes); `make
// test` runs it for -soak.time's default (20 s). Both need root, like
// the other namespace tests (they skip otherwise, saying why).
//
// Layer: a test-support package above reactor (it imports nstest, so it
// is for tests only). Ownership: shard state is read and changed only by
// funcs posted to the shard's inbox; the kernel side runs on ordinary
// goroutines.
package soak
