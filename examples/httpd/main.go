// Command httpd is shardnet's HTTP/1.1 server: a static site from -root and
// a TechEmpower-style /plaintext, served by one pinned shard per queue on
// shardnet's user-space stack (TAP or AF_XDP), or — the same code — on the
// kernel's TCP stack for comparison. SIGINT or SIGTERM drains it (see
// shardnet.Stack.Stop) and it exits with status 0; -admin serves
// Prometheus metrics and pprof on the kernel's stack.
//
//	sudo httpd -driver tap -addr 198.18.0.2/24 -host-addr 198.18.0.1/24 -admin 127.0.0.1:9090
//	curl http://198.18.0.2:8080/
//	curl http://127.0.0.1:9090/metrics
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/shardnet/shardnet/examples/internal/app"
	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/http/static"
)

func main() {
	var f app.Flags
	f.Register(flag.CommandLine)
	port := flag.Int("port", 8080, "TCP port to serve HTTP on")
	root := flag.String("root", "examples/httpd/www", "directory to serve")
	flag.Parse()
	if *port < 1 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "httpd: -port %d: want 1..65535\n", *port)
		os.Exit(2)
	}
	st, err := f.New()
	if err != nil {
		app.Fail("httpd", err)
	}
	files, err := static.New(static.Config{Root: *root})
	if err != nil {
		fmt.Fprintf(os.Stderr, "httpd: -root %s: %v\n", *root, err)
		os.Exit(1)
	}
	// One router and one file cache, read-only, shared by every shard's
	// server; each shard has its own Server (connections, buffers, stats).
	var router http.Router
	router.Handle("/plaintext", http.Plaintext)
	router.HandlePrefix("/", files.Serve)
	if err := st.HandleHTTP(uint16(*port), http.Config{Router: &router}); err != nil {
		app.Fail("httpd", err)
	}
	url := fmt.Sprintf("http://%s:%d/", st.Addr(), *port)
	code := app.Run(st, os.Stdout, f.DrainTimeout, "serving "+*root, "curl "+url+"  or open "+url+" in a browser")
	files.Close()
	os.Exit(code)
}
