package tcp_test

import (
	"encoding/binary"
	"testing"

	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/tcp/tcptest"
	"github.com/shardnet/shardnet/wire"
)

// FuzzDeliver feeds arbitrary segments (checksum marked verified) to a
// stack with a listener and an established connection whose sequence
// numbers the fuzzer knows (the segment's seq/ack fields are taken
// relative to them when the first byte says so). Nothing may panic, and
// the harness fails the test if a frame leaks.
func FuzzDeliver(f *testing.F) {
	seed := func(flags wire.TCPFlags, seq, ack uint32, payload string, opts wire.TCPOptions) []byte {
		ol := opts.EncodedLen()
		b := make([]byte, 20+ol+len(payload))
		t := wire.TCP(b)
		t.Encode(&wire.TCPFields{SrcPort: tcptest.RemotePort, DstPort: tcptest.LocalPort, Seq: wire.Seq(seq), Ack: wire.Seq(ack), Flags: flags, Window: 1000, OptionsLen: ol})
		wire.EncodeTCPOptions(b[20:], &opts)
		copy(b[20+ol:], payload)
		return append([]byte{1}, b...)
	}
	f.Add(seed(wire.TCPFlagACK, 0, 0, "hello", wire.TCPOptions{}))
	f.Add(seed(wire.TCPFlagACK|wire.TCPFlagFIN, 0, 0, "", wire.TCPOptions{}))
	f.Add(seed(wire.TCPFlagRST, 0, 0, "", wire.TCPOptions{}))
	f.Add(seed(wire.TCPFlagSYN, 0, 0, "", wire.TCPOptions{HasMSS: true, MSS: 1}))
	f.Add(seed(wire.TCPFlagACK, 10, 0, "x", wire.TCPOptions{NumSACK: 2, SACK: [4]wire.SACKBlock{{Start: 1, End: 5}, {Start: 7, End: 100}}}))
	f.Add(seed(wire.TCPFlagACK, 0, 3, "", wire.TCPOptions{HasTimestamps: true, TSVal: 1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		h := tcptest.New(t, tcp.Config{SynBacklog: 1, ReassemblySegs: 4})
		rec := &tcptest.Recorder{}
		h.Stack.Listen(tcptest.LocalPort, rec)
		h.Send(tcptest.Seg{Seq: 1000, Flags: wire.TCPFlagSYN, Opts: tcptest.SynOpts(1460, 7, 5)})
		g := h.Expect(t, "SYN-ACK", tcptest.Flags(wire.TCPFlagSYN|wire.TCPFlagACK))
		h.Send(tcptest.Seg{Seq: 1001, Ack: g.Seq + 1, Flags: wire.TCPFlagACK, Opts: wire.TCPOptions{HasTimestamps: true, TSVal: 6, TSEcr: g.Opts.TSVal}})
		if rec.Conn != nil {
			rec.Conn.Write([]byte("some data to retransmit"), h.Now)
		}
		mode, seg := data[0], data[1:]
		for i := 0; i < 3 && len(seg) > 0; i++ {
			p := h.Slab.Alloc()
			b := p.Append(len(seg))
			copy(b, seg)
			if mode&1 != 0 && len(b) >= 12 {
				// Relative sequence numbers: land near the connection's window.
				binary.BigEndian.PutUint32(b[4:], 1001+binary.BigEndian.Uint32(b[4:])%4096)
				binary.BigEndian.PutUint32(b[8:], uint32(g.Seq)+binary.BigEndian.Uint32(b[8:])%64)
			}
			if mode&2 != 0 && len(b) >= 4 {
				binary.BigEndian.PutUint16(b[0:], tcptest.RemotePort)
				binary.BigEndian.PutUint16(b[2:], tcptest.LocalPort)
			}
			p.Meta.CsumVerified = true
			h.Stack.Deliver(p, h.Remote, tcptest.LocalAddr, h.Now)
			h.Drain()
			h.Advance(int64(mode) * 10 * tcptest.Millisecond)
			h.Drain()
		}
	})
}
