// Package afxdp is the AF_XDP driver: one AF_XDP socket per NIC receive
// queue, whose UMEM is the owning shard's buf.Slab, so a received frame
// reaches the stack without a copy in user space, and a transmitted packet
// is handed to the kernel by its address in the slab.
//
// Layer: a nic driver. It imports buf, nic and wire (checksums), and on the
// control path cilium/ebpf (program, map, link), netlink and netns.
//
// # Steering: the XDP program
//
// Open builds a small XDP program at run time with cilium/ebpf/asm (no
// clang, no object files): it redirects to the socket of the frame's RX
// queue (an XSKMAP keyed by ctx->rx_queue_index) the IPv4 frames whose
// destination is Config.Addr and the ARP packets (Ethernet/IPv4) whose
// target address is Config.Addr; everything else, and everything while a
// queue has no socket (bpf_redirect_map's XDP_PASS fallback), goes to the
// kernel, so the host keeps its own addresses and connectivity on the same
// interface. The stack answers ARP for its address with the interface's
// MAC (nic.Caps.HWAddr): host and stack share the link address.
//
// The program is attached through a BPF link (Linux 5.9+), driver (native)
// mode first under ModeAuto, generic (SKB) mode as the fallback. The link
// is not pinned: the kernel detaches the program when the last fd of the
// link closes, which is at Device.Close or at process exit however it
// happens (SIGKILL, crash), so a crashed run leaves nothing behind. A
// shardnet program attached the old way (netlink), which does outlive its
// process, is recognised by its name (ProgName) and replaced; another
// program, or shardnet's held by a running process, makes Open fail with
// ErrBusy. A queue socket freed by a dead process is released by a kernel
// work item a moment later; bind retries EBUSY for up to a second.
//
// # Rings and frame ownership
//
// Each socket has four rings shared with the kernel (fill, completion, RX,
// TX), single producer and single consumer each, indices published with
// sync/atomic. A frame is the kernel's from the time its address goes into
// the fill ring until it comes back in the RX ring, and from the time its
// descriptor goes into the TX ring until its address comes back in the
// completion ring; it stays allocated in the slab throughout, and the queue
// marks it so that Close can give it back. The fill ring is kept topped up
// to min(RingSize, slab frames / 2) frames after every RxBurst. Received
// data starts max(slab headroom, 256) bytes into its frame (the kernel's
// XDP_PACKET_HEADROOM plus a UMEM headroom of slab headroom - 256), which
// with the default slab is exactly the slab's headroom. TxBurst fills TX
// descriptors; Kick calls sendto only when the kernel asks (need_wakeup,
// always so in copy mode, where one call sends at most 32 frames: Kick
// repeats, bounded) and reaps completions, releasing those frames.
//
// Zero-copy is tried when Config.ZeroCopy is set and the program is in
// driver mode, with a fallback to copy mode (Queue.ZeroCopy says which).
// There is no checksum offload: a packet with Meta.CsumPartial has its
// checksum completed in software.
//
// # Queues and flows
//
// Queue i is the interface's RX queue i; which flows land there is the
// NIC's RSS (or, on veth, the peer's TX queue choice). On veth, generic
// mode reports every frame as from queue 0, so more than one queue needs
// driver mode there (ModeAuto picks it). The driver does not steer by
// flow itself.
//
// # Lifetimes and threads
//
// A Queue belongs to the shard that took it: RxBurst, TxBurst, Kick, Stats
// and Close run only on that shard's thread. Received packets belong to
// the caller; packets TxBurst took belong to the queue until completed.
// Queue.Close closes the socket, unmaps the rings and releases every frame
// the kernel held: call it before closing the slab. Device.Close (any
// goroutine, after the shards stopped) detaches the program and closes the
// sockets' fds, but touches no ring: each shard still closes its Queue.
//
// # Privileges and limits
//
// Root, or CAP_NET_ADMIN (attach), CAP_NET_RAW (AF_XDP sockets) and CAP_BPF
// (load the program); without CAP_IPC_LOCK the slab counts against
// RLIMIT_MEMLOCK. Slab frames must be 2048 bytes up to a page (aligned
// UMEM), the MTU must fit a frame after the headroom, and the interface
// needs at least Config.Queues queues (ethtool -L to change).
package afxdp
