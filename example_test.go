package shardnet_test

import (
	"context"
	"fmt"
	"log"
	nethttp "net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	shardnet "github.com/shardnet/shardnet"
	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/http/static"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
	"github.com/shardnet/shardnet/tcp"
)

// Serve a directory over a TAP device (the zero Config: shn0,
// 198.18.0.2/24, host side 198.18.0.1/24), with metrics and pprof on an
// admin listener, until SIGINT or SIGTERM; then drain for up to 10 s.
// Needs root (CAP_NET_ADMIN) to create the device.
func Example() {
	st, err := shardnet.New(shardnet.Config{}, shardnet.WithShards(2), shardnet.WithAdmin("127.0.0.1:9090"))
	if err != nil {
		log.Fatal(err) // says which field to change
	}
	files, err := static.New(static.Config{Root: "/srv/www"})
	if err != nil {
		log.Fatal(err)
	}
	defer files.Close()
	var router http.Router // shared, read-only, by every shard's server
	router.HandlePrefix("/", files.Serve)
	if err := st.HandleHTTP(8080, http.Config{Router: &router}); err != nil {
		log.Fatal(err)
	}
	if err := st.Start(); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-st.Done(): // a shard failed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.Stop(ctx); err != nil {
		log.Print(err)
	}
}

// A custom handler on the kernel's TCP stack: the same application code
// runs on shardnet's stack with another Driver.
func ExampleStack_HandleHTTP() {
	st, err := shardnet.New(shardnet.Config{Driver: shardnet.DriverKernel}, shardnet.WithAddr("127.0.0.1"), shardnet.WithShards(1))
	if err != nil {
		log.Fatal(err)
	}
	hello := func(c *http.Ctx) {
		if string(c.Path()) != "/hello" {
			c.Error(404)
			return
		}
		c.SetContentType("text/plain; charset=utf-8")
		c.WriteString("hello from shard code\n") // copied into the response: no allocation kept
	}
	if err := st.HandleHTTP(8080, http.Config{Handler: hello, IdleTimeout: int64(30 * time.Second)}); err != nil {
		log.Fatal(err)
	}
	if err := st.Start(); err != nil {
		log.Fatal(err)
	}
	defer st.Stop(context.Background())
}

// upper is a raw TCP service on the native stream API: it answers each
// byte in upper case. One value per shard; its callbacks run on that
// shard's thread and must not block.
type upper struct{ conns int }

func (u *upper) OnOpen(c stream.Conn, now int64) { u.conns++ }
func (u *upper) OnData(c stream.Conn, b []byte, now int64) int {
	var out [512]byte
	n := min(len(b), len(out), c.WriteSpace())
	for i, ch := range b[:n] {
		if ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		out[i] = ch
	}
	return c.Write(out[:n], now) // what is not consumed comes again
}
func (u *upper) OnWritable(c stream.Conn, now int64)                    { c.Resume(now) }
func (u *upper) OnPeerClosed(c stream.Conn, now int64)                  { c.Close(now) }
func (u *upper) OnClose(c stream.Conn, _ stream.CloseReason, now int64) { u.conns-- }

// Drain makes upper a shardnet.Drainer: Stop calls it on each shard. It
// has no request framing to finish, so it leaves the connections to end
// on their own (Stop aborts them when its context ends).
func (u *upper) Drain(now int64) {}

// A raw TCP service with HandleStream, TCP options, and Do to read
// shard-owned state on each shard's thread.
func ExampleStack_HandleStream() {
	st, err := shardnet.New(shardnet.Config{Congestion: "newreno", Keepalive: time.Minute},
		shardnet.WithShards(2), shardnet.WithTCP(func(c *tcp.Config) { c.SynBacklog = 512 }))
	if err != nil {
		log.Fatal(err)
	}
	handlers := make([]*upper, 2)
	if err := st.HandleStream(7000, func(shard int) stream.Handler {
		handlers[shard] = &upper{}
		return handlers[shard]
	}); err != nil {
		log.Fatal(err)
	}
	if err := st.Start(); err != nil {
		log.Fatal(err)
	}
	defer st.Stop(context.Background())

	open := make([]int, 2)
	err = st.Do(context.Background(), func(s *shard.Shard, h stream.Host) error {
		open[s.ID] = handlers[s.ID].conns // on the shard's own thread
		return nil
	})
	fmt.Println(open, err)
}

// Standard Go servers run unchanged on shardnet's stack through a
// net.Listener (the compatibility layer: slower than HandleHTTP, since
// bytes are copied between the shard and net/http's goroutines).
func ExampleStack_Listen() {
	st, err := shardnet.New(shardnet.Config{}, shardnet.WithShards(1))
	if err != nil {
		log.Fatal(err)
	}
	if err := st.Start(); err != nil {
		log.Fatal(err)
	}
	ln, err := st.Listen(8080)
	if err != nil {
		log.Fatal(err)
	}
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "hello from net/http on shardnet, %s\n", r.RemoteAddr)
	})}
	go srv.Serve(ln)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx) // closes its connections gracefully…
	st.Stop(ctx)      // …so the stack drains at once
}
