package buf

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Defaults for a shard's slab.
const (
	// DefaultFrameSize holds a 1500-byte MTU frame (1514 bytes of Ethernet),
	// a 12-byte virtio-net header and headroom, and is a power of two so
	// that AF_XDP can use the same arena as its UMEM.
	DefaultFrameSize = 2048
	// DefaultHeadroom leaves room to prepend Ethernet, IPv4, TCP with all
	// options, and a virtio-net header in front of a payload.
	DefaultHeadroom = 256
	// DefaultFrames is the number of frames per shard: 16 MiB at 2 KiB.
	DefaultFrames = 8192
)

// ErrBadConfig reports slab parameters that cannot work.
var ErrBadConfig = errors.New("buf: bad slab configuration")

// Stats are a slab's counters. Owned by the shard; read them from it.
type Stats struct {
	Allocs    uint64 // successful Alloc calls
	Releases  uint64 // successful Release calls
	AllocFail uint64 // Alloc on an exhausted slab
	DoubleRel uint64 // Release of a packet that was not in use (a bug; counted, ignored)
}

// Slab is a bounded pool of fixed-size frames carved from one mmap'd arena.
// It belongs to one shard; it is not safe for concurrent use.
type Slab struct {
	arena     []byte
	frameSize int
	headroom  int
	pkts      []Packet // one descriptor per frame, index = frame number
	free      []uint32 // LIFO stack of free frame numbers (warm frames first)
	stats     Stats
}

// NewSlab maps an arena of frames*frameSize bytes. frameSize must be a power
// of two between 256 and 65536, and headroom must leave room for a frame.
func NewSlab(frames, frameSize, headroom int) (*Slab, error) {
	if frames <= 0 || frames > 1<<24 {
		return nil, fmt.Errorf("%w: %d frames (want 1..%d)", ErrBadConfig, frames, 1<<24)
	}
	if frameSize < 256 || frameSize > 65536 || frameSize&(frameSize-1) != 0 {
		return nil, fmt.Errorf("%w: frame size %d (want a power of two in 256..65536)", ErrBadConfig, frameSize)
	}
	if headroom < 0 || headroom > frameSize-128 {
		return nil, fmt.Errorf("%w: headroom %d for frame size %d", ErrBadConfig, headroom, frameSize)
	}
	arena, err := unix.Mmap(-1, 0, frames*frameSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("buf: mmap %d bytes for %d frames: %w", frames*frameSize, frames, err)
	}
	s := &Slab{
		arena:     arena,
		frameSize: frameSize,
		headroom:  headroom,
		pkts:      make([]Packet, frames),
		free:      make([]uint32, frames),
	}
	for i := range s.pkts {
		base := i * frameSize
		s.pkts[i] = Packet{slab: s, frame: arena[base : base+frameSize : base+frameSize], idx: uint32(i)}
		s.free[i] = uint32(frames - 1 - i) // frame 0 on top
	}
	return s, nil
}

// Close unmaps the arena. Every packet must have been released; Close
// returns an error naming the leak otherwise (and unmaps anyway).
func (s *Slab) Close() error {
	if s.arena == nil {
		return nil
	}
	inUse := s.InUse()
	err := unix.Munmap(s.arena)
	s.arena = nil
	s.pkts = nil
	s.free = nil
	if inUse != 0 {
		return fmt.Errorf("buf: slab closed with %d frames still in use", inUse)
	}
	return err
}

// Alloc takes a free frame and returns it as an empty packet whose data
// starts after the slab's headroom. It returns nil when the slab is
// exhausted (counted in Stats.AllocFail).
func (s *Slab) Alloc() *Packet {
	n := len(s.free)
	if n == 0 {
		s.stats.AllocFail++
		return nil
	}
	idx := s.free[n-1]
	s.free = s.free[:n-1]
	p := &s.pkts[idx]
	p.inUse = true
	p.off, p.end = s.headroom, s.headroom
	p.Meta = Meta{}
	s.stats.Allocs++
	return p
}

// Packet returns the descriptor of frame idx. Drivers that hand frames to
// hardware by number (AF_XDP's fill and RX rings) Alloc them first, then use
// this to map a returned descriptor back to its packet.
func (s *Slab) Packet(idx uint32) *Packet { return &s.pkts[idx] }

func (s *Slab) release(p *Packet) {
	if !p.inUse {
		s.stats.DoubleRel++
		return
	}
	p.inUse = false
	s.free = append(s.free, p.idx) // cap == frames: never reallocates
	s.stats.Releases++
}

// InUse reports how many frames are allocated and not yet released.
func (s *Slab) InUse() int { return len(s.pkts) - len(s.free) }

// Free reports how many frames can still be allocated.
func (s *Slab) Free() int { return len(s.free) }

// Frames reports the slab's capacity in frames.
func (s *Slab) Frames() int { return len(s.pkts) }

// FrameSize reports the size of one frame in bytes.
func (s *Slab) FrameSize() int { return s.frameSize }

// Headroom reports the default headroom of a freshly allocated packet.
func (s *Slab) Headroom() int { return s.headroom }

// Arena returns the whole mapped arena (for AF_XDP UMEM registration).
func (s *Slab) Arena() []byte { return s.arena }

// Stats returns a copy of the slab's counters.
func (s *Slab) Stats() Stats { return s.stats }
