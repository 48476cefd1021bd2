package shard

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestInboxBasic(t *testing.T) {
	q := NewInbox(3, nil) // rounds up to 4
	if q.Cap() != 4 {
		t.Fatalf("Cap = %d, want 4", q.Cap())
	}
	var ran []int
	for lap := 0; lap < 5; lap++ {
		ran = ran[:0]
		for i := range 4 {
			if err := q.Post(func() { ran = append(ran, i) }); err != nil {
				t.Fatalf("lap %d: Post %d: %v", lap, i, err)
			}
		}
		if err := q.Post(func() { t.Error("func posted to a full inbox ran") }); !errors.Is(err, ErrInboxFull) {
			t.Fatalf("Post to a full inbox: %v, want ErrInboxFull", err)
		}
		if q.Len() != 4 || !q.Ready() {
			t.Fatalf("Len = %d, Ready = %v", q.Len(), q.Ready())
		}
		if n := q.Drain(3); n != 3 {
			t.Fatalf("Drain(3) = %d", n)
		}
		if n := q.Drain(100); n != 1 || len(ran) != 4 {
			t.Fatalf("Drain(100) = %d, ran %v", n, ran)
		}
		for i, v := range ran {
			if v != i {
				t.Fatalf("ran out of order: %v", ran)
			}
		}
		if q.Len() != 0 || q.Ready() || q.Drain(10) != 0 {
			t.Fatal("inbox not empty after draining")
		}
	}
	// A func may post to its own inbox; what it posts waits its turn.
	count := 0
	var again func()
	again = func() {
		count++
		if count < 3 {
			if err := q.Post(again); err != nil {
				t.Error(err)
			}
		}
	}
	q.Post(again)
	if n := q.Drain(1); n != 1 || count != 1 || q.Len() != 1 {
		t.Fatalf("Drain(1) = %d, count %d, Len %d", n, count, q.Len())
	}
	if n := q.Drain(10); n != 2 || count != 3 {
		t.Fatalf("Drain(10) = %d, count %d", n, count)
	}
	if err := q.Post(nil); err != nil || q.Len() != 0 {
		t.Fatalf("Post(nil) = %v, Len %d", err, q.Len())
	}
	q.close()
	if err := q.Post(again); !errors.Is(err, ErrInboxClosed) {
		t.Fatalf("Post after close: %v", err)
	}
}

// TestInboxStress: several producers post closures tagged (producer, seq)
// while one consumer drains, sleeping on a Waker in poll with no timeout
// when it runs dry (run it with -race). Every func must run exactly once,
// each producer's in order, and the consumer must never miss a wake-up.
func TestInboxStress(t *testing.T) {
	const producers = 4
	per := 100_000
	if raceEnabled || testing.Short() {
		per = 20_000
	}
	var q *Inbox
	var w *Waker
	w, err := NewWaker(func() bool { return q.Ready() })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	q = NewInbox(256, w)

	next := make([]int, producers) // consumer-owned: funcs run there
	bad := make(chan string, 1)
	for p := range producers {
		go func() {
			for i := range per {
				fn := func() {
					if next[p] != i {
						select {
						case bad <- "out of order or duplicated":
						default:
						}
					}
					next[p] = i + 1
				}
				for {
					err := q.Post(fn)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrInboxFull) {
						panic(err)
					}
					runtime.Gosched()
				}
			}
		}()
	}
	done := make(chan int)
	go func() {
		total, sleeps := 0, 0
		for total < producers*per {
			if n := q.Drain(64); n > 0 {
				total += n
				continue
			}
			jitter()
			if w.PrepareSleep() {
				pollForever(w.Fd())
				w.Awake()
				sleeps++
			}
		}
		done <- sleeps
	}()
	select {
	case sleeps := <-done:
		t.Logf("consumer slept %d times", sleeps)
	case <-time.After(60 * time.Second):
		t.Fatalf("consumer stuck: a wake-up was lost or the queue lost funcs (Len %d)", q.Len())
	}
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}
	for p, n := range next {
		if n != per {
			t.Fatalf("producer %d: %d funcs ran, want %d", p, n, per)
		}
	}
}

// pollForever waits for fd to be readable, with no timeout.
func pollForever(fd int) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

func TestInboxZeroAllocs(t *testing.T) {
	w, err := NewWaker(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	q := NewInbox(64, w)
	count := 0
	fn := func() { count++ } // made once, outside the measured loop
	allocs := testing.AllocsPerRun(1000, func() {
		for range 10 {
			if q.Post(fn) != nil {
				panic("full")
			}
		}
		q.Drain(100)
	})
	if allocs != 0 {
		t.Fatalf("Inbox Post/Drain: %v allocs per run", allocs)
	}
	if count != 10*1001 { // AllocsPerRun runs once more to warm up
		t.Fatalf("ran %d funcs, want %d", count, 10*1001)
	}
}

func BenchmarkInboxPostDrain(b *testing.B) {
	q := NewInbox(1024, nil)
	fn := func() {}
	b.ReportAllocs()
	for b.Loop() {
		q.Post(fn)
		q.Drain(1)
	}
}

// BenchmarkInboxContended: two goroutines post while one drains.
func BenchmarkInboxContended(b *testing.B) {
	q := NewInbox(4096, nil)
	fn := func() {}
	done := make(chan struct{})
	go func() {
		for {
			if q.Drain(64) == 0 {
				select {
				case <-done:
					return
				default:
					runtime.Gosched()
				}
			}
		}
	}()
	b.ReportAllocs()
	b.SetParallelism(1)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for q.Post(fn) != nil {
				runtime.Gosched()
			}
		}
	})
	close(done)
}
