package wire

import "errors"

// Sentinel errors returned by the Check methods and ParseTCPOptions. Each
// names one distinct reason; they are package-level values, so returning
// one never allocates. Compare with ==.
var (
	// ErrEthernetTruncated: shorter than EthernetHeaderLen.
	ErrEthernetTruncated = errors.New("wire: Ethernet frame shorter than its header")

	// ErrARPTruncated: shorter than ARPLen.
	ErrARPTruncated = errors.New("wire: ARP packet truncated")
	// ErrARPHardwareType: hardware type is not 1 (Ethernet).
	ErrARPHardwareType = errors.New("wire: ARP hardware type is not Ethernet")
	// ErrARPProtocolType: protocol type is not 0x0800 (IPv4).
	ErrARPProtocolType = errors.New("wire: ARP protocol type is not IPv4")
	// ErrARPAddrLen: hardware/protocol address lengths are not 6 and 4.
	ErrARPAddrLen = errors.New("wire: ARP address lengths are not 6 and 4")
	// ErrARPOp: operation is neither request (1) nor reply (2).
	ErrARPOp = errors.New("wire: ARP operation is neither request nor reply")

	// ErrIPv4Truncated: shorter than IPv4MinHeaderLen.
	ErrIPv4Truncated = errors.New("wire: IPv4 packet shorter than a minimal header")
	// ErrIPv4Version: version field is not 4.
	ErrIPv4Version = errors.New("wire: IPv4 version field is not 4")
	// ErrIPv4HeaderLen: IHL below 5, or a header longer than the slice.
	ErrIPv4HeaderLen = errors.New("wire: IPv4 header length below 20 or beyond the packet")
	// ErrIPv4TotalLen: total length below the header length or beyond the
	// slice.
	ErrIPv4TotalLen = errors.New("wire: IPv4 total length below the header or beyond the packet")

	// ErrICMPv4Truncated: shorter than ICMPv4HeaderLen.
	ErrICMPv4Truncated = errors.New("wire: ICMPv4 message shorter than its header")

	// ErrTCPTruncated: shorter than TCPMinHeaderLen.
	ErrTCPTruncated = errors.New("wire: TCP segment shorter than a minimal header")
	// ErrTCPDataOffset: data offset below 5, or a header longer than the
	// segment.
	ErrTCPDataOffset = errors.New("wire: TCP data offset below 5 or beyond the segment")
	// ErrTCPOptions: the option list is malformed: an option runs past the
	// end of the header, has a length below 2, or has the wrong length for
	// its kind.
	ErrTCPOptions = errors.New("wire: malformed TCP options")
)
