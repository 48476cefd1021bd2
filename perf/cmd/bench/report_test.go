package main

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

func TestSummarizeRatiosWithinRound(t *testing.T) {
	r := &Results{Rounds: 3, Duration: "1s", Samples: []Sample{
		// Round 0: the machine is fast; round 1: slow; round 2: one failure.
		{Profile: "plaintext", Server: "shardnet-afxdp", Round: 0, RPS: 300},
		{Profile: "plaintext", Server: baseline, Round: 0, RPS: 200},
		{Profile: "plaintext", Server: "shardnet-afxdp", Round: 1, RPS: 100},
		{Profile: "plaintext", Server: baseline, Round: 1, RPS: 50},
		{Profile: "plaintext", Server: "shardnet-afxdp", Round: 2, RPS: 180},
		{Profile: "plaintext", Server: baseline, Round: 2, Error: "shardnet-kernel did not answer: httpd: bind: address in use"},
		{Profile: "bulk", Server: baseline, Round: 0, Gbps: 2},
		{Profile: "bulk", Server: "nginx", Round: 0, Gbps: 3},
	}}
	profiles, servers, cells := r.summarize()
	if strings.Join(profiles, ",") != "plaintext,bulk" || strings.Join(servers, ",") != "shardnet-afxdp,shardnet-kernel,nginx" {
		t.Fatalf("order: %v %v", profiles, servers)
	}
	x := cells[[2]string{"plaintext", "shardnet-afxdp"}]
	if x.value != 180 || x.lo != 100 || x.hi != 300 {
		t.Errorf("median/min/max = %v/%v/%v, want 180/100/300", x.value, x.lo, x.hi)
	}
	// Ratios only where the baseline ran in the same round: 1.5 and 2.
	if math.Abs(x.ratio-1.75) > 1e-9 {
		t.Errorf("ratio %v, want 1.75 (median of 1.5 and 2)", x.ratio)
	}
	k := cells[[2]string{"plaintext", baseline}]
	if k.failed != 1 || k.n != 3 || k.value != 125 {
		t.Errorf("baseline cell %+v", *k)
	}
	if b := cells[[2]string{"bulk", "nginx"}]; b.ratio != 1.5 || b.hasLat {
		t.Errorf("bulk cell %+v: want ratio 1.5 on Gbit/s, no latency", *b)
	}
	md := r.markdown("x.svg")
	for _, want := range []string{"| shardnet-afxdp | 180 [100–300] | 1.75× |", "plaintext: shardnet-afxdp ≥ 1.5× shardnet-kernel: 1.75× — met", "(1 of 3 runs failed)",
		"## Failures", "plaintext, shardnet-kernel, round 3:\n\n```\nshardnet-kernel did not answer: httpd: bind: address in use\n```",
		"p99 at the same offered load ≤ shardnet-kernel's — not measured"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if svg := r.svg(); !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<rect") != 4 {
		t.Errorf("svg: %d bars, want 4 (one per measured cell)", strings.Count(svg, "<rect"))
	}
}

func TestNginxAffinity(t *testing.T) {
	dir := t.TempDir()
	if err := nginxConf("/srv", 2)(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dir + "/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"worker_processes 2;", "worker_cpu_affinity 01 10;", "access_log off;", "sendfile on;", "root /srv;"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
}

func TestFixedLoadTarget(t *testing.T) {
	r := &Results{Rounds: 1, Duration: "1s", Samples: []Sample{
		{Profile: "fixedload", Server: "shardnet-afxdp", RPS: fixedRate, P99us: 90},
		{Profile: "fixedload", Server: baseline, RPS: fixedRate * 0.9, P99us: 120},
	}}
	md := r.markdown("x.svg")
	want := "p99 at the same offered load (10240 req/s) ≤ shardnet-kernel's: 90 vs 120 µs — met (but the offered load was not sustained: 10240 and 9216 req/s)"
	if !strings.Contains(md, want) {
		t.Errorf("report lacks %q:\n%s", want, md)
	}
}

func TestH2loadLog(t *testing.T) {
	var log strings.Builder
	// 1000 requests, 1 ms apart, latencies 1..1000 µs; the last one a 503.
	for i := 1; i <= 1000; i++ {
		status := 200
		if i == 1000 {
			status = 503
		}
		fmt.Fprintf(&log, "%d\t%d\t%d\n", 1_700_000_000_000_000+int64(i)*1000, status, i)
	}
	log.WriteString("garbage line\n")
	n, bad, lat, first, last := parseH2loadLog([]byte(log.String()))
	if n != 1000 || bad != 1 {
		t.Fatalf("n %d bad %d", n, bad)
	}
	if last-first != 999*1000+1000 {
		t.Errorf("span %d µs", last-first)
	}
	for _, c := range []struct{ p, want float64 }{{50, 500}, {99, 990}, {99.9, 999}} {
		if got := percentile(lat, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if n := cpuCount("0-1,3"); n != 3 {
		t.Errorf("cpuCount(0-1,3) = %d", n)
	}
}
