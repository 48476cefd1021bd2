package tcp_test

import (
	"testing"

	"github.com/shardnet/shardnet/tcp"
	"github.com/shardnet/shardnet/tcp/tcptest"
	"github.com/shardnet/shardnet/wire"
)

// censusOpen completes a passive open from remote port rport whose
// handshake ACK arrives rtt after the SYN-ACK (no timestamps, so the
// stack times the SYN-ACK itself and takes rtt as its first sample).
func censusOpen(t *testing.T, h *tcptest.Harness, rport uint16, rtt int64) {
	t.Helper()
	const irs = wire.Seq(5000)
	h.Send(tcptest.Seg{SrcPort: rport, Seq: irs, Flags: wire.TCPFlagSYN, Opts: wire.TCPOptions{HasMSS: true, MSS: 1460}})
	sa := h.Expect(t, "SYN-ACK", tcptest.Flags(wire.TCPFlagSYN|wire.TCPFlagACK), tcptest.Ack(irs+1))
	h.Advance(rtt)
	h.Send(tcptest.Seg{SrcPort: rport, Seq: irs + 1, Ack: sa.Seq + 1, Flags: wire.TCPFlagACK})
}

func TestCensus(t *testing.T) {
	h := tcptest.New(t, tcp.Config{MaxConns: 16})
	rec := &tcptest.Recorder{}
	c := h.Stack.Census()
	if c.Capacity != 16 || c.Free != 16 || c.RTTConns != 0 || c.ByState != [tcp.NumStates]int{} {
		t.Fatalf("empty stack: census %+v", c)
	}
	if err := h.Stack.Listen(tcptest.LocalPort, rec); err != nil {
		t.Fatal(err)
	}
	if err := h.Stack.Listen(8080, rec); err != nil {
		t.Fatal(err)
	}

	// A half-open connection: SYN-RECEIVED, no RTT yet.
	h.Send(tcptest.Seg{SrcPort: 41000, Seq: 1, Flags: wire.TCPFlagSYN})
	h.Expect(t, "SYN-ACK", tcptest.Flags(wire.TCPFlagSYN|wire.TCPFlagACK))

	// Two established connections with RTTs of 7 ms and 3 ms.
	censusOpen(t, h, 40001, 7*tcptest.Millisecond)
	censusOpen(t, h, 40002, 3*tcptest.Millisecond)
	// An active open waiting for its SYN-ACK.
	if _, err := h.Stack.Dial(tcptest.RemoteAddr, 9000, &tcptest.Recorder{}, h.Now); err != nil {
		t.Fatal(err)
	}
	h.Expect(t, "SYN of the dial", tcptest.Flags(wire.TCPFlagSYN))

	c = h.Stack.Census()
	want := [tcp.NumStates]int{}
	want[tcp.StateListen] = 2
	want[tcp.StateSynReceived] = 1
	want[tcp.StateEstablished] = 2
	want[tcp.StateSynSent] = 1
	if c.ByState != want {
		t.Errorf("ByState = %v, want %v", c.ByState, want)
	}
	if c.Capacity != 16 || c.Free != 12 {
		t.Errorf("Capacity, Free = %d, %d; want 16, 12", c.Capacity, c.Free)
	}
	if c.RTTConns != 2 || c.SRTTMin != 3*tcptest.Millisecond || c.SRTTMax != 7*tcptest.Millisecond || c.SRTTMean != 5*tcptest.Millisecond {
		t.Errorf("RTT summary = %d conns, mean %d min %d max %d; want 2, 5 ms, 3 ms, 7 ms",
			c.RTTConns, c.SRTTMean, c.SRTTMin, c.SRTTMax)
	}
	if n := h.Stack.Conns(); n != c.Capacity-c.Free {
		t.Errorf("Conns() = %d but census says %d in use", n, c.Capacity-c.Free)
	}

	// Closing one established connection moves it to FIN-WAIT-1 and out
	// of the RTT summary (which covers ESTABLISHED only).
	rec.Conn.Close(h.Now) // the most recent open: RTT 3 ms
	h.Expect(t, "FIN", tcptest.Flags(wire.TCPFlagFIN|wire.TCPFlagACK))
	c = h.Stack.Census()
	if c.ByState[tcp.StateEstablished] != 1 || c.ByState[tcp.StateFinWait1] != 1 {
		t.Errorf("after Close: ByState = %v, want 1 ESTABLISHED and 1 FIN-WAIT-1", c.ByState)
	}
	if c.RTTConns != 1 || c.SRTTMin != 7*tcptest.Millisecond || c.SRTTMax != c.SRTTMin || c.SRTTMean != c.SRTTMin {
		t.Errorf("after Close: RTT summary %+v, want one conn at 7 ms", c)
	}

	// Aborting everything empties it again.
	h.Stack.Shutdown(h.Now)
	h.Drain()
	c = h.Stack.Census()
	if c.Free != 16 || c.ByState[tcp.StateListen] != 2 || c.RTTConns != 0 {
		t.Errorf("after Shutdown: census %+v, want all slots free and 2 listeners", c)
	}
}

func TestCensusAllocs(t *testing.T) {
	h := tcptest.New(t, tcp.Config{MaxConns: 64})
	if err := h.Stack.Listen(tcptest.LocalPort, &tcptest.Recorder{}); err != nil {
		t.Fatal(err)
	}
	censusOpen(t, h, 40001, tcptest.Millisecond)
	var c tcp.Census
	if n := testing.AllocsPerRun(100, func() { c = h.Stack.Census() }); n != 0 {
		t.Errorf("Census allocates %.1f times per call, want 0", n)
	}
	if c.ByState[tcp.StateEstablished] != 1 {
		t.Errorf("ByState = %v, want one ESTABLISHED", c.ByState)
	}
}

// BenchmarkCensus measures the scrape-time walk of the pool: its cost is
// per slot, not per live connection.
func BenchmarkCensus(b *testing.B) {
	h := tcptest.New(b, tcp.Config{MaxConns: 65536})
	b.ReportAllocs()
	for b.Loop() {
		h.Stack.Census()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/65536, "ns/slot")
}
