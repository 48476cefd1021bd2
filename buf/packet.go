package buf

// Meta is per-packet metadata that drivers and protocol layers exchange
// alongside the bytes. It is zeroed on Alloc.
type Meta struct {
	// CsumVerified: on receive, the driver (or NIC) has verified the L4
	// checksum, so the stack may skip it.
	CsumVerified bool
	// CsumPartial: on transmit, the L4 checksum field holds only the
	// pseudo-header sum; the driver must complete it from CsumStart (offset
	// from the start of data) and store it at CsumStart+CsumOffset.
	// Set only when the queue's Caps say TxCsumOffload.
	CsumPartial bool
	CsumStart   uint16
	CsumOffset  uint16
	// Queue is the receive queue the frame arrived on.
	Queue uint16
}

// Packet is a handle on one frame of a Slab while it is in use. The bytes of
// the packet are Data(): a window [off, end) of the frame; room before it
// (headroom) lets each layer prepend its header in place.
//
// A Packet belongs to its slab's shard. It must be released exactly once,
// by whoever holds it last; after Release, the handle and every slice taken
// from it are invalid.
type Packet struct {
	slab  *Slab
	frame []byte // the whole frame, len == cap == frame size
	off   int
	end   int
	idx   uint32
	inUse bool

	Meta Meta
}

// Data returns the packet's bytes. Valid until Release.
func (p *Packet) Data() []byte { return p.frame[p.off:p.end] }

// Len is len(Data()).
func (p *Packet) Len() int { return p.end - p.off }

// Headroom is how many bytes Prepend can still add in front.
func (p *Packet) Headroom() int { return p.off }

// Tailroom is how many bytes Append can still add at the end.
func (p *Packet) Tailroom() int { return len(p.frame) - p.end }

// Prepend grows the packet by n bytes at the front and returns them. It
// panics if the headroom is short: header sizes are known at build time, so
// that is a bug, not an input error.
func (p *Packet) Prepend(n int) []byte {
	if n > p.off {
		panic("buf: Prepend beyond headroom")
	}
	p.off -= n
	return p.frame[p.off : p.off+n]
}

// Append grows the packet by n bytes at the end and returns them, or returns
// nil (leaving the packet as it was) if the tailroom is short.
func (p *Packet) Append(n int) []byte {
	if n > len(p.frame)-p.end || n < 0 {
		return nil
	}
	p.end += n
	return p.frame[p.end-n : p.end]
}

// TrimFront drops n bytes from the front (a parsed header). n is clamped to
// the packet's length.
func (p *Packet) TrimFront(n int) {
	if n > p.end-p.off {
		n = p.end - p.off
	}
	p.off += n
}

// Truncate shortens the packet to n bytes (e.g. IPv4 total length is less
// than the frame: Ethernet padding). It does nothing if n >= Len().
func (p *Packet) Truncate(n int) {
	if n >= 0 && n < p.end-p.off {
		p.end = p.off + n
	}
}

// Reset makes the packet empty with its data starting at headroom bytes into
// the frame.
func (p *Packet) Reset(headroom int) {
	if headroom < 0 || headroom > len(p.frame) {
		headroom = p.slab.headroom
	}
	p.off, p.end = headroom, headroom
}

// SetData sets the data window to frame[off:off+n] (drivers that receive
// into the frame at a fixed offset use it). It reports false, changing
// nothing, if the window does not fit the frame.
func (p *Packet) SetData(off, n int) bool {
	if off < 0 || n < 0 || off+n > len(p.frame) {
		return false
	}
	p.off, p.end = off, off+n
	return true
}

// Offset is where Data() starts within the frame.
func (p *Packet) Offset() int { return p.off }

// Frame returns the whole frame, headroom and tailroom included. Drivers use
// it to receive into; everyone else uses Data.
func (p *Packet) Frame() []byte { return p.frame }

// Index is the frame's number in its slab.
func (p *Packet) Index() uint32 { return p.idx }

// Addr is the frame's byte offset in the slab's arena (an AF_XDP UMEM address
// when the arena is the UMEM), plus the data offset.
func (p *Packet) Addr() uint64 { return uint64(p.idx)*uint64(p.slab.frameSize) + uint64(p.off) }

// Slab is the slab the packet came from.
func (p *Packet) Slab() *Slab { return p.slab }

// InUse reports whether the handle is currently allocated.
func (p *Packet) InUse() bool { return p.inUse }

// Release returns the frame to its slab. Releasing twice is a bug; it is
// counted in Stats.DoubleRel and otherwise ignored.
func (p *Packet) Release() { p.slab.release(p) }

// Clone copies the packet's data and metadata into a new packet from the
// same slab, with the same data offset. It returns nil if the slab is
// exhausted.
func (p *Packet) Clone() *Packet {
	q := p.slab.Alloc()
	if q == nil {
		return nil
	}
	q.off, q.end = p.off, p.end
	copy(q.frame[q.off:q.end], p.frame[p.off:p.end])
	q.Meta = p.Meta
	return q
}
