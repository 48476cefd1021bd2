// Package tap is the multiqueue TAP driver: shardnet's portable default,
// which works on any Linux with /dev/net/tun. The kernel sees an ordinary
// Ethernet interface (the "host side"); shardnet is a separate host at the
// other end of that cable, with its own MAC and IP addresses.
//
// Layer: a nic driver. It imports buf and nic, and (on the control path
// only) netlink and netns to create and configure the device.
//
// # Queues and file descriptors
//
// Open creates one device with IFF_MULTI_QUEUE and opens /dev/net/tun once
// per queue: each queue is its own non-blocking file descriptor, attached to
// the same device by TUNSETIFF. Device.Queue hands queue i to one shard,
// which owns it from then on: RxBurst, TxBurst, Stats and Close are called
// only from that shard's pinned thread. Reads and writes use read(2) and
// write(2) straight on the raw fd (never os.File, so the Go netpoller is not
// involved); Fd is pollable, so an idle shard sleeps in poll(2) on it.
//
// # One syscall per frame
//
// A TAP fd moves exactly one frame per read or write; there is no batching
// interface for user space (readv/writev only scatter one frame, and the
// batched sendmsg of tun is reserved for vhost-net inside the kernel). So a
// burst of n frames costs n syscalls, plus one read that returns EAGAIN to
// end a receive burst. Kick is a no-op: a TAP has no doorbell, the write
// itself hands the frame to the kernel. This is the price of portability;
// the afxdp driver avoids it.
//
// # How the kernel spreads flows over queues
//
// When the kernel transmits a frame on the device (which is a frame the
// shards receive), tun picks the queue (tun_select_queue / automq in
// drivers/net/tun.c) like this, unless an eBPF steering program is set:
//
//   - It computes a symmetric flow hash of the frame (addresses and ports;
//     the same for both directions of a connection).
//   - If its flow table has an entry for that hash, the frame goes to the
//     queue recorded there. Entries are made when user space writes a frame:
//     with more than one queue, every frame written on queue i records
//     "hash → i". So the queue that last transmitted a flow is the queue
//     that receives it back.
//   - Otherwise the hash is scaled onto [0, queues): new flows that the
//     kernel starts (or that a shard has not written for a while) land on a
//     queue chosen by hash, which shardnet cannot predict.
//
// Two catches, both seen in this package's tests. tun records the entry
// only after the kernel has processed the written frame, and the kernel
// answers some frames while processing them (ARP replies, ICMP echo
// replies, a local TCP socket's SYN-ACK or ACK): such a reply follows the
// previous write on that hash, so the reply to the first frame of a new
// flow lands where the hash says, not on the sender's queue. And entries
// age out after about 3 seconds without a write on that flow (the table
// holds at most 4096), so a long-idle connection may come back on another
// queue. Either way the frame must be forwarded to its owning shard.
// Frames without ports (ARP) all share one hash, so at any time they land
// on one queue: ARP must be shared with every shard.
//
// # Offloads
//
// With Config.VnetHdr, every frame carries a 12-byte virtio_net_hdr
// (little-endian, set with TUNSETVNETLE) in front of its Ethernet header.
// Transmit: a packet with buf.Meta.CsumPartial goes out with NEEDS_CSUM and
// its csum_start/csum_offset, and the kernel completes (or trusts) the L4
// checksum; this needs no TUNSETOFFLOAD. Receive: the driver never enables
// TUNSETOFFLOAD, so the kernel segments GSO packets and resolves partial
// checksums before handing frames over; DATA_VALID becomes
// buf.Meta.CsumVerified. Defensively, a received GSO frame is dropped and
// counted, and a received NEEDS_CSUM frame has its checksum completed in
// software. Without VnetHdr, a packet that nonetheless carries CsumPartial
// has its checksum completed in software before the write.
//
// # Lifetimes
//
// Received packets come from the queue's slab and belong to the caller.
// Transmitted packets are written and released inside TxBurst; packets it
// did not take (the fd was full: TxFull) stay the caller's, unchanged.
// Device.Close closes every fd; a device that Open created then vanishes.
// Close the Device only after every shard has stopped using its queue: an
// fd closed under a running shard may be reused by the process.
//
// # Privileges
//
// Creating a TAP needs CAP_NET_ADMIN in the namespace's user namespace. A
// persistent multiqueue TAP made beforehand by root (ip tuntap add mode tap
// multi_queue user U name X) can be opened by user U; configuring its
// address and MTU still needs CAP_NET_ADMIN unless they are already set.
package tap
