package tcp

// DropReason says why the stack dropped a received segment. Every drop is
// counted under exactly one reason.
type DropReason uint8

const (
	DropBadHeader      DropReason = iota // truncated header, bad data offset, malformed options
	DropBadChecksum                      // TCP checksum wrong
	DropNotForUs                         // destination address is not ours
	DropNoListener                       // no connection or listener (RST sent unless the segment was a RST)
	DropOutOfWindow                      // unacceptable sequence number (ACK sent)
	DropPAWS                             // timestamp older than TS.Recent (RFC 7323 §5)
	DropChallengeAck                     // RST/SYN answered with a challenge ACK (RFC 5961)
	DropChallengeLimit                   // challenge ACK suppressed by the rate limit
	DropAckTooNew                        // acknowledges data never sent (ACK sent, RFC 5961 §5)
	DropAckTooOld                        // acknowledges below SND.UNA - MAX.SND.WND (RFC 5961 §5)
	DropNoAck                            // ACK bit off in a synchronized state
	DropBacklogFull                      // SYN with a full backlog and cookies disabled
	DropConnLimit                        // no free connection object
	DropCookieFailed                     // ACK to a listener whose SYN cookie does not verify
	DropBadSynAck                        // SYN-SENT: unacceptable ACK (RST sent) or neither SYN nor RST
	DropListenNoSyn                      // LISTEN: neither SYN nor a valid cookie ACK
	DropRstIgnored                       // RST that matched nothing or was not acceptable
	DropReassemblyFull                   // out-of-order segment over the reassembly bound
	DropRecvBufFull                      // in-window data that did not fit the receive buffer
	DropStateClosed                      // data after our side stopped accepting (e.g. after FIN)
	DropNoBuf                            // the slab had no frame to build a reply
	DropRstRateLimit                     // no connection or listener, and the RST was suppressed by the rate limit
	DropBufferLimit                      // in-window data not kept: the shard's buffer budget (Config.MaxBufferBytes) is spent
	DropRstTimeWait                      // RST in TIME-WAIT, ignored (RFC 1337); a peer closing an orphaned socket sends these too
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropBadHeader:      "bad_header",
	DropBadChecksum:    "bad_checksum",
	DropNotForUs:       "not_for_us",
	DropNoListener:     "no_listener",
	DropOutOfWindow:    "out_of_window",
	DropPAWS:           "paws",
	DropChallengeAck:   "challenge_ack",
	DropChallengeLimit: "challenge_ack_limited",
	DropAckTooNew:      "ack_too_new",
	DropAckTooOld:      "ack_too_old",
	DropNoAck:          "no_ack",
	DropBacklogFull:    "backlog_full",
	DropConnLimit:      "conn_limit",
	DropCookieFailed:   "syncookie_failed",
	DropBadSynAck:      "bad_synack",
	DropListenNoSyn:    "listen_no_syn",
	DropRstIgnored:     "rst_ignored",
	DropReassemblyFull: "reassembly_full",
	DropRecvBufFull:    "recvbuf_full",
	DropStateClosed:    "state_closed",
	DropNoBuf:          "no_buf",
	DropRstRateLimit:   "rst_ratelimited",
	DropBufferLimit:    "buffer_limit",
	DropRstTimeWait:    "rst_in_time_wait",
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

// Stats are a Stack's counters. They belong to the shard; copy them out
// from its thread (Stack.Stats).
type Stats struct {
	SegsIn           uint64 // segments handed to Deliver
	SegsOut          uint64 // segments handed to Output
	DataSegsOut      uint64 // segments carrying payload (including retransmissions)
	Retransmits      uint64 // segments retransmitted (any cause)
	FastRetransmits  uint64 // recoveries entered on duplicate ACKs / SACK loss (RFC 5681, 6675)
	RTOs             uint64 // retransmission timeouts
	TLPs             uint64 // tail loss probes sent (RFC 8985 §7)
	LostRetransmits  uint64 // SACK recovery passes restarted because a retransmission was lost
	ActiveOpens      uint64 // Dial
	PassiveOpens     uint64 // connections created from a listener (SYN or cookie)
	Established      uint64 // connections that reached ESTABLISHED
	ResetsSent       uint64
	ResetsRecv       uint64 // RSTs that closed a connection
	ChallengeAcks    uint64 // challenge ACKs sent (RFC 5961)
	SynCookiesSent   uint64
	SynCookiesOK     uint64
	SynCookiesBad    uint64
	OOOSegs          uint64 // segments queued out of order
	DelayedAcks      uint64 // ACKs sent by the delayed-ACK timer
	WindowProbes     uint64 // zero-window probes sent
	KeepaliveProbes  uint64
	Timeouts         uint64 // connections closed by retransmission/keepalive/SYN timeout
	ConnsOpen        uint64 // connection objects in use now (gauge)
	TimeWaitRecycled uint64 // TIME-WAIT connections ended early to free a slot for a new one
	NoBuf            uint64 // segments not sent because the slab was empty
	BufBytes         uint64 // send+receive buffer bytes connections hold now (gauge)
	BufBytesHigh     uint64 // high-water mark of BufBytes
	BufFreeBytes     uint64 // buffer bytes kept on the free lists for reuse (gauge)
	BufRefusals      uint64 // buffer requests refused for Config.MaxBufferBytes (short Write, data dropped)
	MemWaitWakeups   uint64 // OnWritable calls for connections whose Write was short for lack of budget
	Drops            [NumDropReasons]uint64
}

// Dropped returns the total number of dropped segments.
func (s *Stats) Dropped() uint64 {
	var n uint64
	for _, d := range s.Drops {
		n += d
	}
	return n
}
