package shardnet

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/tcp"
)

func TestConfigErrors(t *testing.T) {
	cpus, err := shard.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	tooMany := len(cpus) + 1
	for _, c := range []struct {
		name string
		cfg  Config
		opts []Option
		want []string // substrings of the error, in any order
	}{
		{"zero shards", Config{}, []Option{WithShards(0)}, []string{"WithShards(0): want at least 1 shard"}},
		{"negative shards", Config{Shards: -2}, nil, []string{"Shards -2: want at least 1"}},
		{"too many shards", Config{Shards: tooMany}, nil, []string{"only", "CPUs are available", "lower Shards or list more CPUs"}},
		{"CPU not allowed", Config{CPUs: []int{4095}, Shards: 1}, nil, []string{"CPU 4095 is not one this process may run on"}},
		{"bad CPU list", Config{}, []Option{WithCPUs("1-x")}, []string{`WithCPUs("1-x")`}},
		{"unknown driver", Config{Driver: "dpdk"}, nil, []string{`Driver "dpdk": want "tap", "afxdp" or "kernel"`}},
		{"afxdp without iface", Config{Driver: DriverAFXDP, Addr: netip.MustParsePrefix("10.0.0.5/24")}, nil,
			[]string{`Iface is required with Driver "afxdp"`}},
		{"afxdp without addr", Config{Driver: DriverAFXDP, Iface: "eth1"}, nil, []string{`Addr is required with Driver "afxdp"`}},
		{"bad addr text", Config{}, []Option{WithAddr("198.18.0.300/24")}, []string{`WithAddr("198.18.0.300/24"): want an IPv4 address/prefix`}},
		{"IPv6 addr", Config{Addr: netip.MustParsePrefix("2001:db8::1/64")}, nil, []string{"want an IPv4 address/prefix"}},
		{"loopback addr", Config{Addr: netip.MustParsePrefix("127.0.0.2/8")}, nil, []string{"needs a unicast address of its own"}},
		{"network addr", Config{Addr: netip.MustParsePrefix("198.18.0.0/24")}, nil, []string{"subnet's network or broadcast address", "198.18.0.2"}},
		{"/31", Config{Addr: netip.MustParsePrefix("198.18.0.2/31")}, nil, []string{"prefix length from /1 to /30"}},
		{"host addr outside subnet", Config{Addr: netip.MustParsePrefix("198.18.0.2/24"), HostAddr: netip.MustParsePrefix("198.18.1.1/24")}, nil,
			[]string{"HostAddr 198.18.1.1/24 is outside the stack's subnet 198.18.0.0/24", "e.g. 198.18.0.1"}},
		{"host addr is addr", Config{}, []Option{WithAddr("198.18.0.2/24"), WithHostAddr("198.18.0.2/24")}, []string{"is the stack's own Addr"}},
		{"host addr for kernel", Config{Driver: DriverKernel, HostAddr: netip.MustParsePrefix("198.18.0.1/24")}, nil, []string{`HostAddr 198.18.0.1/24 is for Driver "tap" only`}},
		{"netns for kernel", Config{Driver: DriverKernel, NetNS: 3}, nil, []string{"NetNS is not supported"}},
		{"long iface", Config{Iface: "a-name-longer-than-15"}, nil, []string{`Iface "a-name-longer-than-15"`, "1 to 15 bytes"}},
		{"iface with slash", Config{Iface: "a/b"}, nil, []string{`Iface "a/b"`}},
		{"few frames", Config{Frames: 10}, nil, []string{"Frames 10: want 256"}},
		{"negative conns", Config{MaxConns: -1}, nil, []string{"MaxConns -1"}},
		{"negative buffer", Config{SendBuf: -5}, nil, []string{"SendBuf -5"}},
		{"congestion", Config{Congestion: "bbr"}, nil, []string{`Congestion "bbr": want "cubic" or "newreno"`}},
		{"negative keepalive", Config{Keepalive: -time.Second}, nil, []string{"durations cannot be negative"}},
		{"admin addr", Config{Admin: "9090"}, nil, []string{`Admin "9090": want host:port`}},
		{"several at once", Config{Driver: DriverAFXDP, Congestion: "x", Shards: -1}, nil,
			[]string{"Iface is required", "Addr is required", `Congestion "x"`, "Shards -1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := New(c.cfg, append([]Option{WithLogger(zap.NewNop())}, c.opts...)...)
			if err == nil {
				t.Fatalf("New accepted %+v", c.cfg)
			}
			if st != nil {
				t.Error("New returned a Stack with its error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error does not wrap ErrConfig: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	cpus, err := shard.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(Config{}, WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	c := st.Config()
	if c.Driver != DriverTAP || c.Iface != "shn0" || c.Addr != defaultAddr || c.HostAddr != defaultHostAddr ||
		c.Shards != len(cpus) || c.Frames <= 0 {
		t.Fatalf("zero Config became %+v", c)
	}

	// A HostAddr is derived from Addr when not given.
	for addr, want := range map[string]string{"10.1.2.7/16": "10.1.0.1/16", "10.1.0.1/16": "10.1.0.2/16"} {
		st, err = New(Config{}, WithLogger(zap.NewNop()), WithAddr(addr), WithShards(1))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Config().HostAddr.String(); got != want {
			t.Fatalf("HostAddr for %s = %s, want %s", addr, got, want)
		}
	}

	// Kernel: a bare address, prefix dropped.
	st, err = New(Config{Driver: DriverKernel}, WithLogger(zap.NewNop()), WithAddr("127.0.0.1"), WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Config().Addr.String(); got != "127.0.0.1/32" {
		t.Fatalf("kernel Addr = %s", got)
	}

	// TCP options reach tcp.Config, and WithTCP adjustments compose.
	st, err = New(Config{Congestion: "newreno", Keepalive: 30 * time.Second, MaxConns: 77}, WithLogger(zap.NewNop()),
		WithTCP(func(c *tcp.Config) { c.SynBacklog = 9 }), WithTCP(func(c *tcp.Config) { c.MaxConns++ }))
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.Config()
	tc := cfg.tcpConfig()
	if tc.Congestion != "newreno" || tc.Keepalive != int64(30*time.Second) || tc.SynBacklog != 9 || tc.MaxConns != 78 {
		t.Fatalf("tcp.Config %+v", *tc)
	}
}

func TestLogLevelEnv(t *testing.T) {
	t.Setenv(LogEnv, "loud")
	_, err := New(Config{Shards: 1})
	if err == nil || !strings.Contains(err.Error(), "SHARDNET_LOG") || !strings.Contains(err.Error(), `"loud"`) {
		t.Fatalf("bad $SHARDNET_LOG: %v", err)
	}
	t.Setenv(LogEnv, "debug")
	st, err := New(Config{Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Logger().Core().Enabled(zap.DebugLevel) {
		t.Fatal("SHARDNET_LOG=debug: debug not enabled")
	}
	t.Setenv(LogEnv, "off")
	st, err = New(Config{Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Logger().Core().Enabled(zap.ErrorLevel) {
		t.Fatal("SHARDNET_LOG=off still logs errors")
	}
}

// TestLifecycleWithoutStart covers the calls that need no device.
func TestLifecycleWithoutStart(t *testing.T) {
	st, err := New(Config{Shards: 1}, WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HandleStream(7, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("HandleStream with no constructor: %v", err)
	}
	if _, err := st.Samples(t.Context()); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Samples before Start: %v", err)
	}
	if err := st.Stop(t.Context()); err != nil {
		t.Fatalf("Stop of a stack never started: %v", err)
	}
	if err := st.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("Start after Stop: %v", err)
	}
	select {
	case <-st.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
}
