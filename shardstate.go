package shardnet

import (
	"fmt"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/internal/metrics"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/kstack"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
	"github.com/shardnet/shardnet/tcp"
)

// drainPoll is how often a draining shard checks whether its connections
// are gone.
const drainPoll = int64(5 * time.Millisecond)

// A Drainer is told when the stack starts to stop, on its shard's thread:
// it should finish what is in progress and close its connections
// gracefully (http.Server.Drain is one). HandleStream calls Drain on a
// handler that implements it; Stop then waits for the shard's connections
// to close.
type Drainer interface {
	Drain(now int64)
}

// shardState is one shard's part of the Stack. Everything in it belongs
// to the shard's thread, except id and stack (read-only) and final, which
// is written as the shard's run returns and read after the group is done.
type shardState struct {
	id    int
	stack *Stack

	sh   *shard.Shard
	host stream.Host
	loop *reactor.Loop // shardnet drivers
	kh   *kstack.Host  // DriverKernel
	q    nic.Queue
	slab *buf.Slab

	ports    []uint16
	servers  []*http.Server
	drainers []Drainer

	drainT  timer.Timer
	drained chan<- int // where the drain check reports, once

	final Sample
	leak  int // slab frames still held when the shard stopped
}

func newShardState(id int, st *Stack) *shardState {
	ss := &shardState{id: id, stack: st}
	ss.drainT.Init(ss.checkDrained)
	return ss
}

// run is a shardnet shard's life: map its slab, open its queue, build its
// loop, run the services' set-up, report on ready, loop until stopped,
// then record its counters and release everything.
func (ss *shardState) run(s *shard.Shard, ipcfg ip.Config, tcpCfg *tcp.Config, fwd *reactor.Forwarder,
	setups []func(*shardState) error, ready chan<- error) (err error) {
	ss.sh = s
	reported := false
	defer func() {
		if !reported {
			ready <- err
		}
	}()
	// The slab is mapped (and its pages touched) on the shard's own pinned
	// thread, so its memory is local to that CPU.
	slab, err := buf.NewSlab(ss.stack.cfg.Frames, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		return err
	}
	q, err := ss.stack.dev.Queue(s.ID, slab)
	if err != nil {
		slab.Close()
		return err
	}
	ss.q, ss.slab = q, slab
	l, err := reactor.New(reactor.Config{Queue: q, Slab: slab, IP: ipcfg, TCP: tcpCfg, Shard: s, Forwarder: fwd})
	if err == nil {
		ss.loop, ss.host = l, l
		err = ss.setup(setups)
		ready <- err
		reported = true
		if err == nil {
			err = l.Run() // returns once stopped, having aborted what was left
		} else {
			l.Close()
		}
	}
	ss.sample(&ss.final)
	q.Close() // gives back the frames the driver held (AF_XDP's fill ring)
	ss.leak = slab.InUse()
	ss.final.Slab, ss.final.SlabInUse = slab.Stats(), ss.leak
	if cerr := slab.Close(); err == nil && ss.leak == 0 {
		err = cerr
	}
	return err
}

// setup runs the registered set-ups in order on the shard's thread.
func (ss *shardState) setup(setups []func(*shardState) error) error {
	for _, f := range setups {
		if err := f(ss); err != nil {
			return err
		}
	}
	return nil
}

// listen serves port with h on this shard and remembers the port for the
// drain.
func (ss *shardState) listen(port uint16, h stream.Handler) error {
	if err := ss.host.Listen(port, h); err != nil {
		return fmt.Errorf("port %d: %w", port, err)
	}
	ss.ports = append(ss.ports, port)
	if d, ok := h.(Drainer); ok {
		ss.drainers = append(ss.drainers, d)
	}
	return nil
}

// unlisten stops accepting on port.
func (ss *shardState) unlisten(port uint16) error {
	if ss.kh != nil {
		return ss.kh.Unlisten(port)
	}
	return ss.loop.Unlisten(port)
}

// beginDrain is the start of Stop on the shard's thread: stop accepting
// on every port (new SYNs get a RST, or go to the kernel's other
// listeners), tell every Drainer, and report on drained once no
// connection other than TIME-WAIT is left.
func (ss *shardState) beginDrain(drained chan<- int) {
	now := ss.host.Now()
	for _, p := range ss.ports {
		ss.unlisten(p) // a port Do's code unlistened already is no error here
	}
	ss.ports = ss.ports[:0]
	for _, d := range ss.drainers {
		d.Drain(now)
	}
	ss.drained = drained
	ss.checkDrained(now)
}

// checkDrained reports once the shard has no live connections, or looks
// again after drainPoll (a timer on the shard's wheel).
func (ss *shardState) checkDrained(now int64) {
	if ss.open() == 0 {
		ss.drained <- ss.id // buffered for every shard: never blocks
		return
	}
	ss.host.Wheel().Schedule(&ss.drainT, now+drainPoll)
}

// open counts the shard's connections other than TIME-WAIT.
func (ss *shardState) open() int {
	if ss.kh != nil {
		return ss.kh.Open()
	}
	t := ss.loop.TCP()
	if t == nil {
		return 0
	}
	return liveConns(t.Census())
}

// liveConns counts the connections of a census other than TIME-WAIT.
func liveConns(c tcp.Census) int {
	n := 0
	for s := tcp.StateSynSent; int(s) < tcp.NumStates; s++ {
		if s != tcp.StateTimeWait {
			n += c.ByState[s]
		}
	}
	return n
}

// sample copies the shard's counters into m. Shard thread only.
func (ss *shardState) sample(m *Sample) {
	*m = Sample{Shard: ss.id, Driver: string(ss.stack.cfg.Driver)}
	if ss.sh != nil {
		m.CPU = ss.sh.CPU
	}
	for _, s := range ss.servers {
		addHTTP(&m.HTTP, s.Stats())
	}
	if ss.kh != nil {
		m.Driver = metrics.DriverKernel
		m.Kernel = ss.kh.Stats()
		return
	}
	if ss.q != nil {
		m.Queue = ss.q.Stats()
	}
	if ss.slab != nil {
		m.Slab, m.SlabInUse = ss.slab.Stats(), ss.slab.InUse()
	}
	if l := ss.loop; l != nil {
		m.Loop, m.IP = l.Stats(), l.IP().Stats()
		if t := l.TCP(); t != nil {
			m.TCP, m.Census = t.Stats(), t.Census()
		}
	}
}

// addHTTP adds one server's counters to a shard's sum.
func addHTTP(sum *http.Stats, s http.Stats) {
	sum.ConnsOpened += s.ConnsOpened
	sum.ConnsClosed += s.ConnsClosed
	sum.ConnsActive += s.ConnsActive
	sum.Requests += s.Requests
	for i := range sum.Status {
		sum.Status[i] += s.Status[i]
	}
	for i := range sum.ParseErrors {
		sum.ParseErrors[i] += s.ParseErrors[i]
	}
	sum.HeaderTimeouts += s.HeaderTimeouts
	sum.IdleTimeouts += s.IdleTimeouts
	sum.BodyTimeouts += s.BodyTimeouts
	sum.WriteTimeouts += s.WriteTimeouts
	sum.LingerAborts += s.LingerAborts
	sum.Continues += s.Continues
	sum.PipelinedMax = max(sum.PipelinedMax, s.PipelinedMax)
	sum.Paused += s.Paused
	sum.FileErrors += s.FileErrors
	sum.FileReads += s.FileReads
	sum.FileReadWaits += s.FileReadWaits
	sum.BadHeaderValues += s.BadHeaderValues
	sum.IncompleteAtEOF += s.IncompleteAtEOF
}
