package shardnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
	"github.com/shardnet/shardnet/tcp"
)

// echoHandler echoes, and closes when the peer has and all is echoed.
type echoHandler struct{}

func (echoHandler) OnOpen(c stream.Conn, now int64)                {}
func (echoHandler) OnData(c stream.Conn, b []byte, now int64) int  { return c.Write(b, now) }
func (echoHandler) OnWritable(c stream.Conn, now int64)            { c.Resume(now) }
func (echoHandler) OnPeerClosed(c stream.Conn, now int64)          { c.Close(now) }
func (echoHandler) OnClose(stream.Conn, stream.CloseReason, int64) {}
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRunningStack: services added after Start, Do, Samples and the
// lifecycle errors, on the kernel backend (loopback, no root needed).
func TestRunningStack(t *testing.T) {
	n := shardsForTest()
	st, err := New(Config{Driver: DriverKernel, Shards: n, Logger: zaptest.NewLogger(t)}, WithAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	var setupRan [2]bool
	if err := st.Do(context.Background(), func(s *shard.Shard, h stream.Host) error {
		setupRan[s.ID] = h != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop(context.Background()) })
	if err := st.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	for i := 0; i < n; i++ {
		if !setupRan[i] {
			t.Fatalf("Do before Start did not run on shard %d", i)
		}
	}

	port := freePort(t)
	if err := st.HandleStream(uint16(port), func(int) stream.Handler { return echoHandler{} }); err != nil {
		t.Fatal(err)
	}
	if err := st.HandleStream(uint16(port), func(int) stream.Handler { return echoHandler{} }); !errors.Is(err, ErrConfig) {
		t.Fatalf("a second service on port %d: %v", port, err)
	}
	c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello"))
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Fatalf("echo from a service added while running: %q %v", got, err)
	}

	// Do runs on each shard's own thread, once each.
	seen := make([]int, n)
	if err := st.Do(context.Background(), func(s *shard.Shard, h stream.Host) error {
		seen[s.ID]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, k := range seen {
		if k != 1 {
			t.Fatalf("Do ran %d times on shard %d", k, i)
		}
	}
	err = st.Do(context.Background(), func(s *shard.Shard, h stream.Host) error {
		if s.ID == 0 {
			return errors.New("boom")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "shard 0: boom") {
		t.Fatalf("Do's error: %v", err)
	}

	samples, err := st.Samples(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var accepted uint64
	for i, s := range samples {
		if s.Shard != i || s.Driver != "kernel" {
			t.Fatalf("sample %d: shard %d driver %q", i, s.Shard, s.Driver)
		}
		accepted += s.Kernel.Accepted
	}
	if accepted != 1 {
		t.Fatalf("samples count %d accepted connections, want 1", accepted)
	}

	// An echo connection that stays open holds Stop until ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := st.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with an open echo connection: %v", err)
	}
	c.Close()
	if err := st.Stop(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second Stop returns the first's result; got %v", err)
	}
	if err := st.Do(context.Background(), func(*shard.Shard, stream.Host) error { return nil }); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Do after Stop: %v", err)
	}
	if err := st.HandleHTTP(1, http.Config{Handler: http.Plaintext}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("HandleHTTP after Stop: %v", err)
	}
	final, err := st.Samples(context.Background())
	if err != nil || len(final) != n {
		t.Fatalf("Samples after Stop: %d, %v", len(final), err)
	}
}

// TestStartFailureCleansUp: a service whose set-up fails on the shards
// fails Start, and the TAP device is removed again.
func TestStartFailureCleansUp(t *testing.T) {
	nstest.RequireRoot(t)
	ns := nstest.New(t, "shn-sfail")
	subnet := 1 + rand.IntN(250)
	iface := fmt.Sprintf("shf%x", rand.Uint32())
	st, err := New(Config{Iface: iface, Addr: netip.MustParsePrefix(fmt.Sprintf("198.18.%d.2/24", subnet)),
		Shards: 1, Frames: 1024, NetNS: ns.Handle, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HandleHTTP(80, http.Config{Handler: http.Plaintext, MaxBodyBytes: -1}); err != nil {
		t.Fatal(err)
	}
	err = st.Start()
	if err == nil || !strings.Contains(err.Error(), "HandleHTTP(80)") || !strings.Contains(err.Error(), "negative limit") {
		t.Fatalf("Start with a bad http.Config: %v", err)
	}
	if out, err := ns.Run(10*time.Second, "ip", "link", "show", iface); err == nil {
		t.Fatalf("TAP device %s left behind by a failed Start:\n%s", iface, out)
	}
	select {
	case <-st.Done():
	default:
		t.Fatal("Done not closed after a failed Start")
	}
	if err := st.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after a failed Start: %v", err)
	}
}

// TestAddHTTPCoversStats guards addHTTP against fields added to
// http.Stats later: every numeric field of a sum of two samples of ones
// is 2 (PipelinedMax, a maximum, is 1).
func TestAddHTTPCoversStats(t *testing.T) {
	var one http.Stats
	v := reflect.ValueOf(&one).Elem()
	var set func(reflect.Value)
	set = func(f reflect.Value) {
		switch f.Kind() {
		case reflect.Uint64:
			f.SetUint(1)
		case reflect.Int:
			f.SetInt(1)
		case reflect.Array:
			for i := 0; i < f.Len(); i++ {
				set(f.Index(i))
			}
		case reflect.Struct:
			for i := 0; i < f.NumField(); i++ {
				set(f.Field(i))
			}
		}
	}
	set(v)
	var sum http.Stats
	addHTTP(&sum, one)
	addHTTP(&sum, one)
	sv := reflect.ValueOf(sum)
	var check func(name string, f reflect.Value)
	check = func(name string, f reflect.Value) {
		want := int64(2)
		if name == "PipelinedMax" {
			want = 1
		}
		switch f.Kind() {
		case reflect.Uint64:
			if int64(f.Uint()) != want {
				t.Errorf("%s = %d, want %d", name, f.Uint(), want)
			}
		case reflect.Int:
			if f.Int() != want {
				t.Errorf("%s = %d, want %d", name, f.Int(), want)
			}
		case reflect.Array:
			for i := 0; i < f.Len(); i++ {
				check(fmt.Sprintf("%s[%d]", name, i), f.Index(i))
			}
		}
	}
	for i := 0; i < sv.NumField(); i++ {
		check(sv.Type().Field(i).Name, sv.Field(i))
	}
}

// TestLogLimits: the limits hit between two samples are logged once, as
// deltas, and nothing is logged when no limit was hit.
func TestLogLimits(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	st := &Stack{log: zap.New(core)}
	prev := []Sample{{Shard: 0}, {Shard: 1}}
	cur := []Sample{{Shard: 0}, {Shard: 1}}
	cur[1].TCP.Drops[tcp.DropConnLimit] = 7
	cur[1].Slab.AllocFail = 2
	st.logLimits(prev, cur)
	st.logLimits(cur, cur)
	entries := logs.All()
	if len(entries) != 1 || entries[0].Level != zap.WarnLevel {
		t.Fatalf("want one warning, got %v", entries)
	}
	f := entries[0].ContextMap()
	if f["shard"] != int64(1) || f["conn_limit"] != uint64(7) || f["slab_alloc_fail"] != uint64(2) || len(f) != 3 {
		t.Fatalf("warning fields %v", f)
	}
}

// BenchmarkSamples measures one Samples call: a func posted to every
// shard's inbox and the wait for all of them (kernel backend, idle).
func BenchmarkSamples(b *testing.B) {
	st, err := New(Config{Driver: DriverKernel, Shards: shardsForTest(), Logger: zap.NewNop()}, WithAddr("127.0.0.1"))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Start(); err != nil {
		b.Fatal(err)
	}
	defer st.Stop(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Samples(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
