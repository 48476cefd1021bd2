package shardnet

import (
	"testing"

	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/tcp/tcptest"
	"github.com/shardnet/shardnet/wire"
)

// open completes a handshake from rport and returns the connection's ISS.
func openConn(t *testing.T, h *tcptest.Harness, rport uint16) wire.Seq {
	t.Helper()
	h.Send(tcptest.Seg{SrcPort: rport, Seq: 1000, Flags: wire.TCPFlagSYN})
	sa := h.Expect(t, "SYN-ACK", tcptest.Flags(wire.TCPFlagSYN|wire.TCPFlagACK))
	h.Send(tcptest.Seg{SrcPort: rport, Seq: 1001, Ack: sa.Seq + 1, Flags: wire.TCPFlagACK})
	return sa.Seq
}

// TestDrainTCPContract checks what Stop relies on from shardnet's TCP:
// after Unlisten a SYN gets a RST and established connections go on; the
// drain check does not count TIME-WAIT; and Shutdown resets what is open
// but drops a TIME-WAIT connection without a RST.
func TestDrainTCPContract(t *testing.T) {
	h := tcptest.New(t, tcp.Config{MaxConns: 8})
	rec := &tcptest.Recorder{}
	if err := h.Stack.Listen(tcptest.LocalPort, rec); err != nil {
		t.Fatal(err)
	}
	openConn(t, h, 40001) // stays open
	iss := openConn(t, h, 40002)
	// We close 40002 first and the peer answers: TIME-WAIT here.
	rec.Conn.Close(h.Now)
	h.Expect(t, "FIN", tcptest.Flags(wire.TCPFlagFIN|wire.TCPFlagACK))
	h.Send(tcptest.Seg{SrcPort: 40002, Seq: 1001, Ack: iss + 2, Flags: wire.TCPFlagFIN | wire.TCPFlagACK})
	h.Expect(t, "ACK of the peer's FIN", tcptest.Flags(wire.TCPFlagACK))
	c := h.Stack.Census()
	if c.ByState[tcp.StateTimeWait] != 1 || c.ByState[tcp.StateEstablished] != 1 {
		t.Fatalf("census %v: want one ESTABLISHED and one TIME-WAIT", c.ByState)
	}
	if n := liveConns(c); n != 1 {
		t.Fatalf("live connections = %d, want 1 (TIME-WAIT does not count)", n)
	}

	if err := h.Stack.Unlisten(tcptest.LocalPort); err != nil {
		t.Fatal(err)
	}
	h.Send(tcptest.Seg{SrcPort: 40003, Seq: 5000, Flags: wire.TCPFlagSYN})
	h.Expect(t, "RST to a SYN after Unlisten", tcptest.Flags(wire.TCPFlagRST|wire.TCPFlagACK))
	if c := h.Stack.Census(); c.ByState[tcp.StateEstablished] != 1 || c.ByState[tcp.StateListen] != 0 {
		t.Fatalf("after Unlisten: census %v, want the established connection kept and no listener", c.ByState)
	}

	h.Stack.Shutdown(h.Now)
	var rsts []uint16
	for _, g := range h.Drain() {
		if g.Flags&wire.TCPFlagRST != 0 {
			rsts = append(rsts, g.DstPort)
		}
	}
	if len(rsts) != 1 || rsts[0] != 40001 {
		t.Fatalf("Shutdown sent RSTs to ports %v, want only 40001 (TIME-WAIT is dropped silently)", rsts)
	}
	if c := h.Stack.Census(); liveConns(c) != 0 || c.ByState[tcp.StateTimeWait] != 0 {
		t.Fatalf("after Shutdown: census %v", c.ByState)
	}
}
