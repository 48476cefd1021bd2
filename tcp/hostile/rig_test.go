package hostile

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/internal/nstest"
	"github.com/shardnet/shardnet/internal/xfer"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/nic/tap"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/tcp"
)

const (
	xferPort = 5001 // xfer.Handler: the legitimate kernel clients
	peerPort = 5003 // peerApp: connections of the made-up host
)

// rig is one shard with TCP on a TAP device inside a fresh namespace, plus
// a made-up host on the link (fake MAC and address) driven through an
// AF_PACKET socket.
type rig struct {
	t       testing.TB
	ns      *nstest.NS
	dev     *tap.Device
	ifname  string
	group   *shard.Group
	loop    *reactor.Loop
	slab    *buf.Slab
	subnet  byte
	stack   [4]byte // the shard
	host    [4]byte // the kernel's end of the TAP
	fake    [4]byte // the made-up host
	stackMA [6]byte
	fakeMA  [6]byte
	xh      *xfer.Handler
	app     *peerApp
	sock    *rawSock // capture + inject, filtered to frames for fakeMA

	fenceRST []byte // resets the last fence's half-open connection

	resMu      sync.Mutex
	shardFails []string
	final      chan string
}

type rigConfig struct {
	tcp tcp.Config
}

func newRig(t *testing.T, cfg rigConfig) *rig {
	t.Helper()
	nstest.RequireRoot(t)
	subnet := byte(1 + rand.IntN(250))
	r := &rig{
		t:       t,
		ns:      nstest.New(t, "shn-hos"),
		ifname:  fmt.Sprintf("shh%x", rand.Uint32()),
		subnet:  subnet,
		stack:   [4]byte{198, 18, subnet, 2},
		host:    [4]byte{198, 18, subnet, 1},
		fake:    [4]byte{198, 18, subnet, 3},
		stackMA: [6]byte{0x02, 0x5e, 0, 0, subnet, 2},
		fakeMA:  [6]byte{0x02, 0x66, 0x61, 0x6b, subnet, 3},
		app:     newPeerApp(),
		final:   make(chan string, 1),
	}
	results := make(chan xfer.Result, 4096)
	r.xh = &xfer.Handler{Results: results}
	go func() {
		for res := range results {
			if res.Err != nil {
				r.resMu.Lock()
				r.shardFails = append(r.shardFails, fmt.Sprintf("%v:%d: %v", res.Remote, res.Port, res.Err))
				r.resMu.Unlock()
			}
		}
	}()
	// No IPv6: the kernel's router solicitations and MLD reports would
	// move the shard's link-layer drop counters under the cases' feet.
	r.ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	var err error
	// No virtio header: every frame the shard receives has its checksums
	// checked in software, so a bad checksum cannot hide behind DATA_VALID.
	r.dev, err = tap.Open(tap.Config{Name: r.ifname, Queues: 1,
		HostAddr: netip.PrefixFrom(netip.AddrFrom4(r.host), 24), NetNS: r.ns.Handle})
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
		q, err := r.dev.Queue(0, slab)
		if err != nil {
			return err
		}
		tc := cfg.tcp
		l, err := reactor.New(reactor.Config{Queue: q, Slab: slab, Shard: s, TCP: &tc,
			IP: ip.Config{MAC: r.stackMA, Addr: r.stack, PrefixLen: 24}})
		if err != nil {
			return err
		}
		if err := l.TCP().Listen(xferPort, r.xh); err != nil {
			return err
		}
		if err := l.TCP().Listen(peerPort, r.app); err != nil {
			return err
		}
		r.slab = slab
		ready <- l
		err = l.Run()
		st := l.TCP().Stats()
		q.Close()
		r.final <- fmt.Sprintf("tcp %+v\nip %+v\nslab in use after stop: %d", st, l.IP().Stats(), slab.InUse())
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
	r.sock = openRaw(t, r.ns, r.ifname, macFilter(r.fakeMA))
	r.announce()
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

// counters is a snapshot of the shard's counters.
type counters struct {
	ip    ip.Stats
	tcp   tcp.Stats
	conns int
	slab  int
	timer int
}

func (r *rig) counters() counters {
	var c counters
	r.onShard(func() {
		c.ip, c.tcp = r.loop.IP().Stats(), r.loop.TCP().Stats()
		c.conns, c.slab, c.timer = r.loop.TCP().Conns(), r.slab.InUse(), r.loop.Wheel().Len()
	})
	return c
}

// announce makes the shard learn the made-up host: an ARP request from it
// for the shard's address (RFC 826: the target learns the sender), whose
// reply is read back.
func (r *rig) announce() {
	r.t.Helper()
	r.sock.send(r.t, arpRequest(r.fakeMA, r.fake, r.stack))
	r.sock.expect(r.t, "ARP reply to the made-up host", 5*time.Second, func(f frame) bool {
		return f.isARPReplyFrom(r.stack)
	})
}

// fence proves that the shard has handled everything injected before it:
// a valid SYN from a fresh port of the made-up host must be answered with
// a SYN-ACK; every frame the shard sent before that SYN-ACK is returned
// (the injected frames' answers, if any). The fence's half-open
// connection is reset (RST at RCV.NXT, which moves no drop counter) at
// the start of the next fence, so that exactly one such RST lies between
// two fences and counters read after fences move predictably.
func (r *rig) fence() []frame {
	r.t.Helper()
	if r.fenceRST != nil {
		r.sock.send(r.t, r.fenceRST)
	}
	port := uint16(20000 + rand.IntN(20000))
	iss := rand.Uint32()
	r.sock.send(r.t, r.seg(segSpec{sport: port, dport: peerPort, seq: iss, flags: fSYN, window: 65535}).build())
	var before []frame
	r.sock.expectCollect(r.t, "fence SYN-ACK", 10*time.Second, func(f frame) bool {
		return f.isTCP(r.stack, peerPort, port) && f.tcp.Flags() == fSYN|fACK && uint32(f.tcp.Ack()) == iss+1
	}, &before)
	r.fenceRST = r.seg(segSpec{sport: port, dport: peerPort, seq: iss + 1, flags: fRST}).build()
	return before
}

// seg fills in the made-up host's defaults: from fakeMA/fake to the shard.
func (r *rig) seg(s segSpec) *segSpec {
	if s.srcMAC == ([6]byte{}) {
		s.srcMAC = r.fakeMA
	}
	if s.dstMAC == ([6]byte{}) {
		s.dstMAC = r.stackMA
	}
	if s.src == ([4]byte{}) {
		s.src = r.fake
	}
	if s.dst == ([4]byte{}) {
		s.dst = r.stack
	}
	if s.ttl == 0 {
		s.ttl = 64
	}
	return &s
}

// legit runs verified transfers from kernel clients in the namespace to
// the shard, one after another on each of n goroutines, until stopped.
type legit struct {
	r      *rig
	size   uint64
	stopc  chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	done   int
	fails  []string
	bytes  uint64
	wakeup chan struct{}
}

func (r *rig) startLegit(n int, size uint64) *legit {
	g := &legit{r: r, size: size, stopc: make(chan struct{}), wakeup: make(chan struct{}, 1)}
	for i := 0; i < n; i++ {
		g.wg.Add(1)
		go g.run()
	}
	r.t.Cleanup(g.stop)
	return g
}

func (g *legit) run() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stopc:
			return
		default:
		}
		err := g.once()
		g.mu.Lock()
		if err != nil {
			g.fails = append(g.fails, err.Error())
		} else {
			g.done++
			g.bytes += 2 * g.size
		}
		g.mu.Unlock()
		select {
		case g.wakeup <- struct{}{}:
		default:
		}
	}
}

func (g *legit) once() error {
	deadline := time.Now().Add(60 * time.Second)
	hdr := xfer.Header{Up: g.size, Down: g.size, Seed: rand.Uint64()}
	var c *net.TCPConn
	err := g.r.ns.Do(func() error {
		d := net.Dialer{Deadline: deadline, KeepAlive: -1}
		nc, err := d.Dial("tcp4", netip.AddrPortFrom(netip.AddrFrom4(g.r.stack), xferPort).String())
		if err == nil {
			c = nc.(*net.TCPConn)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	return xfer.KernelClient(c, hdr, deadline)
}

func (g *legit) stop() {
	select {
	case <-g.stopc:
	default:
		close(g.stopc)
	}
	g.wg.Wait()
}

func (g *legit) status() (done int, fails []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done, append([]string(nil), g.fails...)
}

// servedSince waits until a transfer has completed after the mark (a
// count from status) and fails on any failed transfer, kernel or shard
// side: the shard kept serving intact bytes.
func (g *legit) servedSince(t testing.TB, mark int) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		done, fails := g.status()
		if len(fails) > 0 {
			t.Fatalf("legitimate transfers failed: %s", strings.Join(fails, "; "))
		}
		if done > mark {
			break
		}
		select {
		case <-g.wakeup:
		case <-deadline:
			t.Fatalf("no legitimate transfer completed within 60 s (%d done)", done)
		}
	}
	g.r.resMu.Lock()
	defer g.r.resMu.Unlock()
	if len(g.r.shardFails) > 0 {
		t.Fatalf("legitimate transfers failed on the shard side: %s", strings.Join(g.r.shardFails, "; "))
	}
}

// peerApp serves the made-up host's connections on the shard: it keeps
// what arrives, and closes at once when told to (for TIME-WAIT).
type peerApp struct {
	conns      map[uint16]*peerConn // by remote port; shard thread only
	closeFirst map[uint16]bool
}

type peerConn struct {
	c      *tcp.Conn
	open   bool
	data   []byte
	closed bool
	reason tcp.CloseReason
	info   tcp.Info // at OnClose
}

func newPeerApp() *peerApp {
	return &peerApp{conns: map[uint16]*peerConn{}, closeFirst: map[uint16]bool{}}
}

func (a *peerApp) get(c *tcp.Conn) *peerConn {
	_, port := c.RemoteAddr()
	pc := a.conns[port]
	if pc == nil || pc.c != c {
		pc = &peerConn{c: c}
		a.conns[port] = pc
	}
	return pc
}

func (a *peerApp) OnOpen(c *tcp.Conn, now int64) {
	a.get(c).open = true
	if _, port := c.RemoteAddr(); a.closeFirst[port] {
		c.Close(now)
	}
}

func (a *peerApp) OnData(c *tcp.Conn, d []byte, now int64) int {
	pc := a.get(c)
	pc.data = append(pc.data, d...)
	return len(d)
}

func (a *peerApp) OnWritable(c *tcp.Conn, now int64) {}

func (a *peerApp) OnPeerClosed(c *tcp.Conn, now int64) { c.Close(now) }

func (a *peerApp) OnClose(c *tcp.Conn, r tcp.CloseReason, now int64) {
	pc := a.get(c)
	pc.closed, pc.reason, pc.info = true, r, c.Info()
	pc.c = nil
}

// peerState is a copy of a peerConn, taken on the shard thread.
type peerState struct {
	found  bool
	open   bool
	closed bool
	reason tcp.CloseReason
	data   string
	state  tcp.State
}

func (r *rig) peerState(port uint16) peerState {
	var s peerState
	r.onShard(func() {
		pc := r.app.conns[port]
		if pc == nil {
			return
		}
		s = peerState{found: true, open: pc.open, closed: pc.closed, reason: pc.reason, data: string(pc.data)}
		if pc.c != nil {
			s.state = pc.c.State()
		} else {
			s.state = pc.info.State
		}
	})
	return s
}
