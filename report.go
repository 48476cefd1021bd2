package shardnet

import (
	"fmt"
	"io"
	"strings"

	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/tcp"
)

// WriteReport writes a human-readable summary of samples (as Samples
// returns them), one or two lines per shard: for shardnet's stack the
// queue, ARP, ICMP, IPv4, slab and TCP counters; for the kernel backend
// its connection and system-call counters; and the HTTP counters of a
// shard that serves HTTP.
func WriteReport(w io.Writer, samples []Sample) error {
	var b strings.Builder
	for i := range samples {
		r := &samples[i]
		if r.Driver == string(DriverKernel) {
			k := &r.Kernel
			fmt.Fprintf(&b, "shard %d kernel: accepted %d refused %d closed %d resets %d, bytes in/out %d/%d, reads %d writes %d epoll_waits %d\n",
				r.Shard, k.Accepted, k.Refused, k.Closed, k.Resets, k.BytesIn, k.BytesOut, k.Reads, k.Writes, k.EpollWaits)
		} else {
			fmt.Fprintf(&b, "shard %d cpu %d: rx %d frames %d bytes, tx %d frames %d bytes, arp req in/out %d/%d reply in/out %d/%d, echo %d, ipv4 in/out %d/%d, drops %d%s, slab allocfail %d in-use %d\n",
				r.Shard, r.CPU, r.Queue.RxPackets, r.Queue.RxBytes, r.Queue.TxPackets, r.Queue.TxBytes,
				r.IP.ARPRequestIn, r.IP.ARPRequestOut, r.IP.ARPReplyIn, r.IP.ARPReplyOut, r.IP.EchoIn,
				r.IP.IPv4In, r.IP.IPv4Out, r.IP.TotalDrops()+r.Loop.TxDropped, ipDrops(&r.IP), r.Slab.AllocFail, r.SlabInUse)
			if r.TCP != (tcp.Stats{}) {
				fmt.Fprintf(&b, "shard %d tcp: %s; forwarded out/in %d/%d, forward drops %d\n", r.Shard, tcpSummary(&r.TCP),
					r.Loop.Forwarded, r.Loop.ForwardIn, r.Loop.FwdDrops)
			}
		}
		if h := &r.HTTP; h.ConnsOpened > 0 {
			fmt.Fprintf(&b, "shard %d http: conns %d (open %d), requests %d, 2xx %d 3xx %d 4xx %d 5xx %d, timeouts header/idle/body/write %d/%d/%d/%d, linger aborts %d\n",
				r.Shard, h.ConnsOpened, h.ConnsActive, h.Requests, h.Status[2], h.Status[3], h.Status[4], h.Status[5],
				h.HeaderTimeouts, h.IdleTimeouts, h.BodyTimeouts, h.WriteTimeouts, h.LingerAborts)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ipDrops(s *ip.Stats) string {
	var b strings.Builder
	for r := 0; r < ip.NumDropReasons; r++ {
		if n := s.Drops[r]; n > 0 {
			if b.Len() == 0 {
				b.WriteString(" (")
			} else {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s=%d", ip.DropReason(r), n)
		}
	}
	if b.Len() > 0 {
		b.WriteString(")")
	}
	return b.String()
}

func tcpSummary(s *tcp.Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "segs in/out %d/%d, opens passive/active %d/%d, established %d, retransmits %d (fast %d, rto %d), resets in/out %d/%d, syncookies %d, dropped %d",
		s.SegsIn, s.SegsOut, s.PassiveOpens, s.ActiveOpens, s.Established, s.Retransmits, s.FastRetransmits, s.RTOs,
		s.ResetsRecv, s.ResetsSent, s.SynCookiesSent, s.Dropped())
	first := true
	for r := 0; r < tcp.NumDropReasons; r++ {
		if n := s.Drops[r]; n > 0 {
			if first {
				b.WriteString(" (")
				first = false
			} else {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s=%d", tcp.DropReason(r), n)
		}
	}
	if !first {
		b.WriteString(")")
	}
	return b.String()
}
