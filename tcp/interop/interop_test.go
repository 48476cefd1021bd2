package interop

// Interop tests: shardnet's TCP against the Linux kernel's, over a TAP
// device in a namespace of the test's own, in both roles, with and
// without faults injected by nic/fault in both directions. Every byte is
// checked against its generator and by SHA-256 (internal/xfer).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/internal/xfer"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/nic/fault"
	"github.com/shardnet/shardnet/nic/tap"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/tcp"
)

const (
	shardPort  = 5001
	kernelPort = 5002
)

type rigConfig struct {
	faults *fault.Config // nil: no fault wrapper
	tcp    tcp.Config
}

// rig is one shard with TCP on a TAP device inside a fresh namespace.
type rig struct {
	t       testing.TB
	ns      *nstest.NS
	dev     *tap.Device
	group   *shard.Group
	loop    *reactor.Loop
	fq      *fault.Queue
	stack   netip.Addr
	host    netip.Addr
	h       *xfer.Handler
	results chan xfer.Result
	final   chan string // the shard's counters and leak check at stop
}

func newRig(t testing.TB, cfg rigConfig) *rig {
	t.Helper()
	nstest.RequireRoot(t)
	subnet := byte(1 + rand.IntN(250))
	r := &rig{
		t:       t,
		ns:      nstest.New(t, "shn-tcp"),
		stack:   netip.AddrFrom4([4]byte{198, 18, subnet, 2}),
		host:    netip.AddrFrom4([4]byte{198, 18, subnet, 1}),
		results: make(chan xfer.Result, 1024),
		final:   make(chan string, 1),
	}
	r.h = &xfer.Handler{Results: r.results}
	var err error
	r.dev, err = tap.Open(tap.Config{
		Name: fmt.Sprintf("shn%x", rand.Uint32()), Queues: 1, VnetHdr: true,
		HostAddr: netip.PrefixFrom(r.host, 24), NetNS: r.ns.Handle,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.dev.Close() })
	ready := make(chan *reactor.Loop, 1)
	r.group, err = shard.Start(shard.Config{Shards: 1}, func(s *shard.Shard) error {
		slab, err := buf.NewSlab(buf.DefaultFrames, buf.DefaultFrameSize, buf.DefaultHeadroom)
		if err != nil {
			return err
		}
		tq, err := r.dev.Queue(0, slab)
		if err != nil {
			return err
		}
		var q nic.Queue = tq
		if cfg.faults != nil {
			fc := *cfg.faults
			fc.Clock = reactor.Monotonic
			r.fq = fault.Wrap(tq, fc)
			q = r.fq
		}
		tc := cfg.tcp
		l, err := reactor.New(reactor.Config{
			Queue: q, Slab: slab, Shard: s, TCP: &tc,
			IP: ip.Config{MAC: [6]byte{0x02, 0x5e, 0, 0, subnet, 2}, Addr: r.stack.As4(), PrefixLen: 24},
		})
		if err != nil {
			return err
		}
		if err := l.TCP().Listen(shardPort, r.h); err != nil {
			return err
		}
		ready <- l
		err = l.Run()
		st := l.TCP().Stats()
		q.Close()
		r.final <- fmt.Sprintf("tcp %+v\nip drops %+v\nslab in use after stop: %d", st, l.IP().Stats().Drops, slab.InUse())
		if n := slab.InUse(); n != 0 && err == nil {
			err = fmt.Errorf("slab leak: %d frames in use after stop", n)
		}
		slab.Close()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r.loop = <-ready
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	if r.group == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.group.Stop(ctx); err != nil {
		r.t.Errorf("stop: %v", err)
	}
	if err := r.group.Wait(); err != nil {
		r.t.Errorf("shard: %v", err)
	}
	r.group = nil
	if r.t.Failed() {
		r.t.Logf("shard at stop:\n%s", <-r.final)
	}
}

// onShard runs f on the shard thread and waits for it.
func (r *rig) onShard(f func()) {
	done := make(chan struct{})
	if err := r.group.Shards()[0].Inbox().Post(func() { f(); close(done) }); err != nil {
		r.t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.t.Fatal("shard did not run a posted func within 10 s")
	}
}

// dump logs every live connection and the fault counters (on timeout).
func (r *rig) dump() {
	var live []string
	var st tcp.Stats
	r.onShard(func() { live, st = r.h.Live(), r.loop.TCP().Stats() })
	r.t.Logf("%d live connections on the shard:\n  %s", len(live), strings.Join(live, "\n  "))
	r.t.Logf("tcp stats: %+v", st)
	if r.fq != nil {
		var fs fault.FaultStats
		r.onShard(func() { fs = r.fq.FaultStats() })
		r.t.Logf("faults: %+v", fs)
	}
}

func (r *rig) tcpStats() tcp.Stats {
	var st tcp.Stats
	r.onShard(func() { st = r.loop.TCP().Stats() })
	return st
}

// logStats logs the loss-recovery counters since before (for tuning
// recovery under faults: RTOs are what make a lossy transfer slow).
func (r *rig) logStats(before tcp.Stats, start time.Time) {
	st := r.tcpStats()
	r.t.Logf("%.2fs: RTOs %d, fast recoveries %d, TLPs %d, retransmits %d of %d data segments, OOO segments %d, delayed ACKs %d",
		time.Since(start).Seconds(), st.RTOs-before.RTOs, st.FastRetransmits-before.FastRetransmits, st.TLPs-before.TLPs,
		st.Retransmits-before.Retransmits, st.DataSegsOut-before.DataSegsOut, st.OOOSegs-before.OOOSegs, st.DelayedAcks-before.DelayedAcks)
}

// transfer is one connection's job.
type transfer struct{ up, down uint64 }

func (x transfer) String() string { return fmt.Sprintf("up=%d/down=%d", x.up, x.down) }

// matrix is every size in each direction and full duplex.
func matrix(sizes []uint64) []transfer {
	var m []transfer
	for _, n := range sizes {
		m = append(m, transfer{n, 0}, transfer{0, n}, transfer{n, n})
	}
	return m
}

// kernelClients: the kernel connects to the shard, one connection per job,
// all at once; both ends verify.
func (r *rig) kernelClients(jobs []transfer, timeout time.Duration) {
	t := r.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	errs := make(chan error, len(jobs))
	for i, j := range jobs {
		hdr := xfer.Header{Up: j.up, Down: j.down, Seed: rand.Uint64()}
		var c *net.TCPConn
		err := r.ns.Do(func() error {
			d := net.Dialer{Deadline: deadline}
			nc, err := d.Dial("tcp4", netip.AddrPortFrom(r.stack, shardPort).String())
			if err == nil {
				c = nc.(*net.TCPConn)
			}
			return err
		})
		if err != nil {
			r.dump()
			t.Fatalf("kernel dial %d (%v): %v", i, j, err)
		}
		go func() {
			if err := xfer.KernelClient(c, hdr, deadline); err != nil {
				errs <- fmt.Errorf("kernel client %v: %w", j, err)
				return
			}
			errs <- nil
		}()
	}
	r.collect(len(jobs), errs, deadline)
}

// shardClients: the shard connects to a kernel server, one connection per
// job, all at once; both ends verify.
func (r *rig) shardClients(jobs []transfer, timeout time.Duration) {
	t := r.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	var ln *net.TCPListener
	if err := r.ns.Do(func() error {
		l, err := net.Listen("tcp4", netip.AddrPortFrom(r.host, kernelPort).String())
		if err == nil {
			ln = l.(*net.TCPListener)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errs := make(chan error, len(jobs)+1)
	go xfer.KernelListen(ln, deadline, errs)
	r.onShard(func() {
		for _, j := range jobs {
			hdr := xfer.Header{Up: j.up, Down: j.down, Seed: rand.Uint64()}
			if err := r.h.DialWith(r.loop.TCP(), r.host.As4(), kernelPort, hdr, r.loop.Now()); err != nil {
				errs <- fmt.Errorf("dial %v: %w", j, err)
			}
		}
	})
	r.collect(len(jobs), errs, deadline)
}

// collect waits for n kernel-side and n shard-side outcomes.
func (r *rig) collect(n int, kernel <-chan error, deadline time.Time) {
	t := r.t
	t.Helper()
	timer := time.NewTimer(time.Until(deadline) + 5*time.Second)
	defer timer.Stop()
	var failed []string
	for k, s := 0, 0; k < n || s < n; {
		select {
		case err := <-kernel:
			k++
			if err != nil {
				failed = append(failed, err.Error())
			}
		case res := <-r.results:
			s++
			if res.Err != nil {
				failed = append(failed, fmt.Sprintf("shard side %v (up %d down %d): %v", res.Remote, res.Header.Up, res.Header.Down, res.Err))
			}
		case <-timer.C:
			r.dump()
			t.Fatalf("deadline passed with %d/%d kernel and %d/%d shard outcomes; failures so far: %v", k, n, s, n, failed)
		}
	}
	if len(failed) > 0 {
		r.dump()
		t.Fatalf("%d transfer sides failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
}

var sizes = []uint64{0, 1, 1460, 64 << 10, 16 << 20}

func TestInteropKernelToShard(t *testing.T) {
	r := newRig(t, rigConfig{})
	r.kernelClients(matrix(sizes), 60*time.Second)
}

func TestInteropShardToKernel(t *testing.T) {
	r := newRig(t, rigConfig{})
	r.shardClients(matrix(sizes), 60*time.Second)
}

func TestInterop100Concurrent(t *testing.T) {
	r := newRig(t, rigConfig{})
	jobs := make([]transfer, 100)
	for i := range jobs {
		jobs[i] = transfer{uint64(rand.IntN(64 << 10)), uint64(rand.IntN(64 << 10))}
	}
	t.Run("kernel-clients", func(t *testing.T) { r.t = t; r.kernelClients(jobs, 60*time.Second) })
	t.Run("shard-clients", func(t *testing.T) { r.t = t; r.shardClients(jobs, 60*time.Second) })
}

// TestInteropUnderFaults runs the matrix in both roles with faults on the
// shard's queue in both directions.
func TestInteropUnderFaults(t *testing.T) {
	for _, fc := range []struct {
		name string
		f    fault.Faults
	}{
		{"loss1", fault.Faults{Drop: 0.01}},
		{"loss5", fault.Faults{Drop: 0.05}},
		{"dup1", fault.Faults{Duplicate: 0.01}},
		{"reorder5", fault.Faults{Reorder: 0.05}},
		{"corrupt1", fault.Faults{Corrupt: 0.01}},
	} {
		t.Run(fc.name, func(t *testing.T) {
			seed := rand.Uint64()
			t.Logf("fault seed %d", seed)
			r := newRig(t, rigConfig{faults: &fault.Config{Seed: seed, Rx: fc.f, Tx: fc.f}})
			t.Run("kernel-clients", func(t *testing.T) {
				r.t = t
				defer r.logStats(r.tcpStats(), time.Now())
				r.kernelClients(matrix(sizes), 120*time.Second)
			})
			t.Run("shard-clients", func(t *testing.T) {
				r.t = t
				defer r.logStats(r.tcpStats(), time.Now())
				r.shardClients(matrix(sizes), 120*time.Second)
			})
			var fs fault.FaultStats
			r.onShard(func() { fs = r.fq.FaultStats() })
			injected := fs.Rx.Dropped + fs.Rx.Duplicated + fs.Rx.Reordered + fs.Rx.Corrupted +
				fs.Tx.Dropped + fs.Tx.Duplicated + fs.Tx.Reordered + fs.Tx.Corrupted
			if injected == 0 {
				t.Fatalf("no fault was injected: %+v", fs)
			}
			t.Logf("faults injected: rx %+v tx %+v", fs.Rx, fs.Tx)
			if fs.Rx.Corrupted > 0 {
				// Corrupted frames must have been caught by a checksum on
				// each side, not merely outvoted by retransmissions.
				var ipSt ip.Stats
				var tcpSt tcp.Stats
				r.onShard(func() { ipSt, tcpSt = r.loop.IP().Stats(), r.loop.TCP().Stats() })
				ours := ipSt.Drops[ip.DropIPv4Checksum] + tcpSt.Drops[tcp.DropBadChecksum]
				kernel := kernelCsumErrors(t, r.ns)
				t.Logf("checksum rejections: shard %d (ip %d, tcp %d), kernel %d", ours,
					ipSt.Drops[ip.DropIPv4Checksum], tcpSt.Drops[tcp.DropBadChecksum], kernel)
				if ours == 0 || kernel == 0 {
					t.Fatalf("corruption was not caught by checksums: shard %d, kernel %d", ours, kernel)
				}
			}
		})
	}
}

// kernelCsumErrors sums the namespace's IP header and TCP checksum error
// counters from /proc/net/snmp.
func kernelCsumErrors(t testing.TB, ns *nstest.NS) uint64 {
	t.Helper()
	out := ns.MustRun(t, "cat", "/proc/net/snmp")
	lines := strings.Split(out, "\n")
	var total uint64
	for i := 0; i+1 < len(lines); i++ {
		names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || len(names) != len(vals) || names[0] != vals[0] {
			continue
		}
		for k, n := range names {
			if (names[0] == "Ip:" && n == "InHdrErrors") || (names[0] == "Tcp:" && n == "InCsumErrors") {
				var v uint64
				fmt.Sscan(vals[k], &v)
				total += v
			}
		}
	}
	return total
}
