// Command fasthttp is the fasthttp reference server for perf/: the same
// files as shardnet's httpd (fasthttp.FS, served from its in-memory cache)
// and the same /plaintext.
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	root := flag.String("root", "www", "directory to serve")
	flag.Parse()
	fs := &fasthttp.FS{Root: *root, IndexNames: []string{"index.html"}, AcceptByteRange: true}
	files := fs.NewRequestHandler()
	hello := []byte("Hello, World!")
	handler := func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/plaintext" {
			ctx.SetContentType("text/plain")
			ctx.Response.Header.Set("Server", "fasthttp")
			ctx.SetBody(hello)
			return
		}
		files(ctx)
	}
	s := &fasthttp.Server{Handler: handler, Name: "fasthttp"}
	log.Fatal(s.ListenAndServe(*addr))
}
