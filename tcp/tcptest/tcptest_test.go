package tcptest

import (
	"testing"

	"github.com/shardnet/shardnet/wire"
)

// The checkers must fail on mismatches, or tests built on them prove
// nothing.
func TestChecksDetectMismatch(t *testing.T) {
	g := &Got{Seq: 10, Ack: 20, Flags: wire.TCPFlagACK, Window: 5, Payload: []byte("ab"),
		Opts: wire.TCPOptions{HasMSS: true, MSS: 1460, HasTimestamps: true, TSEcr: 7, NumSACK: 1, SACK: [4]wire.SACKBlock{{Start: 1, End: 2}}}}
	good := []Check{Flags(wire.TCPFlagACK), Seq(10), Ack(20), Window(5), Payload([]byte("ab")), PayloadLen(2), MSS(1460),
		WScale(-1), SACKPermitted(false), TSEcr(7), Timestamps(true), SACKBlocks(wire.SACKBlock{Start: 1, End: 2})}
	bad := []Check{Flags(wire.TCPFlagSYN), Seq(11), Ack(21), Window(6), Payload([]byte("ac")), PayloadLen(3), MSS(536),
		WScale(2), SACKPermitted(true), TSEcr(8), Timestamps(false), SACKBlocks()}
	for i, c := range good {
		if err := c(g); err != nil {
			t.Errorf("good check %d failed: %v", i, err)
		}
	}
	for i, c := range bad {
		if err := c(g); err == nil {
			t.Errorf("bad check %d passed", i)
		}
	}
}
