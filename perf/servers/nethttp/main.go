// Command nethttp is the Go net/http reference server for perf/: the same
// files as shardnet's httpd (http.FileServer) and the same /plaintext.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	root := flag.String("root", "www", "directory to serve")
	flag.Parse()
	mux := http.NewServeMux()
	hello := []byte("Hello, World!")
	mux.HandleFunc("/plaintext", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Server"] = []string{"nethttp"}
		w.Write(hello)
	})
	mux.Handle("/", http.FileServer(http.Dir(*root)))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
