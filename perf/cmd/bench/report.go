package main

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Results is everything one run measured; the JSON file holds it whole.
type Results struct {
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Machine   Machine   `json:"machine"`
	Placement string    `json:"placement"`
	Rounds    int       `json:"rounds"`
	Duration  string    `json:"duration"`
	Shards    int       `json:"shards"`
	Samples   []Sample  `json:"samples"`
}

type Machine struct {
	Host, CPU, Kernel, Go string
	CPUs                  int
}

func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	m.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				m.CPU = strings.TrimSpace(l[strings.IndexByte(l, ':')+1:])
				break
			}
		}
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	return m
}

// ensureTools installs what is missing from Debian's packages.
func ensureTools() error {
	need := map[string]string{"wrk": "wrk", "h2load": "nghttp2-client", "curl": "curl", "nginx": "nginx-light", "ethtool": "ethtool", "taskset": "util-linux", "ip": "iproute2"}
	var pkgs []string
	for tool, pkg := range need {
		if _, err := exec.LookPath(tool); err != nil {
			pkgs = append(pkgs, pkg)
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	fmt.Fprintln(os.Stderr, "bench: installing", strings.Join(pkgs, " "))
	cmd := exec.Command("apt-get", append([]string{"install", "-y", "-q", "--no-install-recommends"}, pkgs...)...)
	// RUNLEVEL=1: the nginx package must not start a server on the host.
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "RUNLEVEL=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		upd := exec.Command("apt-get", "update", "-q")
		upd.Run()
		cmd = exec.Command(cmd.Args[0], cmd.Args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "RUNLEVEL=1")
		if out2, err2 := cmd.CombinedOutput(); err2 != nil {
			return fmt.Errorf("apt-get install %s: %v\n%s%s", strings.Join(pkgs, " "), err2, out, out2)
		}
	}
	return nil
}

// cell is one (profile, server) summary.
type cell struct {
	n, failed        int
	value, lo, hi    float64 // req/s (bulk: Gbit/s): median, min, max
	p50, p99, p999   float64 // µs, medians
	cpu              float64 // µs per request (bulk: per MiB), median
	ratio            float64 // median over rounds of value / the baseline's in the same round
	errors, non2xx   int64
	lastErr          string
	hasRatio, hasLat bool
}

const baseline = "shardnet-kernel"

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func metric(s *Sample, bulk bool) float64 {
	if bulk {
		return s.Gbps
	}
	return s.RPS
}

// summarize groups samples into cells, in first-seen order.
func (r *Results) summarize() (profiles, servers []string, cells map[[2]string]*cell) {
	cells = map[[2]string]*cell{}
	vals := map[[2]string][]float64{}
	lat := map[[2]string][3][]float64{}
	cpus := map[[2]string][]float64{}
	base := map[[2]int]float64{} // (profile index, round) → baseline value
	pidx := map[string]int{}
	for _, s := range r.Samples {
		if _, ok := pidx[s.Profile]; !ok {
			pidx[s.Profile] = len(profiles)
			profiles = append(profiles, s.Profile)
		}
		if !slices.Contains(servers, s.Server) {
			servers = append(servers, s.Server)
		}
		if s.Server == baseline && s.Error == "" {
			base[[2]int{pidx[s.Profile], s.Round}] = metric(&s, s.Profile == "bulk")
		}
	}
	ratios := map[[2]string][]float64{}
	for _, s := range r.Samples {
		k := [2]string{s.Profile, s.Server}
		c := cells[k]
		if c == nil {
			c = &cell{}
			cells[k] = c
		}
		c.n++
		if s.Error != "" {
			c.failed++
			c.lastErr = s.Error
			continue
		}
		bulk := s.Profile == "bulk"
		v := metric(&s, bulk)
		vals[k] = append(vals[k], v)
		l := lat[k]
		l[0], l[1], l[2] = append(l[0], s.P50us), append(l[1], s.P99us), append(l[2], s.P999us)
		lat[k] = l
		cpus[k] = append(cpus[k], s.CPUus)
		c.errors += s.Errors
		c.non2xx += s.Non2xx
		if b := base[[2]int{pidx[s.Profile], s.Round}]; b > 0 {
			ratios[k] = append(ratios[k], v/b)
		}
		c.hasLat = !bulk
	}
	for k, c := range cells {
		v := vals[k]
		if len(v) == 0 {
			continue
		}
		c.value, c.lo, c.hi = median(v), slices.Min(v), slices.Max(v)
		c.p50, c.p99, c.p999 = median(lat[k][0]), median(lat[k][1]), median(lat[k][2])
		c.cpu = median(cpus[k])
		if len(ratios[k]) > 0 {
			c.ratio, c.hasRatio = median(ratios[k]), true
		}
	}
	return profiles, servers, cells
}

func (r *Results) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	host := r.Machine.Host
	if host == "" {
		host = "host"
	}
	base := filepath.Join(dir, r.Started.Format("2006-01-02T1504")+"-"+host)
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", js, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".svg", []byte(r.svg()), 0o644); err != nil {
		return err
	}
	md := r.markdown(filepath.Base(base) + ".svg")
	if err := os.WriteFile(base+".md", []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	fmt.Fprintf(os.Stderr, "bench: wrote %s.{md,json,svg}\n", base)
	return nil
}

var profileWhat = func() map[string]string {
	m := map[string]string{}
	for _, p := range allProfiles(0) {
		m[p.Name] = p.What
	}
	return m
}()

func (r *Results) markdown(svgName string) string {
	profiles, servers, cells := r.summarize()
	var b strings.Builder
	fmt.Fprintf(&b, "# shardnet HTTP benchmark — %s\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s, %d CPUs, %s, Linux %s, %s.  \n", r.Machine.Host, r.Machine.CPUs, r.Machine.CPU, r.Machine.Kernel, r.Machine.Go)
	fmt.Fprintf(&b, "Placement: %s.  \n", r.Placement)
	fmt.Fprintf(&b, "Method: %d interleaved round(s) of %s per measurement (every server once per round, in turn); median [min–max] over rounds; ratio = value ÷ %s's in the same round, median over rounds. Client and server in separate network namespaces joined by a veth pair (2 queues per end, as many in use as server shards, client TX checksum offload off); shardnet-tap reaches the client through the server namespace's kernel (one forwarding hop more than the others).\n\n", r.Rounds, r.Duration, baseline)
	fmt.Fprintf(&b, "![chart](%s)\n\n", svgName)
	for _, p := range profiles {
		bulk := p == "bulk"
		fmt.Fprintf(&b, "## %s — %s\n\n", p, profileWhat[p])
		unit, cpuUnit := "req/s", "server CPU µs/req"
		if bulk {
			unit, cpuUnit = "Gbit/s", "server CPU µs/MiB"
		}
		fmt.Fprintf(&b, "| server | %s | ratio vs %s | p50 µs | p99 µs | p99.9 µs | %s | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n", unit, baseline, cpuUnit)
		for _, s := range servers {
			c := cells[[2]string{p, s}]
			if c == nil {
				continue
			}
			if c.failed == c.n {
				fmt.Fprintf(&b, "| %s | failed (see Failures): %s | | | | | | |\n", s, mdEscape(firstLine(c.lastErr)))
				continue
			}
			val := fmt.Sprintf("%.0f [%.0f–%.0f]", c.value, c.lo, c.hi)
			if bulk {
				val = fmt.Sprintf("%.2f [%.2f–%.2f]", c.value, c.lo, c.hi)
			}
			ratio := ""
			if c.hasRatio {
				ratio = fmt.Sprintf("%.2f×", c.ratio)
			}
			lat := " | | "
			if c.hasLat {
				lat = usCell(c.p50) + " | " + usCell(c.p99) + " | " + usCell(c.p999)
			}
			errs := fmt.Sprintf("%d", c.errors+c.non2xx)
			if c.failed > 0 {
				errs += fmt.Sprintf(" (%d of %d runs failed)", c.failed, c.n)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f | %s |\n", s, val, ratio, lat, c.cpu, errs)
		}
		b.WriteString("\n")
	}
	b.WriteString(r.targets(cells))
	if f := r.failures(); f != "" {
		b.WriteString("\n" + f)
	}
	return b.String()
}

// usCell prints a latency; 0 is wrk's answer when its histogram cannot
// place the percentile (seen with deep pipelining): shown as "–".
func usCell(us float64) string {
	if us <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", us)
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// targets states issue 6's targets against what was measured.
func (r *Results) targets(cells map[[2]string]*cell) string {
	var b strings.Builder
	b.WriteString("## Targets\n\n")
	get := func(p, s string) *cell {
		c := cells[[2]string{p, s}]
		if c == nil || c.failed == c.n {
			return nil
		}
		return c
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	for _, p := range []string{"plaintext", "pipelined"} {
		x, k := get(p, "shardnet-afxdp"), get(p, baseline)
		if x == nil || k == nil {
			fmt.Fprintf(&b, "- %s: shardnet-afxdp ≥ 1.5× %s — not measured in this run\n", p, baseline)
			continue
		}
		fmt.Fprintf(&b, "- %s: shardnet-afxdp ≥ 1.5× %s: %.2f× — %s\n", p, baseline, x.ratio, verdict(x.ratio >= 1.5))
		for _, ref := range []string{"nginx", "fasthttp"} {
			if c := get(p, ref); c != nil {
				fmt.Fprintf(&b, "- %s: shardnet-afxdp ahead of %s: %.0f vs %.0f req/s — %s\n", p, ref, x.value, c.value, verdict(x.value > c.value))
			}
		}
	}
	if x, k := get("connrate", "shardnet-afxdp"), get("connrate", baseline); x != nil && k != nil {
		fmt.Fprintf(&b, "- connection rate ≥ %s's: %.0f vs %.0f conn/s — %s\n", baseline, x.value, k.value, verdict(x.value >= k.value))
	} else {
		fmt.Fprintf(&b, "- connection rate ≥ %s's — not measured in this run\n", baseline)
	}
	if x, k := get("fixedload", "shardnet-afxdp"), get("fixedload", baseline); x != nil && k != nil {
		fmt.Fprintf(&b, "- p99 at the same offered load (%d req/s) ≤ %s's: %.0f vs %.0f µs — %s", fixedRate, baseline, x.p99, k.p99, verdict(x.p99 <= k.p99))
		if lo := 0.95 * fixedRate; x.value < lo || k.value < lo {
			fmt.Fprintf(&b, " (but the offered load was not sustained: %.0f and %.0f req/s)", x.value, k.value)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "- p99 at the same offered load ≤ %s's — not measured in this run (the fixedload profile)\n", baseline)
	}
	b.WriteString("\nThe p99 columns of the closed-loop profiles (wrk) are at each server's own maximum load; only fixedload compares latency at one load.\n")
	return b.String()
}

// failures lists every failed measurement with the end of its error and
// of the server's stderr, so that a server that did not start says why.
func (r *Results) failures() string {
	var b strings.Builder
	for _, s := range r.Samples {
		if s.Error == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("## Failures\n\n")
		}
		fmt.Fprintf(&b, "%s, %s, round %d:\n\n```\n%s\n```\n\n", s.Profile, s.Server, s.Round+1, strings.ReplaceAll(tail(s.Error, 1200), "```", "` ` `"))
	}
	return b.String()
}

// svg draws one group of bars per profile: each server's median relative
// to the best server of that profile, labelled with its value.
func (r *Results) svg() string {
	profiles, servers, cells := r.summarize()
	colors := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"}
	const rowH, barH, left, width = 16, 13, 130, 520
	groupH := rowH*len(servers) + 28
	h := 40 + groupH*len(profiles) + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", left+width+140, h)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14">shardnet HTTP benchmark %s — median of %d round(s), %s each (bars relative to the best server per profile)</text>`+"\n", html.EscapeString(r.Started.Format("2006-01-02")), r.Rounds, html.EscapeString(r.Duration))
	y := 40
	for _, p := range profiles {
		unit := "req/s"
		if p == "bulk" {
			unit = "Gbit/s"
		}
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s (%s)</text>`+"\n", y+12, html.EscapeString(p), unit)
		y += 18
		best := 0.0
		for _, s := range servers {
			if c := cells[[2]string{p, s}]; c != nil && c.value > best {
				best = c.value
			}
		}
		for i, s := range servers {
			c := cells[[2]string{p, s}]
			if c == nil {
				continue
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+barH-2, html.EscapeString(s))
			if c.failed == c.n || best == 0 {
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#999">failed</text>`+"\n", left+4, y+barH-2)
			} else {
				w := int(float64(width) * c.value / best)
				label := fmt.Sprintf("%.0f", c.value)
				if p == "bulk" {
					label = fmt.Sprintf("%.2f", c.value)
				}
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
					left, y, w, barH, colors[i%len(colors)], left+w+4, y+barH-2, label)
			}
			y += rowH
		}
		y += 10
	}
	b.WriteString("</svg>\n")
	return b.String()
}
