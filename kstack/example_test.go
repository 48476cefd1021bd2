package kstack_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/shardnet/shardnet/kstack"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
)

// upper answers each connection's bytes in upper case and closes when the
// peer has.
type upper struct{}

func (upper) OnOpen(c stream.Conn, now int64) {}
func (upper) OnData(c stream.Conn, b []byte, now int64) int {
	var out [512]byte
	n := min(len(b), len(out), c.WriteSpace())
	for i := range n {
		out[i] = b[i]
		if 'a' <= b[i] && b[i] <= 'z' {
			out[i] -= 'a' - 'A'
		}
	}
	return c.Write(out[:n], now)
}
func (upper) OnWritable(c stream.Conn, now int64)                    { c.Resume(now) }
func (upper) OnPeerClosed(c stream.Conn, now int64)                  { c.Close(now) }
func (upper) OnClose(c stream.Conn, r stream.CloseReason, now int64) {}

// A server on the kernel's TCP: one pinned shard per CPU, each with its
// own SO_REUSEPORT listener on the same port.
func Example() {
	g, err := kstack.Start(kstack.Config{Addr: netip.MustParseAddrPort("127.0.0.1:0")},
		func(s *shard.Shard, h *kstack.Host) error { return h.Listen(0, upper{}) })
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Stop(ctx)
	}()

	c, err := net.Dial("tcp4", g.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write([]byte("hello, kernel"))
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	fmt.Printf("%s %v\n", b, err)
	// Output: HELLO, KERNEL <nil>
}
