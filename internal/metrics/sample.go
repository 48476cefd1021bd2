package metrics

import (
	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/ip"
	"github.com/shardnet/shardnet/kstack"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/reactor"
	"github.com/shardnet/shardnet/tcp"
)

// Sample is one shard's counters, copied on that shard's own thread.
type Sample struct {
	Shard  int
	CPU    int
	Driver string        // "tap", "afxdp", "kernel"
	Queue  nic.Stats     // zero for kernel
	Loop   reactor.Stats // zero for kernel
	Slab   buf.Stats
	// SlabInUse is the number of slab frames held now (buf.Slab.InUse).
	SlabInUse int
	IP        ip.Stats
	TCP       tcp.Stats
	Census    tcp.Census   // connections by state, RTT summary
	HTTP      http.Stats   // zero if the shard serves no http.Server
	Kernel    kstack.Stats // kernel driver only
}

// DriverKernel is the Driver of a shard that runs on the kernel's TCP
// stack (kstack): its Queue, Loop, Slab, IP, TCP and Census are not
// written out, and its Kernel counters are.
const DriverKernel = "kernel"

// FillLoop copies a user-space shard's counters from its loop into s:
// Queue, Loop, Slab, SlabInUse, IP, TCP and Census (a walk of the
// connection pool, O(MaxConns): see tcp.Stack.Census). Shard, CPU, Driver
// and HTTP are the caller's to set. Call it on the loop's shard thread
// (from a function posted to its inbox); it allocates nothing.
func (s *Sample) FillLoop(l *reactor.Loop) {
	if q := l.Queue(); q != nil {
		s.Queue = q.Stats()
	}
	s.Loop = l.Stats()
	if sl := l.Slab(); sl != nil {
		s.Slab = sl.Stats()
		s.SlabInUse = sl.InUse()
	}
	if st := l.IP(); st != nil {
		s.IP = st.Stats()
	}
	if st := l.TCP(); st != nil {
		s.TCP = st.Stats()
		s.Census = st.Census()
	}
}

// FillKernel copies a kernel-stack shard's counters into s and sets its
// Driver to DriverKernel. Shard, CPU and HTTP are the caller's to set.
// Call it on the host's shard thread; it allocates nothing.
func (s *Sample) FillKernel(h *kstack.Host) {
	s.Driver = DriverKernel
	s.Kernel = h.Stats()
}
