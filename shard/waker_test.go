package shard

import (
	"testing"

	"golang.org/x/sys/unix"
)

// readable reports whether fd polls readable right now.
func readable(t *testing.T, fd int) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestWakerProtocol(t *testing.T) {
	pending := false
	w, err := NewWaker(func() bool { return pending })
	if err != nil {
		t.Fatal(err)
	}
	// Not sleeping: Wake writes nothing.
	w.Wake()
	if readable(t, w.Fd()) {
		t.Fatal("Wake of an awake shard wrote the eventfd")
	}
	// Sleeping: the first Wake writes, later ones do not need to.
	if !w.PrepareSleep() {
		t.Fatal("PrepareSleep with no pending work refused")
	}
	w.Wake()
	w.Wake()
	if !readable(t, w.Fd()) {
		t.Fatal("Wake of a sleeping shard did not make the eventfd readable")
	}
	w.Awake()
	if readable(t, w.Fd()) {
		t.Fatal("Awake did not drain the eventfd")
	}
	// Work found by the re-check: no sleep, flag lowered, nothing left.
	pending = true
	if w.PrepareSleep() {
		t.Fatal("PrepareSleep with pending work allowed sleep")
	}
	w.Wake()
	if readable(t, w.Fd()) {
		t.Fatal("flag left raised after PrepareSleep returned false")
	}
	// A producer publishes and wakes between PrepareSleep's flag store
	// and its re-check: the re-check finds the work, and PrepareSleep
	// drains the eventfd the producer wrote.
	w.pending = func() bool { w.Wake(); return true }
	if w.PrepareSleep() {
		t.Fatal("PrepareSleep allowed sleep with work pending")
	}
	if readable(t, w.Fd()) {
		t.Fatal("PrepareSleep left a claimed wake-up in the eventfd")
	}
	// A write that lands after the drain (a slow producer) leaves a stale
	// token: the next sleep returns at once and Awake drains it.
	w.pending = nil
	w.PrepareSleep()
	w.state.Store(woken) // the producer has claimed...
	w.state.Store(awake) // ...the shard woke and drained an empty eventfd...
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	unix.Write(w.Fd(), one) // ...and only now the write lands
	if !w.PrepareSleep() || !readable(t, w.Fd()) {
		t.Fatal("setup: no stale token")
	}
	w.Awake()
	if readable(t, w.Fd()) {
		t.Fatal("Awake left a stale token: the loop would spin")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	w.state.Store(sleeping)
	w.Wake() // after Close: must not write to the (maybe reused) fd
}

func TestWakerZeroAllocs(t *testing.T) {
	w, err := NewWaker(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	allocs := testing.AllocsPerRun(1000, func() {
		w.PrepareSleep()
		w.Wake()
		w.Awake()
	})
	if allocs != 0 {
		t.Fatalf("PrepareSleep/Wake/Awake: %v allocs per run", allocs)
	}
}
