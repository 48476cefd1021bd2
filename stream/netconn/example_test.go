package netconn_test

import (
	"context"
	"io"
	"log"
	nethttp "net/http"

	shardnet "github.com/shardnet/shardnet"
	"github.com/shardnet/shardnet/stream/netconn"
)

// Serve a standard net/http handler over shardnet's TCP (the zero Config:
// TAP device shn0, the stack at 198.18.0.2/24). Each connection gets its
// own goroutine, as with the kernel's sockets, so the handler may block;
// it is slower than shardnet's native http.Server. Needs root.
func Example() {
	st, err := shardnet.New(shardnet.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ln := netconn.NewListener(8080, netconn.Config{})
	// Attach runs on every shard's thread as the stack starts.
	if err := st.Do(context.Background(), ln.Attach); err != nil {
		log.Fatal(err)
	}
	if err := st.Start(); err != nil {
		log.Fatal(err)
	}
	defer st.Stop(context.Background())

	mux := nethttp.NewServeMux()
	mux.HandleFunc("/hello", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, "Hello from net/http on shardnet\n")
	})
	srv := &nethttp.Server{Handler: mux}
	log.Print(srv.Serve(ln)) // until srv.Close or ln.Close
}
