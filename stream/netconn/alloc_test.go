package netconn_test

import (
	"io"
	"testing"

	"github.com/shardnet/shardnet/stream/netconn"
)

// TestRoundTripAllocs: once a connection is open, a Read and a Write on a
// Conn allocate nothing (the posted funcs are made once per connection;
// the read buffer is reused). Measured over a whole echo round trip with
// a kernel client, whose side allocates nothing either.
func TestRoundTripAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a stack")
	}
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	e := kernelEnv(t)
	cl, s, _ := pair(t, e, netconn.Config{})
	msg := []byte("0123456789abcdef")
	in, back := make([]byte, len(msg)), make([]byte, len(msg))
	round := func() {
		if _, err := cl.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, in); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(in); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(cl, back); err != nil {
			t.Fatal(err)
		}
	}
	round() // first data: the read buffer is allocated
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Fatalf("%.1f allocations per echo round trip, want 0", n)
	}
	if string(back) != string(msg) {
		t.Fatalf("echo %q", back)
	}
}
