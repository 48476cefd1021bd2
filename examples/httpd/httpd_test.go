package main

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/nstest"
)

// TestHTTPDAnswersPing runs the real binary the way `make run` does, inside
// a namespace, pings it, stops it with SIGINT and reads its exit report.
func TestHTTPDAnswersPing(t *testing.T) {
	nstest.RequireRoot(t, "ping")
	bin := nstest.Build(t, ".")
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			ns := nstest.New(t, "shn-httpd")
			subnet := 1 + rand.IntN(250)
			addr := fmt.Sprintf("198.18.%d.2", subnet)
			p := ns.Start(t, 60*time.Second, "try: ping "+addr, bin, "-iface", fmt.Sprintf("shn%x", rand.Uint32()),
				"-addr", addr+"/24", "-host-addr", fmt.Sprintf("198.18.%d.1/24", subnet), "-shards", fmt.Sprint(shards))
			out, err := ns.Run(30*time.Second, "ping", "-n", "-c", "4", "-i", "0.1", "-w", "20", addr)
			if err != nil || !strings.Contains(out, "4 packets transmitted, 4 received") {
				t.Fatalf("ping: %v\n%s\nhttpd stderr:\n%s", err, out, p.Stderr())
			}
			report := p.Interrupt()
			echo := 0
			for i := 0; i < shards; i++ {
				m := regexp.MustCompile(fmt.Sprintf(`shard %d cpu \d+: .* echo (\d+),.* in-use 0`, i)).FindStringSubmatch(report)
				if m == nil {
					t.Fatalf("no clean report line for shard %d in:\n%s", i, report)
				}
				var n int
				fmt.Sscan(m[1], &n)
				echo += n
			}
			if echo != 4 {
				t.Fatalf("shards answered %d echo requests in all, want 4:\n%s", echo, report)
			}
		})
	}
}
