package ip

// DropReason says why the stack dropped a frame or packet. Every drop in
// this package is counted under exactly one reason.
type DropReason uint8

const (
	DropEthTruncated   DropReason = iota // shorter than an Ethernet header
	DropEthNotForUs                      // destination MAC neither ours nor broadcast
	DropEthUnknownType                   // EtherType other than IPv4 or ARP (IPv6, VLAN, ...)
	DropEthBadSource                     // source MAC is ours, multicast or broadcast
	DropARPMalformed                     // not Ethernet/IPv4 ARP, truncated, or unknown op
	DropARPNotForUs                      // a request for an address that is not ours (learned from, not answered)
	DropARPConflict                      // someone else claims our address
	DropIPv4Truncated                    // shorter than its header
	DropIPv4Version                      // version field is not 4
	DropIPv4HeaderLen                    // IHL < 5 or beyond the packet
	DropIPv4TotalLen                     // total length shorter than the header or longer than the frame
	DropIPv4Checksum                     // bad header checksum
	DropIPv4TTLZero                      // TTL 0: no host may send it (RFC 1122 §3.2.1.7)
	DropIPv4NotForUs                     // destination is not our address
	DropIPv4BadSource                    // source is ours (LAND), broadcast, multicast, loopback or 0.0.0.0
	DropIPv4Fragment                     // fragments are not reassembled
	DropIPv4NoProto                      // no handler for the protocol
	DropICMPMalformed                    // truncated ICMP message
	DropICMPChecksum                     // bad ICMP checksum
	DropICMPUnhandled                    // ICMP type we do not act on
	DropNoRoute                          // destination off-link and no gateway
	DropARPQueueFull                     // too many packets waiting for ARP resolution
	DropARPUnresolved                    // next hop never answered ARP
	DropARPTableFull                     // no room for a new neighbour
	DropTooBig                           // outgoing packet larger than the MTU
	DropNoBuf                            // slab exhausted building a packet
	DropTxFull                           // the transmit path refused the frame
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropEthTruncated:   "eth_truncated",
	DropEthNotForUs:    "eth_not_for_us",
	DropEthUnknownType: "eth_unknown_type",
	DropEthBadSource:   "eth_bad_source",
	DropARPMalformed:   "arp_malformed",
	DropARPNotForUs:    "arp_not_for_us",
	DropARPConflict:    "arp_conflict",
	DropIPv4Truncated:  "ipv4_truncated",
	DropIPv4Version:    "ipv4_version",
	DropIPv4HeaderLen:  "ipv4_header_len",
	DropIPv4TotalLen:   "ipv4_total_len",
	DropIPv4Checksum:   "ipv4_checksum",
	DropIPv4TTLZero:    "ipv4_ttl_zero",
	DropIPv4NotForUs:   "ipv4_not_for_us",
	DropIPv4BadSource:  "ipv4_bad_source",
	DropIPv4Fragment:   "ipv4_fragment",
	DropIPv4NoProto:    "ipv4_no_proto",
	DropICMPMalformed:  "icmp_malformed",
	DropICMPChecksum:   "icmp_checksum",
	DropICMPUnhandled:  "icmp_unhandled",
	DropNoRoute:        "no_route",
	DropARPQueueFull:   "arp_queue_full",
	DropARPUnresolved:  "arp_unresolved",
	DropARPTableFull:   "arp_table_full",
	DropTooBig:         "too_big",
	DropNoBuf:          "no_buf",
	DropTxFull:         "tx_full",
}

// String is the reason's metric-friendly name.
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// NumDropReasons is the number of distinct drop reasons.
const NumDropReasons = int(numDropReasons)

// Stats are a Stack's counters. They belong to the shard; copy them out from
// its thread (Stack.Stats).
type Stats struct {
	RxFrames      uint64
	IPv4In        uint64 // datagrams that passed validation
	Delivered     uint64 // handed to a registered protocol
	IPv4Out       uint64
	ARPRequestIn  uint64
	ARPReplyIn    uint64
	ARPRequestOut uint64
	ARPReplyOut   uint64
	EchoIn        uint64 // echo requests answered
	EchoReplyIn   uint64 // echo replies received (to our own requests)
	EchoOut       uint64 // echo requests sent
	Drops         [numDropReasons]uint64
}

// TotalDrops sums every drop reason.
func (s *Stats) TotalDrops() uint64 {
	var n uint64
	for _, d := range s.Drops {
		n += d
	}
	return n
}
