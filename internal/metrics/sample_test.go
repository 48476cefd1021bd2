package metrics

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic/memwire"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/tcp"
)

// echoConn answers what it reads and keeps count.
type echoConn struct{ got int }

func (e *echoConn) OnOpen(*tcp.Conn, int64) {}
func (e *echoConn) OnData(c *tcp.Conn, b []byte, now int64) int {
	e.got += len(b)
	return c.Write(b, now)
}
func (e *echoConn) OnWritable(*tcp.Conn, int64)         {}
func (e *echoConn) OnPeerClosed(c *tcp.Conn, now int64) { c.Close(now) }
func (e *echoConn) OnClose(*tcp.Conn, tcp.CloseReason, int64) {
}

// client writes a request once open and counts the echo.
type client struct {
	c      *tcp.Conn
	echoed int
}

func (k *client) OnOpen(c *tcp.Conn, now int64) {
	k.c = c
	c.Write([]byte("GET /metrics-are-moving HTTP/1.1\r\n\r\n"), now)
}
func (k *client) OnData(_ *tcp.Conn, b []byte, _ int64) int { k.echoed += len(b); return len(b) }
func (k *client) OnWritable(*tcp.Conn, int64)               {}
func (k *client) OnPeerClosed(*tcp.Conn, int64)             {}
func (k *client) OnClose(*tcp.Conn, tcp.CloseReason, int64) { k.c = nil }

// TestFillLoopCountersMove runs two real shard loops over an in-process
// wire, one echoing TCP for the other, and checks that the counters
// FillLoop copies come out of WriteText and move with the traffic.
func TestFillLoopCountersMove(t *testing.T) {
	now := int64(1e12)
	clock := func() int64 { return now }
	var loops [2]*reactor.Loop
	var slabs [2]*buf.Slab
	for i := range slabs {
		s, err := buf.NewSlab(512, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			t.Fatal(err)
		}
		slabs[i] = s
		t.Cleanup(func() { // after the loops have closed
			if n := s.InUse(); n != 0 {
				t.Errorf("slab %d: %d frames leaked", i, n)
			}
			s.Close()
		})
	}
	qa, qb, err := memwire.New(memwire.Config{}, slabs[0], slabs[1])
	if err != nil {
		t.Fatal(err)
	}
	addrs := [2][4]byte{{198, 18, 7, 1}, {198, 18, 7, 2}}
	for i, q := range []*memwire.Queue{qa, qb} {
		loops[i], err = reactor.New(reactor.Config{Queue: q, Slab: slabs[i], Clock: clock, TCP: &tcp.Config{},
			IP: ip.Config{MAC: [6]byte{2, 0, 0, 0, 7, byte(i + 1)}, Addr: addrs[i], PrefixLen: 24}})
		if err != nil {
			t.Fatal(err)
		}
		loops[i].Start(now)
	}
	t.Cleanup(func() {
		loops[0].Close()
		loops[1].Close()
	})
	srv := &echoConn{}
	if err := loops[0].TCP().Listen(8080, srv); err != nil {
		t.Fatal(err)
	}
	sample := func() []byte {
		var ss [2]Sample
		for i, l := range loops {
			ss[i] = Sample{Shard: i, CPU: i, Driver: "memwire"}
			ss[i].FillLoop(l)
		}
		var b bytes.Buffer
		if err := WriteText(&b, ss[:]); err != nil {
			t.Fatal(err)
		}
		checkStrict(t, b.Bytes())
		return b.Bytes()
	}
	before := parseExpfmt(t, sample())

	cl := &client{}
	if _, err := loops[1].TCP().Dial(addrs[0], 8080, cl, now); err != nil {
		t.Fatal(err)
	}
	const want = len("GET /metrics-are-moving HTTP/1.1\r\n\r\n")
	for i := 0; i < 1000 && cl.echoed < want; i++ {
		now += 1_000_000 // 1 ms: the timestamp clock's tick, so RTTs are not 0
		loops[0].RunOnce(now)
		loops[1].RunOnce(now)
	}
	if cl.echoed != want || srv.got != want {
		t.Fatalf("echo did not complete: server read %d, client got %d of %d", srv.got, cl.echoed, want)
	}
	after := parseExpfmt(t, sample())

	for _, key := range []string{
		`shardnet_rx_packets_total{shard="0"}`,
		`shardnet_rx_bytes_total{shard="0"}`,
		`shardnet_tx_packets_total{shard="1"}`,
		`shardnet_loop_iterations_total{shard="0"}`,
		`shardnet_slab_allocs_total{shard="1"}`,
		`shardnet_ip_arp_requests_out_total{shard="1"}`,
		`shardnet_ip_arp_replies_out_total{shard="0"}`,
		`shardnet_ip_delivered_total{shard="0"}`,
		`shardnet_tcp_segments_in_total{shard="0"}`,
		`shardnet_tcp_segments_out_total{shard="1"}`,
	} {
		if b, a := before.get(t, key), after.get(t, key); !(a > b) {
			t.Errorf("%s did not move: %v before, %v after", key, b, a)
		}
	}
	for key, want := range map[string]float64{
		`shardnet_tcp_passive_opens_total{shard="0"}`:                  1,
		`shardnet_tcp_active_opens_total{shard="1"}`:                   1,
		`shardnet_tcp_connections{shard="0",state="ESTABLISHED"}`:      1,
		`shardnet_tcp_connections{shard="1",state="ESTABLISHED"}`:      1,
		`shardnet_tcp_connections{shard="0",state="LISTEN"}`:           1,
		`shardnet_tcp_rtt_connections{shard="1"}`:                      1,
		`shardnet_tcp_connection_capacity{shard="0"}`:                  float64(loops[0].TCP().Config().MaxConns),
		`shardnet_shard_info{cpu="1",driver="memwire",shard="1"}`:      1,
		`shardnet_ip_drops_total{reason="ipv4_checksum",shard="0"}`:    0,
		`shardnet_tcp_drops_total{reason="bad_checksum",shard="1"}`:    0,
		`shardnet_http_responses_total{class="2xx",shard="0"}`:         0,
		`shardnet_slab_frames_in_use{shard="0"}`:                       float64(slabs[0].InUse()),
		`shardnet_tcp_srtt_seconds{shard="1",stat="min"}`:              after.get(t, `shardnet_tcp_srtt_seconds{shard="1",stat="max"}`),
		fmt.Sprintf(`shardnet_rx_packets_total{shard="%d"}`, 1):        float64(qb.Stats().RxPackets),
		fmt.Sprintf(`shardnet_tcp_segments_in_total{shard="%d"}`, 0):   float64(loops[0].TCP().Stats().SegsIn),
		fmt.Sprintf(`shardnet_loop_iterations_total{shard="%d"}`, 1):   float64(loops[1].Stats().Iterations),
		fmt.Sprintf(`shardnet_ip_arp_replies_in_total{shard="%d"}`, 1): float64(loops[1].IP().Stats().ARPReplyIn),
	} {
		if got := after.get(t, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	// The client's SRTT is a few of our 1 ms steps.
	if v := after.get(t, `shardnet_tcp_srtt_seconds{shard="1",stat="mean"}`); v < 0.001 || v > 0.01 {
		t.Errorf("client SRTT %v s, want [1 ms, 10 ms]", v)
	}

	var s Sample
	if n := testing.AllocsPerRun(50, func() { s.FillLoop(loops[0]) }); n != 0 {
		t.Errorf("FillLoop allocates %.1f times per call, want 0", n)
	}
}
