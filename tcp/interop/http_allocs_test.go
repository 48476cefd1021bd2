//go:build !race

package interop

import "testing"

// TestHTTPPlaintextMemwireAllocs proves that one keep-alive GET /plaintext
// through both stacks over memwire (BenchmarkHTTPPlaintextMemwire's path)
// allocates nothing in steady state. Not under -race: sync.Pool drops
// items there.
func TestHTTPPlaintextMemwireAllocs(t *testing.T) {
	r := newHTTPRig(t)
	for i := 0; i < 1000; i++ {
		r.get()
	}
	before := r.cl.done
	if a := testing.AllocsPerRun(2000, r.get); a != 0 {
		t.Errorf("%v allocations per request through the stack", a)
	}
	if got := r.cl.done - before; got != 2001 {
		t.Errorf("%d responses, want 2001", got)
	}
	r.close()
}
