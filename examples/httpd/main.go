// Command httpd is shardnet's server program. It brings up the user-space
// stack on a TAP device — one pinned shard per queue — and answers ARP and
// ping on its address. (HTTP itself arrives with the http package.)
//
//	sudo httpd -iface shn0 -addr 198.18.0.2/24 -host-addr 198.18.0.1/24
//	ping 198.18.0.2
package main

import (
	"flag"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/shardnet/shardnet/examples/internal/app"
)

func main() {
	var f app.Flags
	f.Register(flag.CommandLine)
	logLevel := zap.LevelFlag("log-level", zap.InfoLevel, "log level: debug, info, warn, error")
	flag.Parse()

	log, err := app.NewLogger(*logLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpd:", err)
		os.Exit(1)
	}
	defer log.Sync()

	st, err := app.Start(&f, log, nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpd:", err)
		os.Exit(1)
	}
	st.Banner(os.Stdout, "stack up", "ping "+st.Addr().String())
	runErr := st.WaitSignal()
	if err := st.Stop(os.Stdout); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "httpd:", runErr)
		os.Exit(1)
	}
}
