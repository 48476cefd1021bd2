package shard

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// idle is a shard loop's sleep step: poll on the waker with no timeout.
// It reports whether the shard actually slept. Before it raises the flag
// it spins for a random few microseconds, as a real loop does other work
// (timers, TX flush) after finding its queues empty: that widens the
// window in which a producer publishes after the loop last looked, which
// is exactly where a broken protocol loses a wake-up.
func idle(s *Shard) bool {
	w := s.Waker()
	jitter()
	if !w.PrepareSleep() {
		return false
	}
	pollForever(w.Fd())
	w.Awake()
	return true
}

// loop is a minimal shard loop: run posted funcs, handle mailbox
// messages with onMsg, sleep when idle, return when stopped.
func loop(s *Shard, onMsg func(from int, m Message)) {
	for !s.Stopping() {
		busy := s.Inbox().Drain(64) > 0
		for from := range s.NumShards() {
			for {
				m, ok := s.Mailbox(from).Pop()
				if !ok {
					break
				}
				busy = true
				onMsg(from, m)
			}
		}
		if !busy {
			idle(s)
		}
	}
}

var jitterSink atomic.Uint64

// jitter busy-waits for a random 0..~10 µs (never sleeps: a sleep would
// let the producer's post land before the check every time).
func jitter() {
	for i := rand.IntN(4000); i > 0; i-- {
		jitterSink.Add(1)
	}
}

func allowed(t *testing.T) []int {
	t.Helper()
	cpus, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	return cpus
}

// stop stops g within a deadline, failing (not hanging) the test if not.
func stop(t *testing.T, g *Group) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

func TestStartPinsEveryShard(t *testing.T) {
	cpus := allowed(t)
	fds := openFDs(t)
	affinity := make([]error, len(cpus))
	var ran atomic.Int32
	g, err := Start(Config{}, func(s *Shard) error { // default: one shard per allowed CPU
		affinity[s.ID] = checkAffinity(s.CPU)
		ran.Add(1)
		loop(s, nil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Shards()) != len(cpus) {
		t.Fatalf("%d shards, want one per allowed CPU %v", len(g.Shards()), cpus)
	}
	for i, s := range g.Shards() {
		if s.ID != i || s.CPU != cpus[i] {
			t.Fatalf("shard %d: ID %d CPU %d, want CPU %d", i, s.ID, s.CPU, cpus[i])
		}
	}
	stop(t, g)
	if int(ran.Load()) != len(cpus) {
		t.Fatalf("%d runs returned, want %d", ran.Load(), len(cpus))
	}
	for i, err := range affinity { // written before the run returned: Stop waited
		if err != nil {
			t.Errorf("shard %d: %v", i, err)
		}
	}
	if got := openFDs(t); got != fds {
		t.Fatalf("open fds: %d before Start, %d after Stop", fds, got)
	}
	if err := g.Shards()[0].Inbox().Post(func() {}); !errors.Is(err, ErrInboxClosed) {
		t.Fatalf("Post after Stop: %v, want ErrInboxClosed", err)
	}
	g.Shards()[0].Waker().Wake() // after Close: must be a harmless no-op
}

func TestConfigCPUsHonoured(t *testing.T) {
	cpus := allowed(t)
	if len(cpus) < 2 {
		t.Skip("needs 2 allowed CPUs")
	}
	want := []int{cpus[1], cpus[0]} // reversed: shard 0 on the second CPU
	affinity := make([]error, 2)
	g, err := Start(Config{Shards: 2, CPUs: want, InboxSize: 16, MailboxSize: 8}, func(s *Shard) error {
		affinity[s.ID] = checkAffinity(want[s.ID])
		loop(s, nil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range g.Shards() {
		if s.CPU != want[i] || s.Inbox().Cap() != 16 || s.Mailbox(0).Cap() != 8 {
			t.Fatalf("shard %d: CPU %d inbox %d mailbox %d", i, s.CPU, s.Inbox().Cap(), s.Mailbox(0).Cap())
		}
	}
	stop(t, g)
	for i, err := range affinity {
		if err != nil {
			t.Errorf("shard %d: %v", i, err)
		}
	}
}

func TestStartConfigErrors(t *testing.T) {
	cpus := allowed(t)
	run := func(*Shard) error { t.Error("run called for a bad config"); return nil }
	_, err := Start(Config{Shards: len(cpus) + 1}, run)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "available") {
		t.Fatalf("too many shards: %v", err)
	}
	t.Log(err)
	_, err = Start(Config{Shards: 3, CPUs: []int{0, 1}}, run)
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("3 shards on 2 listed CPUs: %v", err)
	}
	for _, cfg := range []Config{
		{Shards: -1},
		{CPUs: []int{}},
		{Shards: 1, CPUs: []int{-1}},
		{Shards: 1, InboxSize: -4},
	} {
		if _, err := Start(cfg, run); !errors.Is(err, ErrConfig) {
			t.Errorf("Start(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestStartPinFailure(t *testing.T) {
	cpus := allowed(t)
	fds := openFDs(t)
	// CPU 4000 exists on no test machine, so sched_setaffinity fails.
	_, err := Start(Config{CPUs: []int{cpus[0], 4000}}, func(*Shard) error {
		t.Error("run called although a shard failed to pin")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "CPU 4000") {
		t.Fatalf("Start with an impossible CPU: %v", err)
	}
	if got := openFDs(t); got != fds {
		t.Fatalf("open fds: %d before Start, %d after the failed Start", fds, got)
	}
}

func TestStopTimesOut(t *testing.T) {
	release := make(chan struct{})
	g, err := Start(Config{Shards: 1}, func(s *Shard) error {
		<-release // ignores Stopping
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with a stuck run: %v, want DeadlineExceeded", err)
	}
	if !g.Shards()[0].Stopping() {
		t.Fatal("stop flag not set")
	}
	close(release)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestRunErrorStopsGroup(t *testing.T) {
	cpus := allowed(t)
	boom := errors.New("boom")
	var stopped atomic.Bool
	g, err := Start(Config{Shards: 2, CPUs: []int{cpus[0], cpus[len(cpus)-1]}}, func(s *Shard) error {
		if s.ID == 0 {
			return boom
		}
		loop(s, nil) // returns only when the failure stops the group
		stopped.Store(true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "shard 0") {
			t.Fatalf("Wait = %v, want boom from shard 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed run did not stop the group")
	}
	if !stopped.Load() {
		t.Fatal("shard 1's run did not return")
	}
	if err := g.Stop(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Stop after Wait = %v", err)
	}
}

// TestInboxWakesSleepingShard: a shard that sleeps in poll with no
// timeout whenever it is idle must wake for every Post, 10,000 times.
func TestInboxWakesSleepingShard(t *testing.T) {
	var sleeps atomic.Int64
	g, err := Start(Config{Shards: 1}, func(s *Shard) error {
		for !s.Stopping() {
			if s.Inbox().Drain(64) == 0 && idle(s) {
				sleeps.Add(1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, g)
	in := g.Shards()[0].Inbox()
	ack := make(chan struct{}, 1)
	fn := func() { ack <- struct{}{} }
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	const rounds = 10_000
	for i := range rounds {
		if err := in.Post(fn); err != nil {
			t.Fatalf("round %d: Post: %v", i, err)
		}
		select {
		case <-ack:
		case <-deadline.C:
			t.Fatalf("round %d: the shard did not run a posted func: wake-up lost (%d sleeps so far)", i, sleeps.Load())
		}
	}
	t.Logf("%d rounds, the shard slept %d times", rounds, sleeps.Load())
	if sleeps.Load() == 0 {
		t.Fatal("the shard never slept: the test exercised nothing")
	}
}

// TestMailboxPingPong: two shards, each sleeping in poll with no timeout
// when idle, bounce a message 10,000 times; every hop must wake the peer,
// and values arrive in order.
func TestMailboxPingPong(t *testing.T) {
	cpus := allowed(t)
	const rounds = 10_000
	finished := make(chan error, 1)
	g, err := Start(Config{Shards: 2, CPUs: []int{cpus[0], cpus[len(cpus)-1]}}, func(s *Shard) error {
		peer := 1 - s.ID
		next := uint64(0)
		if s.ID == 0 && !s.Send(peer, Message{Kind: 1, A: 0}) {
			finished <- errors.New("first Send failed")
			return nil
		}
		loop(s, func(from int, m Message) {
			if from != peer || m.Kind != uint16(2-s.ID) || m.A != next {
				finished <- errors.New("unexpected message")
				return
			}
			next++
			if s.ID == 0 && m.A == rounds-1 {
				finished <- nil
				return
			}
			kind := uint16(1 + s.ID)
			a := m.A
			if s.ID == 0 {
				a++
			}
			if !s.Send(peer, Message{Kind: kind, A: a}) {
				finished <- errors.New("Send failed on an empty mailbox")
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, g)
	select {
	case err := <-finished:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("ping-pong stalled: a wake-up was lost")
	}
}

func TestSendFullMailbox(t *testing.T) {
	res := make(chan [2]int, 1)
	g, err := Start(Config{Shards: 1, MailboxSize: 4}, func(s *Shard) error {
		sent := 0
		for s.Send(0, Message{Kind: 1, A: uint64(sent)}) {
			sent++
		}
		got := 0
		for {
			m, ok := s.Mailbox(0).Pop()
			if !ok {
				break
			}
			if m.A != uint64(got) {
				break
			}
			got++
		}
		res <- [2]int{sent, got}
		loop(s, nil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, g)
	if r := <-res; r != [2]int{4, 4} {
		t.Fatalf("sent %d, received %d in order; want 4, 4", r[0], r[1])
	}
}

func TestShardZeroAllocs(t *testing.T) {
	res := make(chan float64, 1)
	g, err := Start(Config{Shards: 1}, func(s *Shard) error {
		fn := func() {}
		dst := make([]Message, 8)
		res <- testing.AllocsPerRun(1000, func() {
			for range 4 {
				s.Send(0, Message{Kind: 1, A: 2})
				s.Inbox().Post(fn)
			}
			s.Mailbox(0).PopBurst(dst)
			s.Inbox().Drain(8)
			s.Pending()
		})
		loop(s, nil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, g)
	if a := <-res; a != 0 {
		t.Fatalf("Send/Post/PopBurst/Drain on a shard: %v allocs per run", a)
	}
}
