// Command bench measures shardnet's HTTP server against the kernel stack
// and reference servers, side by side, with real load generators.
//
// It builds a two-namespace topology (server and client joined by a veth
// pair with two queues per end, the client's TX checksum offload off),
// starts each server pinned to the server CPUs, drives it with wrk (or
// curl for the bulk transfer) pinned to the client CPUs, in interleaved
// rounds (A B C … A B C …), and writes perf/results/<date>-<host>.{json,md,svg}.
// Everything it creates is removed on exit, also on failure and on SIGINT.
//
//	sudo go run ./cmd/bench -repo .. -quick
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	repo      string
	out       string
	quick     bool
	rounds    int
	duration  time.Duration
	shards    int
	servers   string
	profiles  string
	serverCPU string
	clientCPU string
	httpd     string
}

func main() {
	var o options
	flag.StringVar(&o.repo, "repo", "..", "the shardnet checkout (where bin/httpd is built)")
	flag.StringVar(&o.out, "out", "results", "directory for the results")
	flag.BoolVar(&o.quick, "quick", false, "a ≈2-minute subset: 1 round of plaintext, 1 KiB and fixedload, 5 s each, 4 servers")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds per profile")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "load duration per measurement")
	flag.IntVar(&o.shards, "shards", 1, "server shards / workers / GOMAXPROCS")
	flag.StringVar(&o.servers, "servers", "", "comma-separated servers to run (default: all)")
	flag.StringVar(&o.profiles, "profiles", "", "comma-separated profiles to run (default: all)")
	flag.StringVar(&o.serverCPU, "server-cpus", "0", "CPUs for the server (taskset list)")
	flag.StringVar(&o.clientCPU, "client-cpus", "1", "CPUs for the load generator (taskset list)")
	flag.StringVar(&o.httpd, "httpd", "", "a prebuilt examples/httpd binary to use instead of building it")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root to create network namespaces and attach XDP: run `sudo make bench`")
		os.Exit(2)
	}
	if o.quick {
		o.rounds, o.duration = 1, 5*time.Second
		if o.profiles == "" {
			o.profiles = "plaintext,file1k,fixedload"
		}
		if o.servers == "" {
			o.servers = "shardnet-afxdp,shardnet-kernel,nethttp,nginx"
		}
	}
	if o.shards == 2 && o.serverCPU == "0" {
		o.serverCPU, o.clientCPU = "0-1", "0-1"
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, &o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) error {
	if err := ensureTools(); err != nil {
		return err
	}
	repo, err := filepath.Abs(o.repo)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "shardnet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// nginx's workers run as www-data: they must be able to read the site.
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	bins := buildServers(repo, work, o.httpd)
	www := filepath.Join(work, "www")
	if err := makeSite(www); err != nil {
		return err
	}
	topo, err := newTopology(o.shards)
	if err != nil {
		return err
	}
	defer topo.Close()

	servers := selectByName(allServers(bins, www, topo, o), o.servers, func(s server) string { return s.Name })
	profiles := selectByName(allProfiles(o.duration), o.profiles, func(p profile) string { return p.Name })
	if len(servers) == 0 || len(profiles) == 0 {
		return fmt.Errorf("nothing to run: servers %q, profiles %q", o.servers, o.profiles)
	}
	res := &Results{
		Started:   time.Now().UTC(),
		Machine:   machineInfo(),
		Placement: fmt.Sprintf("server on CPUs %s, load generator on CPUs %s, %d shard(s)/worker(s)", o.serverCPU, o.clientCPU, o.shards),
		Rounds:    o.rounds,
		Duration:  o.duration.String(),
		Shards:    o.shards,
	}
	total := o.rounds * len(profiles) * len(servers)
	perRun := o.duration + 3*time.Second
	done := 0
	start := time.Now()
	for _, p := range profiles {
		for r := 0; r < o.rounds; r++ {
			for _, s := range servers {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				left := time.Duration(total-done) * perRun
				if done > 0 {
					left = time.Since(start) / time.Duration(done) * time.Duration(total-done)
				}
				fmt.Fprintf(os.Stderr, "\r\033[K[%d/%d] %s round %d/%d: %s … about %s left", done+1, total, p.Name, r+1, o.rounds, s.Name, left.Round(time.Second))
				smp := measure(ctx, topo, s, p, o, r)
				res.Samples = append(res.Samples, smp)
				done++
				if smp.Error != "" {
					fmt.Fprintf(os.Stderr, "\n  %s/%s failed: %s\n", p.Name, s.Name, firstLine(smp.Error))
				}
			}
		}
	}
	fmt.Fprintln(os.Stderr)
	res.Finished = time.Now().UTC()
	return res.write(o.out)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// selectByName keeps the items named in the comma-separated list names,
// in its order; an empty list keeps all.
func selectByName[T any](all []T, names string, name func(T) string) []T {
	if names == "" {
		return all
	}
	var out []T
	for _, n := range strings.Split(names, ",") {
		for _, x := range all {
			if name(x) == strings.TrimSpace(n) {
				out = append(out, x)
			}
		}
	}
	return out
}
