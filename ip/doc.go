// Package ip is a shard's link and network layer: Ethernet demultiplexing,
// ARP (answering for our address, resolving next hops with a bounded queue
// of packets awaiting resolution, a cache with expiry, gratuitous ARP on
// start), IPv4 input validation and output, and ICMP echo.
//
// Layer: uses wire, buf and reactor/timer only. The transport above (tcp)
// registers as a Protocol; the reactor below hands frames to Input and
// collects frames to send through the Transmitter it supplies.
//
// Ownership: a Stack belongs to one shard and is used only from its thread.
// Input and Output take ownership of the packet they are given: each packet
// is either handed on (to a Protocol, to the Transmitter, to the ARP pending
// queue) or released, and every packet dropped is counted under a
// DropReason. Nothing here returns an error per packet.
//
// Replies are built in place: an ICMP echo request becomes its reply, and an
// ARP request its answer, in the frame they arrived in, so answering costs
// no allocation and no copy.
package ip
