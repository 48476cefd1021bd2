package ip

import (
	"errors"
	"fmt"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/wire"
)

// Config is a shard's link and address configuration.
type Config struct {
	MAC       [6]byte // our link address
	Addr      [4]byte // our IPv4 address
	PrefixLen int     // on-link prefix length, 1..32
	Gateway   [4]byte // next hop for off-link destinations; zero for none
	MTU       int     // largest IPv4 datagram; default 1500

	// ARP. Zero values take the defaults in parentheses.
	ARPEntries      int   // neighbour table size, a power of two (256)
	ARPReachable    int64 // how long an answer is trusted, ns (30 s)
	ARPRetry        int64 // interval between requests for one address, ns (1 s)
	ARPMaxProbes    int   // requests before giving up on an address (3)
	ARPPendingTotal int   // packets held awaiting resolution, all neighbours together (256)

	TTL uint8 // TTL of datagrams we originate (64)
}

// Errors from New; they say which field to fix.
var ErrConfig = errors.New("ip: invalid configuration")

func (c *Config) setDefaults() error {
	if c.MTU == 0 {
		c.MTU = 1500
	}
	if c.MTU < 576 || c.MTU > 9000 {
		return fmt.Errorf("%w: MTU %d (want 576..9000)", ErrConfig, c.MTU)
	}
	if c.PrefixLen < 1 || c.PrefixLen > 32 {
		return fmt.Errorf("%w: prefix length %d (want 1..32)", ErrConfig, c.PrefixLen)
	}
	if c.Addr == ([4]byte{}) {
		return fmt.Errorf("%w: no IPv4 address", ErrConfig)
	}
	if c.MAC == ([6]byte{}) || wire.IsMulticastMAC(c.MAC) {
		return fmt.Errorf("%w: MAC %x must be a non-zero unicast address", ErrConfig, c.MAC)
	}
	if c.ARPEntries == 0 {
		c.ARPEntries = 256
	}
	if c.ARPEntries < 4 || c.ARPEntries&(c.ARPEntries-1) != 0 {
		return fmt.Errorf("%w: ARPEntries %d must be a power of two ≥ 4", ErrConfig, c.ARPEntries)
	}
	if c.ARPReachable == 0 {
		c.ARPReachable = 30e9
	}
	if c.ARPRetry == 0 {
		c.ARPRetry = 1e9
	}
	if c.ARPMaxProbes == 0 {
		c.ARPMaxProbes = 3
	}
	if c.ARPPendingTotal == 0 {
		c.ARPPendingTotal = 256
	}
	if c.TTL == 0 {
		c.TTL = 64
	}
	return nil
}

// Transmitter takes frames ready for the wire (the reactor's TX batch). It
// owns each frame it is given.
type Transmitter interface {
	Transmit(p *buf.Packet)
}

// Protocol is a transport above IPv4. Deliver is given a packet whose Data
// is the transport header and payload (IPv4 header and link padding gone)
// and owns it from then on.
type Protocol interface {
	Deliver(p *buf.Packet, src, dst [4]byte, now int64)
}

// EchoReplyFunc is told of ICMP echo replies addressed to us. payload is
// valid only during the call.
type EchoReplyFunc func(src [4]byte, id, seq uint16, payload []byte, now int64)

// Stack is one shard's L2/L3 state.
type Stack struct {
	cfg      Config
	mask     uint32
	addr     uint32
	bcast    uint32 // directed broadcast of our subnet
	slab     *buf.Slab
	tx       Transmitter
	wheel    *timer.Wheel
	protos   [256]Protocol
	onEcho   EchoReplyFunc
	onLearn  func(ip [4]byte, mac [6]byte)
	arp      arpTable
	arpTimer timer.Timer
	ipID     uint16
	stats    Stats
}

// New builds a shard's stack. It does not send anything; call Start.
func New(cfg Config, slab *buf.Slab, tx Transmitter, wheel *timer.Wheel) (*Stack, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if slab == nil || tx == nil || wheel == nil {
		return nil, fmt.Errorf("%w: slab, transmitter and wheel are required", ErrConfig)
	}
	if need := wire.EthernetHeaderLen + wire.IPv4MinHeaderLen + 60 + 20; slab.Headroom() < need {
		return nil, fmt.Errorf("%w: slab headroom %d, need ≥ %d", ErrConfig, slab.Headroom(), need)
	}
	s := &Stack{cfg: cfg, slab: slab, tx: tx, wheel: wheel}
	s.addr = be32(cfg.Addr)
	s.mask = ^uint32(0) << (32 - cfg.PrefixLen)
	s.bcast = s.addr | ^s.mask
	s.arp.init(cfg.ARPEntries)
	s.arpTimer.Init(s.arpTick)
	return s, nil
}

// Config returns the stack's configuration with defaults filled in.
func (s *Stack) Config() Config { return s.cfg }

// Register makes p the handler of IPv4 protocol number proto.
func (s *Stack) Register(proto uint8, p Protocol) { s.protos[proto] = p }

// OnEchoReply sets the function told of echo replies to our own requests.
func (s *Stack) OnEchoReply(f EchoReplyFunc) { s.onEcho = f }

// OnLearn sets the function told of each neighbour learned from an ARP
// packet this shard received. With several shards, the reactor passes these
// to the others (an ARP reply can arrive on any queue; LearnNeighbor).
func (s *Stack) OnLearn(f func(ip [4]byte, mac [6]byte)) { s.onLearn = f }

// Stats returns a copy of the counters.
func (s *Stack) Stats() Stats { return s.stats }

// Start announces our address with a gratuitous ARP request (RFC 5227 §3)
// and starts the neighbour table's housekeeping timer.
func (s *Stack) Start(now int64) {
	s.sendARP(wire.ARPRequest, wire.BroadcastMAC, [6]byte{}, s.cfg.Addr)
	s.wheel.Schedule(&s.arpTimer, now+s.cfg.ARPRetry)
}

// Stop cancels the stack's timers and releases every packet it holds.
func (s *Stack) Stop() {
	s.wheel.Cancel(&s.arpTimer)
	s.arp.flushAll(s)
}

func (s *Stack) drop(p *buf.Packet, r DropReason) {
	s.stats.Drops[r]++
	p.Release()
}

// Input processes one received frame to completion. It owns p.
func (s *Stack) Input(p *buf.Packet, now int64) {
	s.stats.RxFrames++
	eth := wire.Ethernet(p.Data())
	if eth.Check() != nil {
		s.drop(p, DropEthTruncated)
		return
	}
	dst := eth.Dst()
	if dst != s.cfg.MAC && dst != wire.BroadcastMAC {
		s.drop(p, DropEthNotForUs)
		return
	}
	if src := eth.Src(); src == s.cfg.MAC || wire.IsMulticastMAC(src) {
		s.drop(p, DropEthBadSource)
		return
	}
	switch eth.EtherType() {
	case wire.EtherTypeIPv4:
		s.ipv4Input(p, dst == wire.BroadcastMAC, now)
	case wire.EtherTypeARP:
		s.arpInput(p, now)
	default:
		s.drop(p, DropEthUnknownType)
	}
}

func be32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

func fromBE32(v uint32) [4]byte {
	return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}
