package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// profile is one load shape.
type profile struct {
	Name, What string
	path       string
	conns      int
	depth      int  // pipelined requests per connection (wrk script)
	close      bool // one request per connection
	bulk       bool // a single curl download instead of wrk
	rate       int  // fixed offered load in req/s (h2load --rps) instead of wrk's closed loop
	duration   time.Duration
}

// fixedRate is the offered load of the fixedload profile (160 req/s on
// each of its 64 connections): every server measured here sustains it on
// one core, so its latencies compare servers at the same load rather than
// each at its own maximum.
const fixedRate = 64 * 160

func allProfiles(d time.Duration) []profile {
	return []profile{
		{Name: "plaintext", What: "GET /plaintext, keep-alive, 64 connections", path: "/plaintext", conns: 64, depth: 1, duration: d},
		{Name: "pipelined", What: "GET /plaintext, pipelined ×16, 256 connections", path: "/plaintext", conns: 256, depth: 16, duration: d},
		{Name: "file1k", What: "GET 1 KiB file, keep-alive, 64 connections", path: "/1k.bin", conns: 64, depth: 1, duration: d},
		{Name: "file100k", What: "GET 100 KiB file, keep-alive, 64 connections", path: "/100k.bin", conns: 64, depth: 1, duration: d},
		{Name: "connrate", What: "GET /plaintext, one request per connection, 64 at a time", path: "/plaintext", conns: 64, depth: 1, close: true, duration: d},
		{Name: "fixedload", What: fmt.Sprintf("GET /plaintext, keep-alive, 64 connections, fixed offered load of %d req/s (h2load --rps)", fixedRate), path: "/plaintext", conns: 64, depth: 1, rate: fixedRate, duration: d},
		{Name: "bulk", What: "one connection downloads a 256 MiB file (curl)", path: "/256m.bin", bulk: true},
	}
}

// Sample is one measurement: one server, one profile, one round.
type Sample struct {
	Profile   string  `json:"profile"`
	Server    string  `json:"server"`
	Round     int     `json:"round"`
	Requests  int64   `json:"requests"`
	Seconds   float64 `json:"seconds"`
	RPS       float64 `json:"rps"`
	Errors    int64   `json:"errors"`
	Non2xx    int64   `json:"non2xx"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p999_us"`
	Bytes     int64   `json:"bytes"`
	Gbps      float64 `json:"gbps"`
	CPUus     float64 `json:"cpu_us_per_req"` // server CPU time per request (bulk: per MiB)
	CPUSecs   float64 `json:"server_cpu_seconds"`
	Error     string  `json:"error,omitempty"`
	StartedAt string  `json:"started_at"`
}

// The wrk script: pipelines `depth` requests per write and prints the
// summary as JSON (wrk's own output has no p99.9).
const wrkScript = `
local depth = 1
local req
function init(args)
  depth = tonumber(args[1] or "1")
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil, wrk.path) end
  req = table.concat(r)
end
function request() return req end
function done(s, lat, _)
  local e = s.errors
  io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"non2xx":%d,"p50":%.1f,"p99":%.1f,"p999":%.1f}\n',
    s.requests, s.duration, s.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    lat:percentile(50), lat:percentile(99), lat:percentile(99.9)))
end
`

func measure(ctx context.Context, t *topology, s server, p profile, o *options, round int) Sample {
	smp := Sample{Profile: p.Name, Server: s.Name, Round: round, StartedAt: time.Now().UTC().Format(time.RFC3339)}
	r, err := s.start(t, o)
	if err != nil {
		smp.Error = err.Error()
		return smp
	}
	defer r.stop()
	url := "http://" + s.Host + ":" + port + p.path
	cpu0 := r.cpuTicks()
	switch {
	case p.bulk:
		err = bulk(ctx, t, o, url, &smp)
	case p.rate > 0:
		err = h2load(ctx, t, o, p, url, &smp)
	default:
		err = wrk(ctx, t, o, p, url, &smp)
	}
	cpu := float64(r.cpuTicks()-cpu0) / 100 // USER_HZ
	smp.CPUSecs = cpu
	if err != nil {
		smp.Error = err.Error() + "\nserver: " + tail(r.stderr.String(), 400)
		return smp
	}
	if p.bulk {
		if mib := float64(smp.Bytes) / (1 << 20); mib > 0 {
			smp.CPUus = cpu * 1e6 / mib
		}
	} else if smp.Requests > 0 {
		smp.CPUus = cpu * 1e6 / float64(smp.Requests)
	}
	return smp
}

func wrk(ctx context.Context, t *topology, o *options, p profile, url string, smp *Sample) error {
	script := filepath.Join(os.TempDir(), fmt.Sprintf("snb-wrk-%d.lua", os.Getpid()))
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return err
	}
	defer os.Remove(script)
	args := []string{"wrk", "-t1", "-c" + strconv.Itoa(p.conns), "-d" + strconv.Itoa(int(p.duration.Seconds())) + "s", "--timeout", "5s", "-s", script}
	if p.close {
		args = append(args, "-H", "Connection: close")
	}
	args = append(args, url, "--", strconv.Itoa(p.depth))
	cctx, cancel := context.WithTimeout(ctx, p.duration+30*time.Second)
	defer cancel()
	argv := inNS(t.cli, o.clientCPU, args...)
	out, err := exec.CommandContext(cctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("wrk: %v: %s", err, tail(string(out), 400))
	}
	i := strings.Index(string(out), "BENCHJSON ")
	if i < 0 {
		return fmt.Errorf("wrk printed no summary: %s", tail(string(out), 400))
	}
	var w struct {
		Requests, DurationUS, Bytes, Errors, Non2xx int64
		P50, P99, P999                              float64
	}
	line := string(out[i+len("BENCHJSON "):])
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	var raw map[string]float64
	if err := json.Unmarshal([]byte(line), &raw); err != nil {
		return fmt.Errorf("wrk summary %q: %v", line, err)
	}
	w.Requests, w.DurationUS, w.Bytes = int64(raw["requests"]), int64(raw["duration_us"]), int64(raw["bytes"])
	w.Errors, w.Non2xx = int64(raw["errors"]), int64(raw["non2xx"])
	smp.Requests, smp.Bytes, smp.Errors, smp.Non2xx = w.Requests, w.Bytes, w.Errors, w.Non2xx
	smp.Seconds = float64(w.DurationUS) / 1e6
	if smp.Seconds > 0 {
		smp.RPS = float64(w.Requests) / smp.Seconds
		smp.Gbps = float64(w.Bytes) * 8 / smp.Seconds / 1e9
	}
	smp.P50us, smp.P99us, smp.P999us = raw["p50"], raw["p99"], raw["p999"]
	return nil
}

func bulk(ctx context.Context, t *topology, o *options, url string, smp *Sample) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	argv := inNS(t.cli, o.clientCPU, "curl", "-s", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url)
	out, err := exec.CommandContext(cctx, argv[0], argv[1:]...).Output()
	if err != nil {
		return fmt.Errorf("curl: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return fmt.Errorf("curl printed %q", out)
	}
	size, _ := strconv.ParseInt(f[0], 10, 64)
	secs, _ := strconv.ParseFloat(f[1], 64)
	if size != 256<<20 {
		return fmt.Errorf("curl got %d bytes, want %d", size, 256<<20)
	}
	smp.Requests, smp.Bytes, smp.Seconds = 1, size, secs
	if secs > 0 {
		smp.Gbps = float64(size) * 8 / secs / 1e9
		smp.RPS = 1 / secs
	}
	return nil
}

// h2load offers p.rate requests per second over p.conns keep-alive
// HTTP/1.1 connections for p.duration and computes the latency
// percentiles from its per-request log (h2load prints none itself).
func h2load(ctx context.Context, t *topology, o *options, p profile, url string, smp *Sample) error {
	f, err := os.CreateTemp("", "snb-h2load-*.log")
	if err != nil {
		return err
	}
	f.Close()
	logf := f.Name()
	defer os.Remove(logf)
	perConn := max(1, p.rate/p.conns)
	args := []string{"h2load", "--h1", "-t", strconv.Itoa(cpuCount(o.clientCPU)), "-c", strconv.Itoa(p.conns),
		"--rps", strconv.Itoa(perConn), "-D", strconv.Itoa(max(1, int(p.duration.Seconds()))), "-T", "5",
		"--log-file", logf, url}
	cctx, cancel := context.WithTimeout(ctx, p.duration+30*time.Second)
	defer cancel()
	argv := inNS(t.cli, o.clientCPU, args...)
	out, err := exec.CommandContext(cctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("h2load: %v: %s", err, tail(string(out), 400))
	}
	b, err := os.ReadFile(logf)
	if err != nil {
		return fmt.Errorf("h2load log: %v: %s", err, tail(string(out), 400))
	}
	n, bad, lat, first, last := parseH2loadLog(b)
	if n == 0 {
		return fmt.Errorf("h2load logged no requests: %s", tail(string(out), 400))
	}
	smp.Requests, smp.Non2xx = n, bad
	smp.Seconds = float64(last-first) / 1e6
	if smp.Seconds <= 0 {
		smp.Seconds = p.duration.Seconds()
	}
	smp.RPS = float64(n) / smp.Seconds
	smp.P50us, smp.P99us, smp.P999us = percentile(lat, 50), percentile(lat, 99), percentile(lat, 99.9)
	// "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout"
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 14 && f[0] == "requests:" {
			failed, _ := strconv.ParseInt(f[9], 10, 64)
			smp.Errors = failed
		}
	}
	return nil
}

// parseH2loadLog reads h2load's --log-file lines (start µs since the
// epoch, status, µs to the end of the response): the count, how many were
// not 2xx, the sorted latencies, and the first and last completion time.
func parseH2loadLog(b []byte) (n, bad int64, lat []float64, first, last int64) {
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(l), "\t")
		if len(f) < 3 {
			continue
		}
		start, err1 := strconv.ParseInt(f[0], 10, 64)
		status, err2 := strconv.Atoi(f[1])
		us, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		n++
		if status < 200 || status > 299 {
			bad++
		}
		lat = append(lat, float64(us))
		if end := start + us; last == 0 || end > last {
			last = end
		}
		if first == 0 || start < first {
			first = start
		}
	}
	slices.Sort(lat)
	return n, bad, lat, first, last
}

// percentile of sorted v (nearest rank).
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(v))/100-1e-9)) - 1 // 1e-9: 99.9 is not exact in binary
	return v[min(max(i, 0), len(v)-1)]
}

// cpuCount is the number of CPUs in a taskset list such as "0-1,3".
func cpuCount(list string) int {
	n := 0
	for _, r := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 == nil && err2 == nil && b >= a {
			n += b - a + 1
		}
	}
	return max(n, 1)
}
