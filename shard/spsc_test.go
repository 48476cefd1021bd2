package shard

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestSPSCBasic(t *testing.T) {
	q := NewSPSC[int](5) // rounds up to 8
	if q.Cap() != 8 {
		t.Fatalf("Cap = %d, want 8", q.Cap())
	}
	if _, ok := q.Pop(); ok {
		t.Fatal("Pop on an empty ring succeeded")
	}
	next, want := 0, 0
	for lap := 0; lap < 50; lap++ { // many laps: indexes wrap the ring
		for q.Push(next) {
			next++
		}
		if q.Len() != 8 {
			t.Fatalf("lap %d: full ring Len = %d", lap, q.Len())
		}
		// Take a few singly, a burst, leave some for the next lap.
		for range 2 {
			v, ok := q.Pop()
			if !ok || v != want {
				t.Fatalf("Pop = %d,%v; want %d", v, ok, want)
			}
			want++
		}
		dst := make([]int, 4)
		if n := q.PopBurst(dst); n != 4 {
			t.Fatalf("PopBurst = %d, want 4", n)
		}
		for _, v := range dst {
			if v != want {
				t.Fatalf("PopBurst gave %d, want %d", v, want)
			}
			want++
		}
		if q.Len() != 2 {
			t.Fatalf("Len = %d, want 2", q.Len())
		}
	}
	big := make([]int, 100)
	if n := q.PopBurst(big); n != 2 || big[0] != want || big[1] != want+1 {
		t.Fatalf("PopBurst of the rest = %d %v", n, big[:2])
	}
	if n := q.PopBurst(big); n != 0 || q.Len() != 0 {
		t.Fatalf("PopBurst on empty = %d, Len %d", n, q.Len())
	}
}

func TestSPSCClearsSlots(t *testing.T) {
	q := NewSPSC[*int](4)
	for range 3 {
		q.Push(new(int))
	}
	q.Pop()
	q.PopBurst(make([]*int, 2))
	for i, p := range q.ring {
		if p != nil {
			t.Fatalf("slot %d still references a popped value", i)
		}
	}
}

// TestSPSCStress runs one producer and one consumer on separate goroutines
// (run it with -race): every value arrives exactly once and in order.
func TestSPSCStress(t *testing.T) {
	n := 2_000_000
	if raceEnabled || testing.Short() {
		n = 200_000
	}
	q := NewSPSC[Message](64) // small: both full and empty happen often
	go func() {
		for i := 1; i <= n; i++ {
			m := Message{Kind: 1, A: uint64(i), B: ^uint64(i)}
			for !q.Push(m) {
				runtime.Gosched()
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	want := uint64(1)
	burst := make([]Message, 7)
	check := func(m Message) {
		if m.Kind != 1 || m.A != want || m.B != ^want {
			t.Fatalf("got %+v, want A=%d", m, want)
		}
		want++
	}
	for want <= uint64(n) {
		if want%2 == 0 {
			if m, ok := q.Pop(); ok {
				check(m)
				continue
			}
		} else if k := q.PopBurst(burst); k > 0 {
			for _, m := range burst[:k] {
				check(m)
			}
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("stalled at %d of %d", want, n)
		}
		runtime.Gosched()
	}
	if q.Len() != 0 {
		t.Fatalf("Len = %d after draining", q.Len())
	}
}

func TestSPSCZeroAllocs(t *testing.T) {
	q := NewSPSC[Message](1024)
	dst := make([]Message, 16)
	m := Message{Kind: 3, A: 1, B: 2}
	allocs := testing.AllocsPerRun(1000, func() {
		m.A++
		for range 20 {
			q.Push(m)
		}
		q.Pop()
		q.PopBurst(dst)
		for {
			if _, ok := q.Pop(); !ok {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("SPSC Push/Pop/PopBurst: %v allocs per run", allocs)
	}
}

// BenchmarkSendPingPong: two pinned shards bounce one message through
// their mailboxes, busy-polling (no sleep): the round-trip latency of a
// cross-core handoff.
func BenchmarkSendPingPong(b *testing.B) {
	cpus, err := AllowedCPUs()
	if err != nil || len(cpus) < 2 {
		b.Skip("needs 2 allowed CPUs")
	}
	n := b.N
	done := make(chan struct{})
	g, err := Start(Config{Shards: 2, CPUs: cpus[:2]}, func(s *Shard) error {
		peer := 1 - s.ID
		if s.ID == 0 {
			<-done // wait for the timer to start
			for i := 0; i < n; i++ {
				s.Send(peer, Message{Kind: 1, A: uint64(i)})
				for {
					if _, ok := s.Mailbox(peer).Pop(); ok {
						break
					}
				}
			}
			done <- struct{}{}
			return nil
		}
		for !s.Stopping() {
			if m, ok := s.Mailbox(peer).Pop(); ok {
				s.Send(peer, m)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	done <- struct{}{}
	<-done
	b.StopTimer()
	g.Stop(context.Background())
}

func BenchmarkSPSCStream(b *testing.B) {
	// Throughput: producer pushes, consumer bursts; each yields when it
	// finds the ring full or empty.
	q := NewSPSC[Message](1024)
	done := make(chan int)
	n := b.N
	go func() {
		dst := make([]Message, 32)
		got := 0
		for got < n {
			k := q.PopBurst(dst)
			if k == 0 {
				runtime.Gosched()
			}
			got += k
		}
		done <- got
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		for !q.Push(Message{Kind: 1, A: uint64(i)}) {
			runtime.Gosched()
		}
	}
	<-done
}
