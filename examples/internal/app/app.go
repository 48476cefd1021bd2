// Package app is what the example programs share on top of package
// shardnet: the driver flags, the logger, the banner, and the run loop —
// start, wait for SIGINT/SIGTERM, drain with a deadline, print the
// per-shard report, and the exit status.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	shardnet "github.com/shardnet/shardnet"
	"github.com/shardnet/shardnet/buf"
)

// Flags are the flags every example takes.
type Flags struct {
	Driver       string
	Iface        string
	Addr         string
	HostAddr     string
	Shards       int
	CPUs         string
	VnetHdr      bool
	Frames       int
	Admin        string
	LogLevel     string
	DrainTimeout time.Duration
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Driver, "driver", "tap", "stack and driver: tap (shardnet over a TAP device it creates), afxdp (shardnet over AF_XDP on -iface), kernel (the same application on Linux's TCP stack)")
	fs.StringVar(&f.Iface, "iface", "shn0", "interface: the TAP device to create (tap) or the NIC to attach to (afxdp)")
	fs.StringVar(&f.Addr, "addr", "198.18.0.2/24", "the stack's IPv4 address/prefix (kernel: the address to listen on; a /prefix is ignored)")
	fs.StringVar(&f.HostAddr, "host-addr", "198.18.0.1/24", "tap: address/prefix given to the host side of the TAP device")
	fs.IntVar(&f.Shards, "shards", 1, "number of shards (pinned threads, one NIC queue each)")
	fs.StringVar(&f.CPUs, "cpus", "", "CPUs for the shards, e.g. 0-1 (default: the process's allowed CPUs in order)")
	fs.BoolVar(&f.VnetHdr, "vnet-hdr", true, "tap: use virtio-net headers (checksum offload)")
	fs.IntVar(&f.Frames, "frames", buf.DefaultFrames, "packet buffers per shard")
	fs.StringVar(&f.Admin, "admin", "", "address for the admin listener (/metrics, /debug/pprof/) on the kernel's stack, e.g. 127.0.0.1:9090; empty: none")
	level := os.Getenv(shardnet.LogEnv)
	if level == "" {
		level = "info"
	}
	fs.StringVar(&f.LogLevel, "log-level", level, "log level: debug, info, warn, error or off (default from $"+shardnet.LogEnv+")")
	fs.DurationVar(&f.DrainTimeout, "drain-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long to let connections finish before they are reset")
}

// New makes the logger and the (not yet started) stack the flags
// describe. Its errors are the user's to fix: exit with status 2.
func (f *Flags) New() (*shardnet.Stack, error) {
	log, err := shardnet.NewLogger(f.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := []shardnet.Option{
		shardnet.WithDriver(shardnet.Driver(f.Driver)),
		shardnet.WithIface(f.Iface),
		shardnet.WithAddr(f.Addr),
		shardnet.WithShards(f.Shards),
		shardnet.WithFrames(f.Frames),
		shardnet.WithAdmin(f.Admin),
		shardnet.WithLogger(log),
	}
	if f.Driver == string(shardnet.DriverTAP) {
		opts = append(opts, shardnet.WithHostAddr(f.HostAddr))
	}
	if f.CPUs != "" {
		opts = append(opts, shardnet.WithCPUs(f.CPUs))
	}
	return shardnet.New(shardnet.Config{NoVnetHdr: !f.VnetHdr}, opts...)
}

// Run starts st, prints the banner (what it serves; try: a command to
// reach it), waits for SIGINT or SIGTERM (or a shard failure), drains for
// up to drain, and writes the per-shard report to out. It returns the
// process's exit status: 0 after a signal and a stop without errors
// (connections the drain had to reset are logged, not an error), 1
// otherwise.
func Run(st *shardnet.Stack, out io.Writer, drain time.Duration, what, try string) int {
	log := st.Logger()
	// Signals are caught from here on, so that one arriving during Start
	// still stops the stack cleanly.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	if err := st.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	Banner(out, st, what, try)
	var runErr error
	select {
	case s := <-sig:
		log.Info("stopping", zap.Stringer("signal", s), zap.Duration("drain_timeout", drain))
	case <-st.Done():
		runErr = st.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := st.Stop(ctx)
	if samples, serr := st.Samples(context.Background()); serr == nil {
		shardnet.WriteReport(out, samples)
	}
	switch {
	case runErr != nil:
		fmt.Fprintln(os.Stderr, runErr)
		return 1
	case err == context.DeadlineExceeded:
		return 0 // a drain cut short: logged by Stop
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// Banner says how to reach the stack; try is the command to suggest.
func Banner(w io.Writer, st *shardnet.Stack, what, try string) {
	cfg := st.Config()
	switch cfg.Driver {
	case shardnet.DriverTAP:
		fmt.Fprintf(w, "shardnet: %s on %s over TAP device %s (host side %s)\n", what, st.Addr(), st.Iface(), cfg.HostAddr)
	case shardnet.DriverAFXDP:
		fmt.Fprintf(w, "shardnet: %s on %s over AF_XDP on %s\n", what, st.Addr(), st.Iface())
	default:
		fmt.Fprintf(w, "shardnet: %s on %s on the kernel's TCP stack\n", what, st.Addr())
	}
	if a := st.AdminAddr(); a != nil {
		fmt.Fprintf(w, "shardnet: admin on http://%s/metrics and http://%s/debug/pprof/\n", a, a)
	}
	fmt.Fprintf(w, "shardnet: try: %s    (Ctrl-C to stop)\n", try)
}

// Fail prints a start-up error for the program called name and exits: 2
// for a bad configuration, 1 otherwise.
func Fail(name string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	if errors.Is(err, shardnet.ErrConfig) {
		os.Exit(2)
	}
	os.Exit(1)
}
