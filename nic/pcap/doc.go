// Package pcap wraps a nic.Queue and records every frame that passes, in
// both directions, to an io.Writer in the classic libpcap file format
// (nanosecond timestamps, magic 0xa1b23c4d, LINKTYPE_ETHERNET), which
// Wireshark, tshark and tcpdump read.
//
// Layer: a wrapper driver under nic; it imports buf and nic only.
//
// Ownership: a Queue belongs to the shard that owns the inner queue and is
// called only from its thread; so is its writer (a file, typically). The
// writer stays the caller's: Close flushes but does not close it, unless
// Config.CloseWriter says the Queue owns it.
//
// What is recorded: received frames as the inner RxBurst returns them, and
// transmitted frames as they are handed to the inner TxBurst (before it,
// since the inner queue releases what it takes). Frames the inner queue
// refuses are not recorded until it takes them, so each frame appears once.
// Each record holds at most Snaplen bytes of its frame. All frames of one
// burst share one timestamp, read from Config.Clock once per burst.
//
// Buffering: records are copied into a buffer allocated once by Wrap and
// written out when it fills, on Flush, and on Close, so the data path makes
// no allocation and no system call per frame. (The buffer is our own rather
// than a bufio.Writer: the records of frames that the inner TxBurst refuses
// must be taken back, which bufio cannot do.) A reactor that wants the file
// current while idle calls Flush. A write error is sticky: recording stops,
// later frames are counted as lost, the frames themselves flow on, and
// Flush and Close report the error.
package pcap
