package tap

import "encoding/binary"

// The virtio_net_hdr with num_buffers (virtio 1.0, 12 bytes), as tun reads
// and writes it after TUNSETVNETHDRSZ 12 and TUNSETVNETLE: little-endian.
//
//	0 flags u8 | 1 gso_type u8 | 2 hdr_len | 4 gso_size | 6 csum_start |
//	8 csum_offset | 10 num_buffers
const (
	vnetLen = 12

	vnetFNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	vnetFDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID
	vnetGSONone    = 0 // VIRTIO_NET_HDR_GSO_NONE
)

// rxVerdict is what the receive path makes of a frame's virtio header.
type rxVerdict uint8

const (
	rxOK        rxVerdict = iota
	rxVerified            // DATA_VALID: the L4 checksum is known good
	rxCsumFixed           // NEEDS_CSUM: completed in software, so good
	rxDropGSO             // a GSO super-frame: never expected, dropped
	rxDropCsum            // NEEDS_CSUM with offsets outside the frame
)

// parseVnetRx reads hdr (12 bytes) that came with frame (the Ethernet
// frame after it) and completes a partial checksum in frame if asked to.
func parseVnetRx(hdr, frame []byte) rxVerdict {
	if hdr[1] != vnetGSONone {
		return rxDropGSO
	}
	flags := hdr[0]
	if flags&vnetFNeedsCsum != 0 {
		start := int(binary.LittleEndian.Uint16(hdr[6:]))
		off := int(binary.LittleEndian.Uint16(hdr[8:]))
		if !csumComplete(frame, start, off) {
			return rxDropCsum
		}
		return rxCsumFixed
	}
	if flags&vnetFDataValid != 0 {
		return rxVerified
	}
	return rxOK
}

// putVnetTx writes the transmit header: NEEDS_CSUM with the packet's
// offsets when partial, otherwise all zeroes (no offload asked).
func putVnetTx(hdr []byte, partial bool, start, off uint16) {
	clear(hdr[:vnetLen])
	if partial {
		hdr[0] = vnetFNeedsCsum
		binary.LittleEndian.PutUint16(hdr[2:], start+off+2) // hdr_len: through the checksum field
		binary.LittleEndian.PutUint16(hdr[6:], start)
		binary.LittleEndian.PutUint16(hdr[8:], off)
	}
}

// csumComplete finishes a partial L4 checksum, as a NIC does: the field at
// start+off holds the pseudo-header sum; the one's-complement sum of
// frame[start:] is folded, complemented and stored there (0 is sent as
// 0xffff, as Linux does). It reports false if the field is outside frame.
func csumComplete(frame []byte, start, off int) bool {
	if start < 0 || off < 0 || start+off+2 > len(frame) {
		return false
	}
	b := frame[start:]
	var sum uint64
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	c := ^uint16(sum)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(frame[start+off:], c)
	return true
}
