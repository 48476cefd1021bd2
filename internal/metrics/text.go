package metrics

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/tcp"
)

// ContentType is the media type of WriteText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Which samples a family applies to.
type part uint8

const (
	partAll    part = iota // every shard
	partUser               // shards on the user-space stack (Driver != "kernel")
	partKernel             // kernel-stack shards
)

func (p part) has(s *Sample) bool {
	switch p {
	case partUser:
		return s.Driver != DriverKernel
	case partKernel:
		return s.Driver == DriverKernel
	}
	return true
}

const (
	typeCounter = "counter"
	typeGauge   = "gauge"
)

// scalar is a family with one series per shard.
type scalar struct {
	name, typ, help string
	part            part
	get             func(s *Sample) uint64
}

func nonNeg(n int) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// scalars are written in this order, before the labelled families.
var scalars = []scalar{
	// NIC queue.
	{"shardnet_rx_packets_total", typeCounter, "Frames received from the shard's NIC queue.", partUser, func(s *Sample) uint64 { return s.Queue.RxPackets }},
	{"shardnet_rx_bytes_total", typeCounter, "Bytes received from the shard's NIC queue.", partUser, func(s *Sample) uint64 { return s.Queue.RxBytes }},
	{"shardnet_tx_packets_total", typeCounter, "Frames sent on the shard's NIC queue.", partUser, func(s *Sample) uint64 { return s.Queue.TxPackets }},
	{"shardnet_tx_bytes_total", typeCounter, "Bytes sent on the shard's NIC queue.", partUser, func(s *Sample) uint64 { return s.Queue.TxBytes }},
	{"shardnet_nic_rx_no_buf_total", typeCounter, "Frames left waiting on the queue because the slab was empty.", partUser, func(s *Sample) uint64 { return s.Queue.RxNoBuf }},
	{"shardnet_nic_rx_errors_total", typeCounter, "Queue read errors and short or oversize frames.", partUser, func(s *Sample) uint64 { return s.Queue.RxErrors }},
	{"shardnet_nic_tx_errors_total", typeCounter, "Queue write errors (the frame was dropped).", partUser, func(s *Sample) uint64 { return s.Queue.TxErrors }},
	{"shardnet_nic_tx_full_total", typeCounter, "Frames the queue refused because it was full.", partUser, func(s *Sample) uint64 { return s.Queue.TxFull }},

	// Reactor loop.
	{"shardnet_loop_iterations_total", typeCounter, "Reactor loop iterations.", partUser, func(s *Sample) uint64 { return s.Loop.Iterations }},
	{"shardnet_loop_sleeps_total", typeCounter, "Times the reactor loop slept in poll(2).", partUser, func(s *Sample) uint64 { return s.Loop.Sleeps }},
	{"shardnet_loop_timers_total", typeCounter, "Timer callbacks fired.", partUser, func(s *Sample) uint64 { return s.Loop.Timers }},
	{"shardnet_loop_messages_total", typeCounter, "Inbox functions and mailbox messages handled.", partUser, func(s *Sample) uint64 { return s.Loop.Messages }},
	{"shardnet_loop_tx_dropped_total", typeCounter, "Frames dropped because the TX batch was full and the queue refused them.", partUser, func(s *Sample) uint64 { return s.Loop.TxDropped }},
	{"shardnet_loop_mail_full_total", typeCounter, "Messages to another shard dropped because its mailbox was full.", partUser, func(s *Sample) uint64 { return s.Loop.MailFull }},
	{"shardnet_loop_forwarded_total", typeCounter, "Frames passed to the shard owning their flow.", partUser, func(s *Sample) uint64 { return s.Loop.Forwarded }},
	{"shardnet_loop_forward_in_total", typeCounter, "Frames received from other shards and processed here.", partUser, func(s *Sample) uint64 { return s.Loop.ForwardIn }},
	{"shardnet_loop_forward_drops_total", typeCounter, "Frames that could not be forwarded or taken in.", partUser, func(s *Sample) uint64 { return s.Loop.FwdDrops }},
	{"shardnet_loop_miss_forwarded_total", typeCounter, "Segments matching no flow here, passed on to ask the next shard.", partUser, func(s *Sample) uint64 { return s.Loop.MissForwarded }},
	{"shardnet_loop_miss_found_total", typeCounter, "Segments asked for by another shard and owned here.", partUser, func(s *Sample) uint64 { return s.Loop.MissFound }},
	{"shardnet_loop_miss_returned_total", typeCounter, "Segments owned by no other shard, handed back to the shard that first got them.", partUser, func(s *Sample) uint64 { return s.Loop.MissReturned }},

	// Packet slab.
	{"shardnet_slab_allocs_total", typeCounter, "Packet frames allocated from the shard's slab.", partUser, func(s *Sample) uint64 { return s.Slab.Allocs }},
	{"shardnet_slab_releases_total", typeCounter, "Packet frames released to the shard's slab.", partUser, func(s *Sample) uint64 { return s.Slab.Releases }},
	{"shardnet_slab_alloc_failures_total", typeCounter, "Allocations from an exhausted slab.", partUser, func(s *Sample) uint64 { return s.Slab.AllocFail }},
	{"shardnet_slab_double_releases_total", typeCounter, "Releases of frames that were not in use (a bug; ignored).", partUser, func(s *Sample) uint64 { return s.Slab.DoubleRel }},
	{"shardnet_slab_frames_in_use", typeGauge, "Slab frames held now.", partUser, func(s *Sample) uint64 { return nonNeg(s.SlabInUse) }},

	// Ethernet, ARP, IPv4, ICMP.
	{"shardnet_ip_rx_frames_total", typeCounter, "Frames handed to the IP layer.", partUser, func(s *Sample) uint64 { return s.IP.RxFrames }},
	{"shardnet_ip_ipv4_in_total", typeCounter, "IPv4 datagrams that passed validation.", partUser, func(s *Sample) uint64 { return s.IP.IPv4In }},
	{"shardnet_ip_delivered_total", typeCounter, "IPv4 datagrams handed to a transport protocol.", partUser, func(s *Sample) uint64 { return s.IP.Delivered }},
	{"shardnet_ip_ipv4_out_total", typeCounter, "IPv4 datagrams sent.", partUser, func(s *Sample) uint64 { return s.IP.IPv4Out }},
	{"shardnet_ip_arp_requests_in_total", typeCounter, "ARP requests received.", partUser, func(s *Sample) uint64 { return s.IP.ARPRequestIn }},
	{"shardnet_ip_arp_replies_in_total", typeCounter, "ARP replies received.", partUser, func(s *Sample) uint64 { return s.IP.ARPReplyIn }},
	{"shardnet_ip_arp_requests_out_total", typeCounter, "ARP requests sent.", partUser, func(s *Sample) uint64 { return s.IP.ARPRequestOut }},
	{"shardnet_ip_arp_replies_out_total", typeCounter, "ARP replies sent.", partUser, func(s *Sample) uint64 { return s.IP.ARPReplyOut }},
	{"shardnet_ip_echo_requests_in_total", typeCounter, "ICMP echo requests received and answered.", partUser, func(s *Sample) uint64 { return s.IP.EchoIn }},
	{"shardnet_ip_echo_replies_in_total", typeCounter, "ICMP echo replies received.", partUser, func(s *Sample) uint64 { return s.IP.EchoReplyIn }},
	{"shardnet_ip_echo_requests_out_total", typeCounter, "ICMP echo requests sent.", partUser, func(s *Sample) uint64 { return s.IP.EchoOut }},

	// TCP.
	{"shardnet_tcp_segments_in_total", typeCounter, "TCP segments received.", partUser, func(s *Sample) uint64 { return s.TCP.SegsIn }},
	{"shardnet_tcp_segments_out_total", typeCounter, "TCP segments sent.", partUser, func(s *Sample) uint64 { return s.TCP.SegsOut }},
	{"shardnet_tcp_data_segments_out_total", typeCounter, "TCP segments sent with payload, retransmissions included.", partUser, func(s *Sample) uint64 { return s.TCP.DataSegsOut }},
	{"shardnet_tcp_retransmits_total", typeCounter, "TCP segments retransmitted, any cause.", partUser, func(s *Sample) uint64 { return s.TCP.Retransmits }},
	{"shardnet_tcp_fast_recoveries_total", typeCounter, "Loss recoveries entered on duplicate ACKs or SACK (RFC 5681, 6675).", partUser, func(s *Sample) uint64 { return s.TCP.FastRetransmits }},
	{"shardnet_tcp_rto_total", typeCounter, "Retransmission timeouts.", partUser, func(s *Sample) uint64 { return s.TCP.RTOs }},
	{"shardnet_tcp_tail_loss_probes_total", typeCounter, "Tail loss probes sent (RFC 8985).", partUser, func(s *Sample) uint64 { return s.TCP.TLPs }},
	{"shardnet_tcp_lost_retransmits_total", typeCounter, "SACK recovery passes restarted because a retransmission was lost.", partUser, func(s *Sample) uint64 { return s.TCP.LostRetransmits }},
	{"shardnet_tcp_active_opens_total", typeCounter, "Connections opened by Dial.", partUser, func(s *Sample) uint64 { return s.TCP.ActiveOpens }},
	{"shardnet_tcp_passive_opens_total", typeCounter, "Connections created from a listener.", partUser, func(s *Sample) uint64 { return s.TCP.PassiveOpens }},
	{"shardnet_tcp_established_total", typeCounter, "Connections that reached ESTABLISHED.", partUser, func(s *Sample) uint64 { return s.TCP.Established }},
	{"shardnet_tcp_resets_sent_total", typeCounter, "RST segments sent.", partUser, func(s *Sample) uint64 { return s.TCP.ResetsSent }},
	{"shardnet_tcp_resets_received_total", typeCounter, "RST segments that closed a connection.", partUser, func(s *Sample) uint64 { return s.TCP.ResetsRecv }},
	{"shardnet_tcp_challenge_acks_total", typeCounter, "Challenge ACKs sent (RFC 5961).", partUser, func(s *Sample) uint64 { return s.TCP.ChallengeAcks }},
	{"shardnet_tcp_syncookies_sent_total", typeCounter, "SYN-ACKs sent with a SYN cookie.", partUser, func(s *Sample) uint64 { return s.TCP.SynCookiesSent }},
	{"shardnet_tcp_syncookies_valid_total", typeCounter, "ACKs whose SYN cookie verified.", partUser, func(s *Sample) uint64 { return s.TCP.SynCookiesOK }},
	{"shardnet_tcp_syncookies_invalid_total", typeCounter, "ACKs whose SYN cookie did not verify.", partUser, func(s *Sample) uint64 { return s.TCP.SynCookiesBad }},
	{"shardnet_tcp_out_of_order_segments_total", typeCounter, "Segments queued out of order.", partUser, func(s *Sample) uint64 { return s.TCP.OOOSegs }},
	{"shardnet_tcp_delayed_acks_total", typeCounter, "ACKs sent by the delayed-ACK timer.", partUser, func(s *Sample) uint64 { return s.TCP.DelayedAcks }},
	{"shardnet_tcp_window_probes_total", typeCounter, "Zero-window probes sent.", partUser, func(s *Sample) uint64 { return s.TCP.WindowProbes }},
	{"shardnet_tcp_keepalive_probes_total", typeCounter, "Keepalive probes sent.", partUser, func(s *Sample) uint64 { return s.TCP.KeepaliveProbes }},
	{"shardnet_tcp_connection_timeouts_total", typeCounter, "Connections closed by retransmission, keepalive or SYN timeout.", partUser, func(s *Sample) uint64 { return s.TCP.Timeouts }},
	{"shardnet_tcp_time_wait_recycled_total", typeCounter, "TIME-WAIT connections ended early to free a slot.", partUser, func(s *Sample) uint64 { return s.TCP.TimeWaitRecycled }},
	{"shardnet_tcp_no_buf_total", typeCounter, "Segments not sent because the slab was empty.", partUser, func(s *Sample) uint64 { return s.TCP.NoBuf }},
	{"shardnet_tcp_buffer_bytes", typeGauge, "Send and receive buffer bytes connections hold now.", partUser, func(s *Sample) uint64 { return s.TCP.BufBytes }},
	{"shardnet_tcp_buffer_bytes_high", typeGauge, "Most buffer bytes connections held at once.", partUser, func(s *Sample) uint64 { return s.TCP.BufBytesHigh }},
	{"shardnet_tcp_buffer_free_bytes", typeGauge, "Buffer bytes kept on the free lists for reuse.", partUser, func(s *Sample) uint64 { return s.TCP.BufFreeBytes }},
	{"shardnet_tcp_buffer_refusals_total", typeCounter, "Buffer requests refused by the shard's byte budget (short writes, dropped data).", partUser, func(s *Sample) uint64 { return s.TCP.BufRefusals }},
	{"shardnet_tcp_connection_capacity", typeGauge, "Size of the shard's connection pool.", partUser, func(s *Sample) uint64 { return nonNeg(s.Census.Capacity) }},
	{"shardnet_tcp_rtt_connections", typeGauge, "ESTABLISHED connections with an RTT estimate (the SRTT summary covers them).", partUser, func(s *Sample) uint64 { return nonNeg(s.Census.RTTConns) }},

	// HTTP.
	{"shardnet_http_connections_opened_total", typeCounter, "HTTP connections opened.", partAll, func(s *Sample) uint64 { return s.HTTP.ConnsOpened }},
	{"shardnet_http_connections_closed_total", typeCounter, "HTTP connections closed.", partAll, func(s *Sample) uint64 { return s.HTTP.ConnsClosed }},
	{"shardnet_http_connections_active", typeGauge, "HTTP connections open now.", partAll, func(s *Sample) uint64 { return nonNeg(s.HTTP.ConnsActive) }},
	{"shardnet_http_requests_total", typeCounter, "HTTP requests that reached a handler.", partAll, func(s *Sample) uint64 { return s.HTTP.Requests }},
	{"shardnet_http_linger_aborts_total", typeCounter, "Closing connections reset after the linger timeout.", partAll, func(s *Sample) uint64 { return s.HTTP.LingerAborts }},
	{"shardnet_http_continues_total", typeCounter, "100 Continue responses sent.", partAll, func(s *Sample) uint64 { return s.HTTP.Continues }},
	{"shardnet_http_pipelined_max", typeGauge, "Most requests answered in one batch of input.", partAll, func(s *Sample) uint64 { return nonNeg(s.HTTP.PipelinedMax) }},
	{"shardnet_http_paused_total", typeCounter, "Times input was left unconsumed for back-pressure.", partAll, func(s *Sample) uint64 { return s.HTTP.Paused }},
	{"shardnet_http_file_errors_total", typeCounter, "Response bodies from files that failed or came up short.", partAll, func(s *Sample) uint64 { return s.HTTP.FileErrors }},
	{"shardnet_http_file_reads_total", typeCounter, "File body chunks read off the shard's thread.", partAll, func(s *Sample) uint64 { return s.HTTP.FileReads }},
	{"shardnet_http_file_read_waits_total", typeCounter, "Times a connection waited for a free file chunk buffer.", partAll, func(s *Sample) uint64 { return s.HTTP.FileReadWaits }},
	{"shardnet_http_bad_header_values_total", typeCounter, "Response headers dropped for CR, LF or a bad name.", partAll, func(s *Sample) uint64 { return s.HTTP.BadHeaderValues }},
	{"shardnet_http_incomplete_at_eof_total", typeCounter, "Connections the peer closed in the middle of a request.", partAll, func(s *Sample) uint64 { return s.HTTP.IncompleteAtEOF }},

	// Kernel-stack shards.
	{"shardnet_kernel_accepted_total", typeCounter, "Kernel-stack connections accepted and served.", partKernel, func(s *Sample) uint64 { return s.Kernel.Accepted }},
	{"shardnet_kernel_refused_total", typeCounter, "Kernel-stack connections accepted over the limit and closed at once.", partKernel, func(s *Sample) uint64 { return s.Kernel.Refused }},
	{"shardnet_kernel_accept_errors_total", typeCounter, "accept4 or connection set-up failures.", partKernel, func(s *Sample) uint64 { return s.Kernel.AcceptErrors }},
	{"shardnet_kernel_closed_total", typeCounter, "Kernel-stack connections ended.", partKernel, func(s *Sample) uint64 { return s.Kernel.Closed }},
	{"shardnet_kernel_resets_total", typeCounter, "Kernel-stack connections ended by a reset or socket error.", partKernel, func(s *Sample) uint64 { return s.Kernel.Resets }},
	{"shardnet_kernel_aborted_total", typeCounter, "Kernel-stack connections ended by Abort or shutdown.", partKernel, func(s *Sample) uint64 { return s.Kernel.Aborted }},
	{"shardnet_kernel_connections_open", typeGauge, "Kernel-stack connections open now.", partKernel, func(s *Sample) uint64 { return nonNeg(s.Kernel.Open) }},
	{"shardnet_kernel_rx_bytes_total", typeCounter, "Bytes read from kernel sockets.", partKernel, func(s *Sample) uint64 { return s.Kernel.BytesIn }},
	{"shardnet_kernel_tx_bytes_total", typeCounter, "Bytes written to kernel sockets.", partKernel, func(s *Sample) uint64 { return s.Kernel.BytesOut }},
	{"shardnet_kernel_reads_total", typeCounter, "read(2) calls.", partKernel, func(s *Sample) uint64 { return s.Kernel.Reads }},
	{"shardnet_kernel_writes_total", typeCounter, "write(2) and writev(2) calls.", partKernel, func(s *Sample) uint64 { return s.Kernel.Writes }},
	{"shardnet_kernel_epoll_waits_total", typeCounter, "epoll_wait(2) calls.", partKernel, func(s *Sample) uint64 { return s.Kernel.EpollWaits }},
	{"shardnet_kernel_loop_iterations_total", typeCounter, "Kernel-stack loop iterations.", partKernel, func(s *Sample) uint64 { return s.Kernel.Iterations }},
	{"shardnet_kernel_loop_sleeps_total", typeCounter, "Blocking epoll_waits.", partKernel, func(s *Sample) uint64 { return s.Kernel.Sleeps }},
	{"shardnet_kernel_loop_timers_total", typeCounter, "Kernel-stack timer callbacks fired.", partKernel, func(s *Sample) uint64 { return s.Kernel.Timers }},
	{"shardnet_kernel_loop_messages_total", typeCounter, "Kernel-stack inbox functions run.", partKernel, func(s *Sample) uint64 { return s.Kernel.Messages }},
}

// httpClasses labels http.Stats.Status by index.
var httpClasses = [len(http.Stats{}.Status)]string{"invalid", "1xx", "2xx", "3xx", "4xx", "5xx"}

// ErrDuplicateShard reports two samples with the same Shard: their
// series would collide.
var ErrDuplicateShard = fmt.Errorf("metrics: two samples for one shard")

// WriteText writes every family in Prometheus text exposition format
// (version 0.0.4): # HELP, # TYPE, one line per shard (label shard="i")
// and per reason/state/status class where relevant. Counters end in
// _total. A family that applies to none of the samples is left out; the
// SRTT summary is left out for a shard with no RTT estimate. Samples are
// written in the order given, and no two may have the same Shard. The
// text is built in memory and written with one call to w.
func WriteText(w io.Writer, samples []Sample) error {
	for i := range samples {
		for j := i + 1; j < len(samples); j++ {
			if samples[i].Shard == samples[j].Shard {
				return fmt.Errorf("%w: shard %d", ErrDuplicateShard, samples[i].Shard)
			}
		}
	}
	t := textWriter{b: make([]byte, 0, 16<<10+len(samples)*12<<10)}

	t.family("shardnet_shard_info", typeGauge, "Constant 1 per shard, labelled with its CPU and driver.")
	for i := range samples {
		s := &samples[i]
		t.start(s.Shard)
		t.label("cpu", strconv.Itoa(s.CPU))
		t.label("driver", s.Driver)
		t.uint(1)
	}

	for _, f := range scalars {
		t.family(f.name, f.typ, f.help)
		for i := range samples {
			if s := &samples[i]; f.part.has(s) {
				t.start(s.Shard)
				t.uint(f.get(s))
			}
		}
	}

	t.family("shardnet_ip_drops_total", typeCounter, "Frames and packets the IP layer dropped, by reason.")
	for i := range samples {
		if s := &samples[i]; partUser.has(s) {
			for r, n := range s.IP.Drops {
				t.start(s.Shard)
				t.label("reason", ip.DropReason(r).String())
				t.uint(n)
			}
		}
	}
	t.family("shardnet_tcp_drops_total", typeCounter, "TCP segments dropped, by reason.")
	for i := range samples {
		if s := &samples[i]; partUser.has(s) {
			for r, n := range s.TCP.Drops {
				t.start(s.Shard)
				t.label("reason", tcp.DropReason(r).String())
				t.uint(n)
			}
		}
	}
	t.family("shardnet_tcp_connections", typeGauge, "TCP connections by state (LISTEN counts listening ports).")
	for i := range samples {
		if s := &samples[i]; partUser.has(s) {
			for st := tcp.StateListen; int(st) < tcp.NumStates; st++ {
				t.start(s.Shard)
				t.label("state", st.String())
				t.uint(nonNeg(s.Census.ByState[st]))
			}
		}
	}
	t.family("shardnet_tcp_srtt_seconds", typeGauge, "Smoothed RTT of the ESTABLISHED connections with an estimate: mean, min and max.")
	for i := range samples {
		s := &samples[i]
		if !partUser.has(s) || s.Census.RTTConns <= 0 {
			continue
		}
		for _, v := range [...]struct {
			stat string
			ns   int64
		}{{"mean", s.Census.SRTTMean}, {"min", s.Census.SRTTMin}, {"max", s.Census.SRTTMax}} {
			t.start(s.Shard)
			t.label("stat", v.stat)
			t.float(float64(v.ns) / 1e9)
		}
	}

	t.family("shardnet_http_responses_total", typeCounter, "HTTP responses by status class (invalid: a code outside 100-599).")
	for i := range samples {
		s := &samples[i]
		for c, n := range s.HTTP.Status {
			t.start(s.Shard)
			t.label("class", httpClasses[c])
			t.uint(n)
		}
	}
	t.family("shardnet_http_parse_errors_total", typeCounter, "HTTP requests rejected before a handler ran, by reason.")
	for i := range samples {
		s := &samples[i]
		for r, n := range s.HTTP.ParseErrors {
			if http.ParseError(r) == http.ErrNone {
				continue
			}
			t.start(s.Shard)
			t.label("reason", http.ParseError(r).String())
			t.uint(n)
		}
	}
	t.family("shardnet_http_timeouts_total", typeCounter, "HTTP connections timed out, by what they were waiting for.")
	for i := range samples {
		s := &samples[i]
		for _, v := range [...]struct {
			kind string
			n    uint64
		}{{"header", s.HTTP.HeaderTimeouts}, {"idle", s.HTTP.IdleTimeouts}, {"body", s.HTTP.BodyTimeouts}, {"write", s.HTTP.WriteTimeouts}} {
			t.start(s.Shard)
			t.label("kind", v.kind)
			t.uint(v.n)
		}
	}

	_, err := w.Write(t.b)
	return err
}

// textWriter builds exposition text. family records a family whose
// # HELP and # TYPE lines are written before its first series, so a
// family with no series leaves no trace.
type textWriter struct {
	b               []byte
	name, typ, help string
	pending         bool
}

func (t *textWriter) family(name, typ, help string) {
	t.name, t.typ, t.help, t.pending = name, typ, help, true
}

// start begins a series line: the family's header if not yet written,
// the name and the shard label. label adds labels; uint or float ends it.
func (t *textWriter) start(shard int) {
	if t.pending {
		t.pending = false
		t.b = append(t.b, "# HELP "...)
		t.b = append(t.b, t.name...)
		t.b = append(t.b, ' ')
		t.b = appendEscaped(t.b, t.help, false)
		t.b = append(t.b, "\n# TYPE "...)
		t.b = append(t.b, t.name...)
		t.b = append(t.b, ' ')
		t.b = append(t.b, t.typ...)
		t.b = append(t.b, '\n')
	}
	t.b = append(t.b, t.name...)
	t.b = append(t.b, `{shard="`...)
	t.b = strconv.AppendInt(t.b, int64(shard), 10)
	t.b = append(t.b, '"')
}

func (t *textWriter) label(name, value string) {
	t.b = append(t.b, ',')
	t.b = append(t.b, name...)
	t.b = append(t.b, `="`...)
	t.b = appendEscaped(t.b, value, true)
	t.b = append(t.b, '"')
}

func (t *textWriter) uint(v uint64) {
	t.b = append(t.b, "} "...)
	t.b = strconv.AppendUint(t.b, v, 10)
	t.b = append(t.b, '\n')
}

func (t *textWriter) float(v float64) {
	t.b = append(t.b, "} "...)
	t.b = appendFloat(t.b, v)
	t.b = append(t.b, '\n')
}

// appendFloat writes v as the format's float: Go's shortest 'g' form, or
// NaN, +Inf, -Inf.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped escapes s for the text format: in label values a
// backslash, double quote and line feed become \\, \" and \n; in HELP
// text only the backslash and the line feed are escaped. Bytes that are
// not UTF-8 become U+FFFD, since the format is UTF-8.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
		i++
	}
	return b
}
