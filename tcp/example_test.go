package tcp_test

import (
	"fmt"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/tcp"
)

// echo writes back whatever it reads and closes when the peer does.
type echo struct{}

func (echo) OnOpen(c *tcp.Conn, now int64) {}
func (echo) OnData(c *tcp.Conn, d []byte, now int64) int {
	return c.Write(d, now) // unwritten bytes stay unconsumed: back-pressure
}
func (echo) OnWritable(c *tcp.Conn, now int64)                 { c.Resume(now) }
func (echo) OnPeerClosed(c *tcp.Conn, now int64)               { c.Close(now) }
func (echo) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) {}

// client sends a greeting and prints the echo.
type client struct{ got []byte }

func (cl *client) OnOpen(c *tcp.Conn, now int64) { c.Write([]byte("hello, shard"), now); c.Close(now) }
func (cl *client) OnData(c *tcp.Conn, d []byte, now int64) int {
	cl.got = append(cl.got, d...)
	return len(d)
}
func (cl *client) OnWritable(c *tcp.Conn, now int64)   {}
func (cl *client) OnPeerClosed(c *tcp.Conn, now int64) {}
func (cl *client) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) {
	fmt.Printf("echoed %q, closed: %v\n", cl.got, r)
}

// queue is a toy IP layer: it queues segments for the other stack.
type queue struct {
	pkts []*buf.Packet
	dsts [][4]byte
}

func (q *queue) Output(p *buf.Packet, dst [4]byte, proto uint8, now int64) {
	q.pkts, q.dsts = append(q.pkts, p), append(q.dsts, dst)
}

// Two stacks in one process: a server listening with an echo handler and
// a client dialing it. In a shard, ip.Stack is the Output and
// ipStack.Register(wire.ProtoTCP, stack) routes segments to Deliver.
func Example() {
	slab, _ := buf.NewSlab(256, buf.DefaultFrameSize, buf.DefaultHeadroom)
	wheel := timer.NewWheel(1e6, 1024, 0)
	q := &queue{}
	srvAddr, cliAddr := [4]byte{198, 18, 0, 1}, [4]byte{198, 18, 0, 2}
	srv, _ := tcp.New(tcp.Config{Addr: srvAddr}, slab, q, wheel)
	cli, _ := tcp.New(tcp.Config{Addr: cliAddr}, slab, q, wheel)
	srv.Listen(7, echo{})
	now := int64(0)
	cli.Dial(srvAddr, 7, &client{}, now)
	for len(q.pkts) > 0 {
		p, dst := q.pkts[0], q.dsts[0]
		q.pkts, q.dsts = q.pkts[1:], q.dsts[1:]
		if dst == srvAddr {
			srv.Deliver(p, cliAddr, srvAddr, now)
		} else {
			cli.Deliver(p, srvAddr, cliAddr, now)
		}
		if len(q.pkts) == 0 { // let delayed ACKs go
			now += 50e6
			wheel.Advance(now)
		}
	}
	// Output: echoed "hello, shard", closed: normal
}
