// Package fault wraps a nic.Queue and injects seeded, reproducible faults
// into what passes in each direction: drop, duplicate, reorder, corrupt and
// delay. Tests of the stack use it to show that TCP delivers the same bytes
// under loss, duplication and reordering, and that checksums catch
// corruption; the kernel here has no netem, so this is the fault injector.
//
// Layer: a wrapper driver under nic; it imports buf and nic only.
//
// Ownership: a Queue belongs to the shard that owns the inner queue and is
// called only from its thread. Held frames (delayed, reordered, or waiting
// for room in the inner queue) are the wrapper's until it passes them on;
// Close releases them to their slab, so nothing leaks.
//
// Faults are drawn from a splitmix64 generator per direction, seeded from
// Config.Seed: for a given seed and the same sequence of calls, the same
// frames suffer the same faults. Each frame, in order: Drop (released);
// Duplicate (a Clone from the slab follows the frame at once; if the slab is
// exhausted the duplicate is skipped and counted); Corrupt (one bit flipped
// in the original, see below); then Delay (held until Clock() >= its arrival
// time + DelayBy) or else Reorder (held until ReorderGap frames that arrived
// after it have passed). Held frames live in a bounded store per direction
// (HeldLimit frames); when it is full, a frame passes without the fault and
// the miss is counted. Frames leave each store in the order they entered it.
//
// Corrupt flips one bit that a checksum covers, so that a correct stack
// must drop the frame: only IPv4 frames (EtherType 0x0800) are corrupted,
// and the bit lies after the Ethernet header and within the IPv4 total
// length (so never in Ethernet padding). Other frames (ARP above all, which
// has no checksum) pass untouched and are counted in CorruptSkipped. A UDP
// datagram without a checksum would carry the flip undetected.
//
// Timing: RX faults apply to frames as they come out of the inner RxBurst;
// TX faults to frames on their way into the inner TxBurst. Held frames are
// released by RxBurst (RX), TxBurst and Kick (TX) once due. RxBurst returns
// 0 only after the inner RxBurst has, so the inner Fd's wakeup promise
// carries over to frames not yet pulled. A shard that
// sleeps in poll on Fd must bound its sleep by NextDue, or delayed frames
// wait for unrelated traffic to wake it. A frame held for reordering waits
// for later frames, however long that takes; SetFaults with Reorder 0
// releases such frames at once.
package fault
