package memwire

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/buf/buftest"
	"github.com/shardnet/shardnet/nic"
)

func newSlab(t testing.TB, frames int) *buf.Slab { return buftest.NewSlab(t, frames) }

// newPair registers its Close before the slabs' leak checks run (cleanups
// run last-registered first, so create the slabs before calling this).
func newPair(t testing.TB, cfg Config, sa, sb *buf.Slab) (a, b *Queue) {
	t.Helper()
	a, b, err := New(cfg, sa, sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	return a, b
}

// frame builds a frame of size bytes whose payload encodes seq: an Ethernet
// header, the sequence number, then bytes derived from both.
func frame(t testing.TB, s *buf.Slab, seq uint64, size int) *buf.Packet {
	p := s.Alloc()
	if p == nil {
		t.Fatalf("slab exhausted building frame %d", seq)
	}
	fill(p.Append(size), seq)
	return p
}

func fill(d []byte, seq uint64) {
	copy(d, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	binary.BigEndian.PutUint64(d[14:], seq)
	for i := 22; i < len(d); i++ {
		d[i] = byte(uint64(i)*7 + seq)
	}
}

// check verifies that p is frame seq of the given size and returns the
// reason if not.
func check(p *buf.Packet, seq uint64, size int) string {
	d := p.Data()
	if len(d) != size {
		return "wrong length"
	}
	if got := binary.BigEndian.Uint64(d[14:]); got != seq {
		return "wrong sequence number"
	}
	for i := 22; i < len(d); i++ {
		if d[i] != byte(uint64(i)*7+seq) {
			return "payload differs"
		}
	}
	return ""
}

func sizeOf(seq uint64) int { return 60 + int(seq*131%(1514-60+1)) }

func TestFramesCrossBothWaysInOrder(t *testing.T) {
	sa, sb := newSlab(t, 256), newSlab(t, 256)
	a, b := newPair(t, Config{}, sa, sb)
	if a.Caps() != (nic.Caps{MTU: 1500}) {
		t.Fatalf("caps %+v", a.Caps())
	}
	const n = 100
	var pkts [n]*buf.Packet
	var bytesSent uint64
	for dir, ends := range [][2]*Queue{{a, b}, {b, a}} {
		tx, rx := ends[0], ends[1]
		txSlab := map[int]*buf.Slab{0: sa, 1: sb}[dir]
		for i := range pkts {
			pkts[i] = frame(t, txSlab, uint64(i), sizeOf(uint64(i)))
			if dir == 0 {
				bytesSent += uint64(sizeOf(uint64(i)))
			}
		}
		if got := tx.TxBurst(pkts[:]); got != n {
			t.Fatalf("dir %d: TxBurst took %d of %d", dir, got, n)
		}
		if txSlab.InUse() != 0 {
			t.Fatalf("dir %d: TxBurst did not release the frames it took", dir)
		}
		got := 0
		for got < n {
			k := rx.RxBurst(pkts[got:min(got+7, n)])
			if k == 0 {
				t.Fatalf("dir %d: wire dry after %d frames", dir, got)
			}
			got += k
		}
		for i, p := range pkts {
			if why := check(p, uint64(i), sizeOf(uint64(i))); why != "" {
				t.Errorf("dir %d frame %d: %s", dir, i, why)
			}
			p.Release()
		}
		if k := rx.RxBurst(pkts[:]); k != 0 {
			t.Fatalf("dir %d: %d extra frames", dir, k)
		}
	}
	st := a.Stats()
	if st.TxPackets != n || st.RxPackets != n || st.TxBytes != bytesSent || st.TxFull != 0 || st.TxErrors != 0 {
		t.Errorf("a stats %+v", st)
	}
	if b.Stats().RxBytes != bytesSent {
		t.Errorf("b RxBytes %d, want %d", b.Stats().RxBytes, bytesSent)
	}
}

func TestRingFullTakesFewerAndCounts(t *testing.T) {
	sa, sb := newSlab(t, 64), newSlab(t, 64)
	a, b := newPair(t, Config{Ring: 6}, sa, sb) // rounds up to 8
	var pkts [12]*buf.Packet
	for i := range pkts {
		pkts[i] = frame(t, sa, uint64(i), 100)
	}
	if n := a.TxBurst(pkts[:]); n != 8 {
		t.Fatalf("TxBurst on a ring of 8 took %d", n)
	}
	if st := a.Stats(); st.TxFull != 4 || st.TxPackets != 8 {
		t.Fatalf("stats after full ring %+v", st)
	}
	if sa.InUse() != 4 {
		t.Fatalf("refused frames: %d in use, want 4 (still the caller's)", sa.InUse())
	}
	for i := 8; i < 12; i++ {
		if !pkts[i].InUse() || check(pkts[i], uint64(i), 100) != "" {
			t.Fatalf("refused frame %d was touched", i)
		}
	}
	if n := a.TxBurst(pkts[8:]); n != 0 {
		t.Fatalf("TxBurst on a full ring took %d", n)
	}
	var rx [12]*buf.Packet
	if n := b.RxBurst(rx[:3]); n != 3 {
		t.Fatalf("RxBurst got %d", n)
	}
	if n := a.TxBurst(pkts[8:]); n != 3 {
		t.Fatalf("after 3 slots freed TxBurst took %d", n)
	}
	if n := b.RxBurst(rx[3:]); n != 8 {
		t.Fatalf("RxBurst got %d, want 8", n)
	}
	if n := a.TxBurst(pkts[11:]); n != 1 {
		t.Fatalf("last frame: took %d", n)
	}
	if n := b.RxBurst(rx[11:]); n != 1 {
		t.Fatalf("last frame: got %d", n)
	}
	for i, p := range rx {
		if why := check(p, uint64(i), 100); why != "" {
			t.Errorf("frame %d: %s", i, why)
		}
		p.Release()
	}
	if st := a.Stats(); st.TxFull != 4+4+1 || st.TxPackets != 12 {
		t.Fatalf("final stats %+v", st)
	}
}

func TestOversizeFrameDroppedAndCounted(t *testing.T) {
	sa, sb := newSlab(t, 8), newSlab(t, 8)
	a, b := newPair(t, Config{MTU: 1000}, sa, sb)
	pkts := []*buf.Packet{frame(t, sa, 1, 1014), frame(t, sa, 2, 1015), frame(t, sa, 3, 60)}
	if n := a.TxBurst(pkts); n != 3 {
		t.Fatalf("took %d, want 3 (the oversize one is taken and dropped)", n)
	}
	if st := a.Stats(); st.TxErrors != 1 || st.TxPackets != 2 {
		t.Fatalf("stats %+v", st)
	}
	var rx [3]*buf.Packet
	if n := b.RxBurst(rx[:]); n != 2 {
		t.Fatalf("received %d", n)
	}
	if check(rx[0], 1, 1014) != "" || check(rx[1], 3, 60) != "" {
		t.Fatal("wrong frames received")
	}
	rx[0].Release()
	rx[1].Release()
}

func readable(t *testing.T, fd int) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1 && fds[0].Revents&unix.POLLIN != 0
}

func TestRxNoBufKeepsFrameAndFdReadable(t *testing.T) {
	sa, sb := newSlab(t, 8), newSlab(t, 2)
	a, b := newPair(t, Config{}, sa, sb)
	var pkts [4]*buf.Packet
	for i := range pkts {
		pkts[i] = frame(t, sa, uint64(i), 200)
	}
	a.TxBurst(pkts[:])
	var rx [4]*buf.Packet
	if n := b.RxBurst(rx[:]); n != 2 {
		t.Fatalf("with 2 free frames RxBurst got %d", n)
	}
	if n := b.RxBurst(rx[2:]); n != 0 {
		t.Fatalf("with an empty slab RxBurst got %d", n)
	}
	if st := b.Stats(); st.RxNoBuf != 2 {
		t.Fatalf("RxNoBuf = %d, want 2", st.RxNoBuf)
	}
	if !readable(t, b.Fd()) {
		t.Fatal("frames wait but Fd is not readable: a shard would sleep on them")
	}
	rx[0].Release()
	rx[1].Release()
	for got := 0; got < 2; {
		n := b.RxBurst(rx[got:2])
		if n == 0 {
			t.Fatal("frames lost after slab exhaustion")
		}
		got += n
	}
	if check(rx[0], 2, 200) != "" || check(rx[1], 3, 200) != "" {
		t.Fatal("wrong frames after slab exhaustion")
	}
	rx[0].Release()
	rx[1].Release()
	if b.RxBurst(rx[:]) != 0 || readable(t, b.Fd()) {
		t.Fatal("Fd still readable on an empty wire after RxBurst returned 0")
	}
}

// TestSignalsOnlyWhenConsumerMaySleep checks that the producer makes a
// system call only when the consumer has found its ring empty.
func TestSignalsOnlyWhenConsumerMaySleep(t *testing.T) {
	sa, sb := newSlab(t, 64), newSlab(t, 64)
	a, b := newPair(t, Config{}, sa, sb)
	r := a.tx
	send := func(n int) {
		for i := 0; i < n; i++ {
			if a.TxBurst([]*buf.Packet{frame(t, sa, uint64(i), 64)}) != 1 {
				t.Fatal("send failed")
			}
		}
	}
	var rx [64]*buf.Packet
	recv := func(max int) int {
		n := b.RxBurst(rx[:max])
		for _, p := range rx[:n] {
			p.Release()
		}
		return n
	}
	if readable(t, b.Fd()) {
		t.Fatal("fresh wire readable")
	}
	send(20) // b has never polled: it may be asleep, so the first frame signals
	if got := r.signals.Load(); got != 1 {
		t.Fatalf("20 frames to a fresh end: %d signals, want 1", got)
	}
	if !readable(t, b.Fd()) {
		t.Fatal("Fd not readable with frames waiting")
	}
	recv(5) // busy consumer: ring not empty, nothing armed
	send(10)
	if got := r.signals.Load(); got != 1 {
		t.Fatalf("signals while the consumer is busy: %d, want 1", got)
	}
	for recv(64) != 0 {
	}
	if readable(t, b.Fd()) {
		t.Fatal("Fd readable after RxBurst found the wire empty")
	}
	send(3)
	if got := r.signals.Load(); got != 2 {
		t.Fatalf("after the consumer went idle: %d signals, want 2", got)
	}
	if !readable(t, b.Fd()) {
		t.Fatal("Fd not readable after a push to an idle consumer")
	}
	if recv(64) != 3 || recv(64) != 0 {
		t.Fatal("wrong frame count")
	}
}

// TestStressBothWaysAcrossGoroutines runs each end on its own goroutine
// (locked to an OS thread, as a shard is) and sends 1e5 numbered frames each
// way at once, checking every byte and the order.
func TestStressBothWaysAcrossGoroutines(t *testing.T) {
	n := uint64(100_000)
	if testing.Short() {
		n = 10_000
	}
	sa, sb := newSlab(t, 512), newSlab(t, 512)
	a, b := newPair(t, Config{Ring: 64}, sa, sb)
	var wg sync.WaitGroup
	errs := make([]string, 2)
	run := func(id int, q *Queue, s *buf.Slab) {
		defer wg.Done()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		rng := rand.New(rand.NewPCG(uint64(id), 7))
		var tx, rx [32]*buf.Packet
		var sent, recvd uint64
		for sent < n || recvd < n {
			if sent < n {
				k := min(1+rng.IntN(32), int(n-sent))
				for i := range k {
					seq := sent + uint64(i)
					p := s.Alloc()
					if p == nil {
						k = i
						break
					}
					fill(p.Append(sizeOf(seq)), seq)
					tx[i] = p
				}
				took := q.TxBurst(tx[:k])
				for _, p := range tx[took:k] {
					p.Release()
				}
				sent += uint64(took)
			}
			got := q.RxBurst(rx[:1+rng.IntN(32)])
			for _, p := range rx[:got] {
				if why := check(p, recvd, sizeOf(recvd)); why != "" && errs[id] == "" {
					errs[id] = why
				}
				recvd++
				p.Release()
			}
			if got == 0 {
				runtime.Gosched()
			}
		}
	}
	wg.Add(2)
	go run(0, a, sa)
	go run(1, b, sb)
	wg.Wait()
	for id, e := range errs {
		if e != "" {
			t.Errorf("end %d: %s", id, e)
		}
	}
	for _, q := range []*Queue{a, b} {
		if st := q.Stats(); st.RxPackets != n || st.TxPackets != n || st.TxErrors != 0 {
			t.Errorf("stats %+v", st)
		}
	}
}

// TestSleepingConsumerAlwaysWakes has a consumer that sleeps in poll(2) on
// Fd whenever RxBurst returns 0. A lost wakeup would leave it asleep with
// frames on the wire; instead of hanging, the test polls with a timeout and
// fails if RxBurst then finds frames.
func TestSleepingConsumerAlwaysWakes(t *testing.T) {
	n := uint64(20_000)
	if testing.Short() {
		n = 2_000
	}
	sa, sb := newSlab(t, 64), newSlab(t, 64)
	a, b := newPair(t, Config{Ring: 16}, sa, sb)
	var recvd atomic.Uint64
	var sleeps, lost int
	var bad string
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var rx [8]*buf.Packet
		fds := []unix.PollFd{{Fd: int32(b.Fd()), Events: unix.POLLIN}}
		next := uint64(0)
		for next < n {
			k := b.RxBurst(rx[:])
			for _, p := range rx[:k] {
				if why := check(p, next, sizeOf(next)); why != "" && bad == "" {
					bad = why
				}
				next++
				p.Release()
			}
			recvd.Store(next)
			if k > 0 {
				continue
			}
			sleeps++
			m, err := unix.Poll(fds, 2000)
			if err != nil && !errors.Is(err, unix.EINTR) {
				bad = err.Error()
				return
			}
			if m == 0 && lost == 0 {
				if k := b.RxBurst(rx[:1]); k > 0 {
					lost++ // frames were waiting: the wakeup was lost
					rx[0].Release()
					return
				}
			}
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	var tx [4]*buf.Packet
	stopped := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	for sent := uint64(0); sent < n && !stopped(); {
		k := min(1+rng.IntN(4), int(n-sent))
		for i := range k {
			tx[i] = frame(t, sa, sent+uint64(i), sizeOf(sent+uint64(i)))
		}
		took := a.TxBurst(tx[:k])
		for _, p := range tx[took:k] {
			p.Release()
		}
		sent += uint64(took)
		// Vary the race: sometimes wait until the consumer has caught up
		// (so that it goes back to sleep), sometimes push straight on.
		if rng.IntN(2) == 0 || took < k {
			for recvd.Load() < sent && !stopped() {
				runtime.Gosched()
			}
		}
	}
	<-done
	if lost != 0 {
		t.Fatal("lost wakeup: consumer slept 2s with frames on the wire")
	}
	if bad != "" {
		t.Fatal(bad)
	}
	if recvd.Load() != n {
		t.Fatalf("received %d of %d", recvd.Load(), n)
	}
	if sleeps < int(n/10) {
		t.Errorf("consumer slept only %d times: the test did not exercise wakeups", sleeps)
	}
	t.Logf("%d frames, consumer slept %d times, %d eventfd signals", n, sleeps, a.tx.signals.Load())
}

func TestCloseSemantics(t *testing.T) {
	sa, sb := newSlab(t, 8), newSlab(t, 8)
	a, b := newPair(t, Config{}, sa, sb)
	a.TxBurst([]*buf.Packet{frame(t, sa, 1, 64)}) // left on the wire to b
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); !errors.Is(err, nic.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if b.Fd() != -1 || b.Kick() != nic.ErrClosed {
		t.Fatal("closed end still usable")
	}
	var rx [1]*buf.Packet
	if b.RxBurst(rx[:]) != 0 || b.TxBurst([]*buf.Packet{}) != 0 {
		t.Fatal("closed end moved frames")
	}
	// Link down: a's frames are released and counted.
	if n := a.TxBurst([]*buf.Packet{frame(t, sa, 2, 64), frame(t, sa, 3, 64)}); n != 2 {
		t.Fatalf("TxBurst to a closed peer took %d", n)
	}
	if st := a.Stats(); st.TxErrors != 2 || sa.InUse() != 0 {
		t.Fatalf("stats %+v, in use %d", st, sa.InUse())
	}
}

func TestBadConfig(t *testing.T) {
	small, err := buf.NewSlab(4, 1024, 128)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	s := newSlab(t, 4)
	for _, c := range []struct {
		cfg    Config
		sa, sb *buf.Slab
	}{
		{Config{MTU: 67}, s, s},
		{Config{MTU: 65536}, s, s},
		{Config{Ring: -1}, s, s},
		{Config{Ring: 1<<20 + 1}, s, s},
		{Config{}, small, s},
		{Config{MTU: 9000}, s, s},
		{Config{}, nil, s},
	} {
		if _, _, err := New(c.cfg, c.sa, c.sb); !errors.Is(err, ErrBadConfig) {
			t.Errorf("New(%+v) = %v, want ErrBadConfig", c.cfg, err)
		}
	}
	a, b, err := New(Config{MTU: 800}, small, small)
	if err != nil {
		t.Fatalf("MTU 800 in 1024-byte frames with 128 headroom: %v", err)
	}
	a.Close()
	b.Close()
}

func TestZeroAllocsPerFrame(t *testing.T) {
	sa, sb := newSlab(t, 64), newSlab(t, 64)
	a, b := newPair(t, Config{}, sa, sb)
	tx := make([]*buf.Packet, 1)
	rx := make([]*buf.Packet, 4)
	allocs := testing.AllocsPerRun(1000, func() {
		tx[0] = sa.Alloc()
		tx[0].Append(1514)
		a.TxBurst(tx) // signals: b found the wire empty last time
		if b.RxBurst(rx) != 1 {
			panic("frame lost")
		}
		rx[0].Release()
		b.RxBurst(rx) // empty: drains the eventfd and arms
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
}

func BenchmarkTxRxBurst32(b *testing.B) {
	sa, sb := newSlab(b, 128), newSlab(b, 128)
	qa, qb := newPair(b, Config{}, sa, sb)
	var tx, rx [32]*buf.Packet
	b.ReportAllocs()
	b.SetBytes(32 * 1514)
	for b.Loop() {
		for i := range tx {
			tx[i] = sa.Alloc()
			tx[i].Append(1514)
		}
		qa.TxBurst(tx[:])
		n := qb.RxBurst(rx[:])
		for _, p := range rx[:n] {
			p.Release()
		}
	}
}

// BenchmarkCrossThread streams 64-byte frames from one OS thread to another.
func BenchmarkCrossThread(b *testing.B) {
	sa, sb := newSlab(b, 256), newSlab(b, 256)
	qa, qb := newPair(b, Config{}, sa, sb)
	total := uint64(b.N)
	b.ReportAllocs()
	b.SetBytes(64)
	b.ResetTimer()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		var rx [32]*buf.Packet
		for got := uint64(0); got < total; {
			n := qb.RxBurst(rx[:])
			for _, p := range rx[:n] {
				p.Release()
			}
			got += uint64(n)
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var tx [32]*buf.Packet
	for sent := uint64(0); sent < total; {
		k := min(32, int(total-sent))
		for i := range k {
			tx[i] = sa.Alloc()
			tx[i].Append(64)
		}
		took := qa.TxBurst(tx[:k])
		for _, p := range tx[took:k] {
			p.Release()
		}
		sent += uint64(took)
	}
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds()/1e6, "Mframes/s")
}
