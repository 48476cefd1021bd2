package hostile

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/wire"
)

const (
	fFIN = wire.TCPFlagFIN
	fSYN = wire.TCPFlagSYN
	fRST = wire.TCPFlagRST
	fPSH = wire.TCPFlagPSH
	fACK = wire.TCPFlagACK
	fURG = wire.TCPFlagURG
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// rawSock is an AF_PACKET socket bound to the host side of the TAP, in
// the test's namespace: what it sends, the shard receives; what the shard
// sends, it can read (through its filter).
type rawSock struct {
	fd      int
	ifindex int
	buf     []byte
}

// openRaw opens the socket in ns, bound to ifname, with filter (nil: a
// send-only socket that receives nothing). Closed when the test ends.
func openRaw(t testing.TB, ns *nstest.NS, ifname string, filter []unix.SockFilter) *rawSock {
	t.Helper()
	s := &rawSock{fd: -1, buf: make([]byte, 65536)}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		s.ifindex = ifi.Index
		proto := 0 // receives nothing
		if filter != nil {
			proto = unix.ETH_P_ALL
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(uint16(proto))))
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w", err)
		}
		s.fd = fd
		if filter != nil {
			prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
			if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
				return fmt.Errorf("attach filter: %w", err)
			}
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20); err != nil {
				return err
			}
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(uint16(proto)), Ifindex: s.ifindex})
	})
	if s.fd >= 0 {
		t.Cleanup(func() { unix.Close(s.fd) })
	}
	if err != nil {
		t.Fatal(err)
	}
	// Frames that arrived between socket() and the filter: drop them.
	for {
		if _, _, err := unix.Recvfrom(s.fd, s.buf, unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
	return s
}

// macFilter is a classic BPF program accepting frames whose destination
// MAC is mac.
func macFilter(mac [6]byte) []unix.SockFilter {
	hi := binary.BigEndian.Uint32(mac[0:4])
	lo := uint32(binary.BigEndian.Uint16(mac[4:6]))
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 3, K: hi},
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 4},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: lo},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
}

// send writes one frame; it fails the test if the kernel refuses it.
func (s *rawSock) send(t testing.TB, frame []byte) {
	t.Helper()
	if err := s.trySend(frame); err != nil {
		t.Fatalf("AF_PACKET send of %d bytes: %v", len(frame), err)
	}
}

func (s *rawSock) trySend(frame []byte) error {
	for {
		err := unix.Sendto(s.fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: s.ifindex, Halen: 6})
		if err == unix.EAGAIN || err == unix.ENOBUFS {
			// The socket's send buffer is full: wait until it drains.
			fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLOUT}}
			unix.Poll(fds, 100)
			continue
		}
		return err
	}
}

// recv returns the next frame the shard sent (not ones sent from this
// side), or false once the deadline passes. The frame is a copy.
func (s *rawSock) recv(deadline time.Time) (frame, bool) {
	for {
		n, from, err := unix.Recvfrom(s.fd, s.buf, unix.MSG_DONTWAIT)
		if err == nil {
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			return parseFrame(append([]byte(nil), s.buf[:n]...)), true
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			return frame{}, false
		}
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return frame{}, false
		}
		fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		unix.Poll(fds, ms)
	}
}

// expect reads frames until one matches, failing the test at the
// deadline.
func (s *rawSock) expect(t testing.TB, what string, timeout time.Duration, match func(frame) bool) frame {
	t.Helper()
	return s.expectCollect(t, what, timeout, match, nil)
}

// expectCollect is expect that appends the frames read before the match
// to *before.
func (s *rawSock) expectCollect(t testing.TB, what string, timeout time.Duration, match func(frame) bool, before *[]frame) frame {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, ok := s.recv(deadline)
		if !ok {
			t.Fatalf("%s: nothing matching within %v", what, timeout)
		}
		if match(f) {
			return f
		}
		if before != nil {
			*before = append(*before, f)
		}
	}
}

// frame is a received frame with its layers picked out (zero views where
// a layer is absent or malformed).
type frame struct {
	raw []byte
	eth wire.Ethernet
	arp wire.ARP
	ip  wire.IPv4
	tcp wire.TCP
}

func parseFrame(b []byte) frame {
	f := frame{raw: b}
	e := wire.Ethernet(b)
	if e.Check() != nil {
		return f
	}
	f.eth = e
	switch e.EtherType() {
	case wire.EtherTypeARP:
		if a := wire.ARP(e.Payload()); a.Check() == nil {
			f.arp = a
		}
	case wire.EtherTypeIPv4:
		h := wire.IPv4(e.Payload())
		if h.Check() != nil {
			return f
		}
		f.ip = h
		if h.Protocol() == wire.ProtoTCP && !h.IsFragment() {
			if t := wire.TCP(h.Payload()); t.Check() == nil {
				f.tcp = t
			}
		}
	}
	return f
}

func (f frame) isARPReplyFrom(ip [4]byte) bool {
	return f.arp != nil && f.arp.Op() == wire.ARPReply && f.arp.SenderIP() == ip
}

// isTCP: a TCP segment from src:sport to dport.
func (f frame) isTCP(src [4]byte, sport, dport uint16) bool {
	return f.tcp != nil && f.ip.Src() == src && f.tcp.SrcPort() == sport && f.tcp.DstPort() == dport
}

func (f frame) String() string {
	switch {
	case f.tcp != nil:
		return fmt.Sprintf("TCP %v:%d > %v:%d %v seq %d ack %d win %d len %d", f.ip.Src(), f.tcp.SrcPort(), f.ip.Dst(), f.tcp.DstPort(),
			f.tcp.Flags(), uint32(f.tcp.Seq()), uint32(f.tcp.Ack()), f.tcp.Window(), len(f.tcp.Payload()))
	case f.arp != nil:
		return fmt.Sprintf("ARP op %d %v > %v", f.arp.Op(), f.arp.SenderIP(), f.arp.TargetIP())
	case f.ip != nil:
		return fmt.Sprintf("IPv4 proto %d %v > %v", f.ip.Protocol(), f.ip.Src(), f.ip.Dst())
	}
	return fmt.Sprintf("%d bytes", len(f.raw))
}

// segSpec describes an Ethernet/IPv4/TCP frame; build makes it with
// correct checksums, and tests then break what they want.
type segSpec struct {
	srcMAC, dstMAC [6]byte
	src, dst       [4]byte
	ttl            uint8
	ipFlags        uint8
	fragOff        uint16
	sport, dport   uint16
	seq, ack       uint32
	flags          wire.TCPFlags
	window         uint16
	urgent         uint16
	opts           []byte // raw option bytes, a multiple of 4
	payload        []byte
}

// Offsets into a built frame.
const (
	offIP  = wire.EthernetHeaderLen
	offTCP = offIP + wire.IPv4MinHeaderLen
)

func (s *segSpec) build() []byte {
	tl := wire.IPv4MinHeaderLen + wire.TCPMinHeaderLen + len(s.opts) + len(s.payload)
	b := make([]byte, wire.EthernetHeaderLen+tl)
	wire.Ethernet(b).Encode(&wire.EthernetFields{Dst: s.dstMAC, Src: s.srcMAC, EtherType: wire.EtherTypeIPv4})
	wire.IPv4(b[offIP:]).Encode(&wire.IPv4Fields{TotalLen: uint16(tl), ID: 1, Flags: s.ipFlags, FragOffset: s.fragOff,
		TTL: s.ttl, Protocol: wire.ProtoTCP, Src: s.src, Dst: s.dst})
	t := wire.TCP(b[offTCP:])
	t.Encode(&wire.TCPFields{SrcPort: s.sport, DstPort: s.dport, Seq: wire.Seq(s.seq), Ack: wire.Seq(s.ack),
		Flags: s.flags, Window: s.window, Urgent: s.urgent, OptionsLen: len(s.opts)})
	copy(t[wire.TCPMinHeaderLen:], s.opts)
	copy(t[wire.TCPMinHeaderLen+len(s.opts):], s.payload)
	t.SetChecksum(t.ComputeChecksum(s.src, s.dst))
	return b
}

// fixIPChecksum recomputes the IPv4 header checksum over 20 bytes.
func fixIPChecksum(b []byte) {
	h := wire.IPv4(b[offIP:])
	h.SetChecksum(0)
	h.SetChecksum(wire.Checksum(b[offIP:offTCP], 0))
}

// fixTCPChecksum recomputes the TCP checksum over what the IPv4 total
// length covers (after a 20-byte IPv4 header).
func fixTCPChecksum(b []byte) {
	h := wire.IPv4(b[offIP:])
	end := offIP + int(h.TotalLen())
	if end > len(b) {
		end = len(b)
	}
	t := wire.TCP(b[offTCP:end])
	t.SetChecksum(0)
	t.SetChecksum(t.ComputeChecksum(h.Src(), h.Dst()))
}

// arpRequest is "who has target? tell ip (at mac)", broadcast.
func arpRequest(mac [6]byte, ip, target [4]byte) []byte {
	b := make([]byte, wire.EthernetHeaderLen+wire.ARPLen)
	wire.Ethernet(b).Encode(&wire.EthernetFields{Dst: wire.BroadcastMAC, Src: mac, EtherType: wire.EtherTypeARP})
	wire.ARP(b[wire.EthernetHeaderLen:]).Encode(&wire.ARPFields{Op: wire.ARPRequest, SenderHW: mac, SenderIP: ip, TargetIP: target})
	return b
}
