// Command httpd is shardnet's HTTP/1.1 server: a static site from -root and
// a TechEmpower-style /plaintext, served by one pinned shard per queue on
// shardnet's user-space stack (TAP or AF_XDP), or — the same code — on the
// kernel's TCP stack for comparison.
//
//	sudo httpd -driver tap -addr 198.18.0.2/24 -host-addr 198.18.0.1/24
//	curl http://198.18.0.2:8080/
package main

import (
	"flag"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/shardnet/shardnet/examples/internal/app"
	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/http/static"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
	"github.com/shardnet/shardnet/tcp"
)

func main() {
	var f app.Flags
	f.Register(flag.CommandLine)
	port := flag.Int("port", 8080, "TCP port to serve HTTP on")
	root := flag.String("root", "examples/httpd/www", "directory to serve")
	logLevel := zap.LevelFlag("log-level", zap.InfoLevel, "log level: debug, info, warn, error")
	flag.Parse()
	if *port < 1 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "httpd: -port %d: want 1..65535\n", *port)
		os.Exit(2)
	}
	log, err := app.NewLogger(*logLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpd:", err)
		os.Exit(1)
	}
	defer log.Sync()

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

	st, err := app.Start(&f, log, app.Options{TCP: &tcp.Config{}, Serve: func(s *shard.Shard, h stream.Host) error {
		srv, err := http.NewServer(http.Config{Router: &router}, h)
		if err != nil {
			return err
		}
		return h.Listen(uint16(*port), srv)
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpd:", err)
		os.Exit(1)
	}
	url := fmt.Sprintf("http://%s:%d/", st.Addr(), *port)
	st.Banner(os.Stdout, "serving "+*root, "curl "+url+"  or open "+url+" in a browser")
	runErr := st.WaitSignal()
	if err := st.Stop(os.Stdout); err != nil && runErr == nil {
		runErr = err
	}
	files.Close()
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "httpd:", runErr)
		os.Exit(1)
	}
}
