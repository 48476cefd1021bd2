package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/tcp"
)

// series is what the reference parser (expfmt) read: value and type per
// series, keyed as name{label="value",...} with labels sorted by name.
type series struct {
	val map[string]float64
	typ map[string]string // family name → COUNTER, GAUGE, …
}

func (s series) get(t *testing.T, key string) float64 {
	t.Helper()
	v, ok := s.val[key]
	if !ok {
		t.Fatalf("no series %s", key)
	}
	return v
}

// parseExpfmt parses text with Prometheus's own text parser (legacy, i.e.
// strict, metric name rules).
func parseExpfmt(t *testing.T, text []byte) series {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("expfmt rejects the text: %v\n%s", err, text)
	}
	out := series{val: map[string]float64{}, typ: map[string]string{}}
	for name, f := range fams {
		out.typ[name] = f.GetType().String()
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			sort.Strings(ls)
			key := name + "{" + strings.Join(ls, ",") + "}"
			if _, dup := out.val[key]; dup {
				t.Errorf("duplicate series %s", key)
			}
			switch {
			case m.GetCounter() != nil:
				out.val[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out.val[key] = m.GetGauge().GetValue()
			default:
				t.Errorf("series %s is neither a counter nor a gauge", key)
			}
		}
	}
	return out
}

var (
	nameRE   = regexp.MustCompile(`^shardnet_[a-z0-9_]+$`)
	seriesRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\} (\S+)$`)
	labelRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"`)
)

// checkStrict checks what expfmt lets pass: each family's # HELP then
// # TYPE come once, before its series, and its series are contiguous; the
// names are ours; counters end in _total and nothing else does; every
// series has a shard label first, no label twice, a float value, and is
// not repeated.
func checkStrict(t *testing.T, text []byte) {
	t.Helper()
	if len(text) == 0 || text[len(text)-1] != '\n' {
		t.Fatalf("text does not end in a line feed")
	}
	seen := map[string]bool{}    // families finished or in progress
	seenSer := map[string]bool{} // series
	var cur, curType string
	var helpDone, typeDone bool
	for n, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("line %d %q: %s", n+1, line, fmt.Sprintf(format, args...))
		}
		switch {
		case strings.HasPrefix(line, "# HELP "):
			f := strings.SplitN(line[len("# HELP "):], " ", 2)
			if len(f) != 2 || f[1] == "" {
				fail("HELP without text")
				continue
			}
			if seen[f[0]] {
				fail("family %s appears twice", f[0])
			}
			seen[f[0]] = true
			cur, curType, helpDone, typeDone = f[0], "", true, false
			if !nameRE.MatchString(cur) {
				fail("bad family name")
			}
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Split(line[len("# TYPE "):], " ")
			if len(f) != 2 || f[0] != cur || !helpDone || typeDone {
				fail("TYPE not right after its family's HELP")
				continue
			}
			curType, typeDone = f[1], true
			if curType != "counter" && curType != "gauge" {
				fail("type %q", curType)
			}
			if (curType == "counter") != strings.HasSuffix(cur, "_total") {
				fail("a counter must end in _total, and only a counter")
			}
		case strings.HasPrefix(line, "#") || line == "":
			fail("unexpected comment or blank line")
		default:
			m := seriesRE.FindStringSubmatch(line)
			if m == nil {
				fail("not a series line")
				continue
			}
			if m[1] != cur || !typeDone {
				fail("series outside its family (current %s)", cur)
			}
			if seenSer[m[1]+"{"+m[2]+"}"] {
				fail("duplicate series")
			}
			seenSer[m[1]+"{"+m[2]+"}"] = true
			labels := labelRE.FindAllStringSubmatch(m[2], -1)
			if len(labels) == 0 || labels[0][1] != "shard" {
				fail("shard must be the first label")
			}
			names := map[string]bool{}
			for _, l := range labels {
				if names[l[1]] {
					fail("label %s twice", l[1])
				}
				names[l[1]] = true
			}
			if _, err := strconv.ParseFloat(m[3], 64); err != nil && m[3] != "NaN" && m[3] != "+Inf" && m[3] != "-Inf" {
				fail("value %q is not a float", m[3])
			}
		}
	}
}

// testSamples are two user-space shards and one kernel-stack shard with
// distinct values in the fields the test looks at.
func testSamples() []Sample {
	s0 := Sample{Shard: 0, CPU: 1, Driver: "tap"}
	s0.Queue.RxPackets, s0.Queue.RxBytes = 1234, 98765
	s0.Loop.Iterations = 77
	s0.SlabInUse = 12
	s0.IP.Drops[ip.DropIPv4Checksum] = 4
	s0.TCP.Retransmits = 31
	s0.TCP.Drops[tcp.DropOutOfWindow] = 5
	s0.Census.Capacity = 1024
	s0.Census.ByState[tcp.StateListen] = 1
	s0.Census.ByState[tcp.StateEstablished] = 3
	s0.Census.ByState[tcp.StateTimeWait] = 2
	s0.Census.RTTConns = 3
	s0.Census.SRTTMean, s0.Census.SRTTMin, s0.Census.SRTTMax = 5_000_000, 250_000, 12_000_000
	s0.HTTP.Requests = 44
	s0.HTTP.Status[2] = 42
	s0.HTTP.Status[4] = 2
	s0.HTTP.ParseErrors[http.ErrBareLF] = 3

	s1 := Sample{Shard: 1, CPU: 3, Driver: "a\"fx\\dp\nq"} // a driver name that needs escaping
	s1.Queue.RxPackets = 99
	s1.IP.Drops[ip.DropIPv4Checksum] = 7
	s1.IP.Drops[ip.DropTxFull] = 1
	s1.TCP.Drops[tcp.DropRstRateLimit] = 2

	s2 := Sample{Shard: 2, CPU: 0, Driver: DriverKernel}
	s2.Kernel.Accepted = 9
	s2.Kernel.Open = 4
	s2.Kernel.BytesIn = 5555
	s2.HTTP.Status[2] = 17
	s2.HTTP.HeaderTimeouts = 6
	return []Sample{s0, s1, s2}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, testSamples()); err != nil {
		t.Fatal(err)
	}
	text := b.Bytes()
	checkStrict(t, text)
	s := parseExpfmt(t, text)

	for _, c := range []struct {
		key  string
		want float64
	}{
		{`shardnet_rx_packets_total{shard="0"}`, 1234},
		{`shardnet_rx_bytes_total{shard="0"}`, 98765},
		{`shardnet_rx_packets_total{shard="1"}`, 99},
		{`shardnet_loop_iterations_total{shard="0"}`, 77},
		{`shardnet_slab_frames_in_use{shard="0"}`, 12},
		{`shardnet_ip_drops_total{reason="ipv4_checksum",shard="0"}`, 4},
		{`shardnet_ip_drops_total{reason="ipv4_checksum",shard="1"}`, 7},
		{`shardnet_ip_drops_total{reason="tx_full",shard="1"}`, 1},
		{`shardnet_ip_drops_total{reason="tx_full",shard="0"}`, 0},
		{`shardnet_tcp_drops_total{reason="out_of_window",shard="0"}`, 5},
		{`shardnet_tcp_drops_total{reason="rst_ratelimited",shard="1"}`, 2},
		{`shardnet_tcp_retransmits_total{shard="0"}`, 31},
		{`shardnet_tcp_connections{shard="0",state="ESTABLISHED"}`, 3},
		{`shardnet_tcp_connections{shard="0",state="LISTEN"}`, 1},
		{`shardnet_tcp_connections{shard="0",state="TIME-WAIT"}`, 2},
		{`shardnet_tcp_connections{shard="0",state="SYN-SENT"}`, 0},
		{`shardnet_tcp_connection_capacity{shard="0"}`, 1024},
		{`shardnet_tcp_srtt_seconds{shard="0",stat="mean"}`, 0.005},
		{`shardnet_tcp_srtt_seconds{shard="0",stat="min"}`, 0.00025},
		{`shardnet_tcp_srtt_seconds{shard="0",stat="max"}`, 0.012},
		{`shardnet_http_requests_total{shard="0"}`, 44},
		{`shardnet_http_responses_total{class="2xx",shard="0"}`, 42},
		{`shardnet_http_responses_total{class="4xx",shard="0"}`, 2},
		{`shardnet_http_responses_total{class="2xx",shard="2"}`, 17},
		{`shardnet_http_parse_errors_total{reason="bare-lf",shard="0"}`, 3},
		{`shardnet_http_timeouts_total{kind="header",shard="2"}`, 6},
		{`shardnet_kernel_accepted_total{shard="2"}`, 9},
		{`shardnet_kernel_connections_open{shard="2"}`, 4},
		{`shardnet_kernel_rx_bytes_total{shard="2"}`, 5555},
		{`shardnet_shard_info{cpu="1",driver="tap",shard="0"}`, 1},
		{`shardnet_shard_info{cpu="3",driver=` + strconv.Quote("a\"fx\\dp\nq") + `,shard="1"}`, 1},
		{`shardnet_shard_info{cpu="0",driver="kernel",shard="2"}`, 1},
	} {
		if got := s.get(t, c.key); got != c.want {
			t.Errorf("%s = %v, want %v", c.key, got, c.want)
		}
	}

	// Families apply to their kind of shard only; states and reasons are
	// the types' own names; no SRTT line for a shard without an estimate.
	for _, key := range []string{
		`shardnet_rx_packets_total{shard="2"}`,
		`shardnet_tcp_connections{shard="2",state="LISTEN"}`,
		`shardnet_ip_drops_total{reason="ipv4_checksum",shard="2"}`,
		`shardnet_kernel_accepted_total{shard="0"}`,
		`shardnet_tcp_connections{shard="0",state="CLOSED"}`,
		`shardnet_tcp_srtt_seconds{shard="1",stat="mean"}`,
		`shardnet_http_parse_errors_total{reason="none",shard="0"}`,
	} {
		if _, ok := s.val[key]; ok {
			t.Errorf("unexpected series %s", key)
		}
	}
	for name, want := range map[string]string{
		"shardnet_rx_packets_total":     "COUNTER",
		"shardnet_ip_drops_total":       "COUNTER",
		"shardnet_tcp_connections":      "GAUGE",
		"shardnet_tcp_srtt_seconds":     "GAUGE",
		"shardnet_http_responses_total": "COUNTER",
		"shardnet_shard_info":           "GAUGE",
	} {
		if got := s.typ[name]; got != want {
			t.Errorf("type of %s = %q, want %s", name, got, want)
		}
	}

	// Every reason and state is there, under a distinct known name.
	count := func(prefix, shard string) (n int, names map[string]bool) {
		names = map[string]bool{}
		// Keys have their labels sorted: class, reason < shard < state.
		re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) +
			`\{(?:(?:class|reason)="([^"]*)",shard="` + shard + `"|shard="` + shard + `",state="([^"]*)")\}$`)
		for key := range s.val {
			if m := re.FindStringSubmatch(key); m != nil {
				n++
				names[m[1]+m[2]] = true
			}
		}
		return n, names
	}
	for _, c := range []struct {
		family string
		want   int
	}{
		{"shardnet_ip_drops_total", ip.NumDropReasons},
		{"shardnet_tcp_drops_total", tcp.NumDropReasons},
		{"shardnet_tcp_connections", tcp.NumStates - 1},
		{"shardnet_http_parse_errors_total", len(http.Stats{}.ParseErrors) - 1},
		{"shardnet_http_responses_total", 6},
	} {
		n, names := count(c.family, "0")
		if n != c.want || len(names) != c.want {
			t.Errorf("%s: %d series with %d distinct labels, want %d", c.family, n, len(names), c.want)
		}
		if names["unknown"] || names["?"] {
			t.Errorf("%s: a label value is unknown: %v", c.family, names)
		}
	}
}

func TestWriteTextEmptyAndErrors(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, nil); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 {
		t.Errorf("no samples: wrote %q, want nothing", b.String())
	}
	two := testSamples()[:2]
	two[1].Shard = 0
	if err := WriteText(&b, two); !errors.Is(err, ErrDuplicateShard) {
		t.Errorf("two samples for shard 0: err = %v, want ErrDuplicateShard", err)
	}
	werr := errors.New("disk on fire")
	if err := WriteText(failWriter{werr}, testSamples()); !errors.Is(err, werr) {
		t.Errorf("failing writer: err = %v, want %v", err, werr)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestEscaping(t *testing.T) {
	for _, c := range []struct {
		in          string
		quote       bool
		label, help string
	}{
		{"plain", true, "plain", ""},
		{`a"b\c` + "\nd", true, `a\"b\\c\nd`, ""},
		{`a"b\c` + "\nd", false, "", `a"b\\c\nd`},
		{"bad\xffutf8 é", true, "bad\uFFFDutf8 é", ""},
	} {
		got := string(appendEscaped(nil, c.in, c.quote))
		want := c.label
		if !c.quote {
			want = c.help
		}
		if got != want {
			t.Errorf("appendEscaped(%q, %v) = %q, want %q", c.in, c.quote, got, want)
		}
	}
	for v, want := range map[float64]string{0.005: "0.005", 1e-9: "1e-09", 3: "3"} {
		if got := string(appendFloat(nil, v)); got != want {
			t.Errorf("appendFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

func BenchmarkWriteText(b *testing.B) {
	samples := testSamples()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := WriteText(&buf, samples); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
