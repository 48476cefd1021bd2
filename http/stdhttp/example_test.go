package stdhttp_test

import (
	"io"
	"log"
	nethttp "net/http"

	shardnet "github.com/shardnet/shardnet"
	shttp "github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/http/stdhttp"
)

// Serve a net/http handler from shardnet's own HTTP server, next to a
// native route. The standard handler runs inline on the shard's thread:
// it must not block.
func Example() {
	st, err := shardnet.New(shardnet.Config{})
	if err != nil {
		log.Fatal(err)
	}
	std := nethttp.NewServeMux()
	std.HandleFunc("/status", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	var router shttp.Router
	router.Handle("/plaintext", shttp.Plaintext)   // native: no allocation
	router.HandlePrefix("/", stdhttp.Handler(std)) // standard library
	if err := st.HandleHTTP(8080, shttp.Config{Router: &router}); err != nil {
		log.Fatal(err)
	}
	if err := st.Start(); err != nil {
		log.Fatal(err)
	}
	select {}
}
