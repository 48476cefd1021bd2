package nstest

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Veth is an AF_XDP test topology: two namespaces joined by a veth pair
// with Queues RX and TX queues per end. Srv holds Iface, for the XDP
// program and the stack (Addr, .2/24); Cli holds the peer end (.1/24,
// IPv6 off, TX checksum offload off so frames arrive with full checksums,
// and net.core.txrehash=0: a fixed TX hash, as a NIC's RSS would give).
type Veth struct {
	Srv, Cli *NS
	Iface    string // the server end
	Peer     string // the client end
	Addr     string // the stack's address (no prefix)
	PeerAddr string // the client's address (no prefix)
}

// NewVeth builds a Veth; the namespaces (and with them the pair) are
// deleted when the test ends.
func NewVeth(t testing.TB, prefix string, queues int) *Veth {
	t.Helper()
	v := &Veth{Srv: New(t, prefix+"s"), Cli: New(t, prefix+"c")}
	subnet := 1 + rand.IntN(250)
	v.Iface, v.Peer = fmt.Sprintf("xs%x", rand.Uint32()), fmt.Sprintf("xc%x", rand.Uint32())
	v.Addr, v.PeerAddr = fmt.Sprintf("198.18.%d.2", subnet), fmt.Sprintf("198.18.%d.1", subnet)
	q := fmt.Sprint(queues)
	v.Srv.MustRun(t, "ip", "link", "add", v.Iface, "numtxqueues", q, "numrxqueues", q, "type", "veth",
		"peer", "name", v.Peer, "numtxqueues", q, "numrxqueues", q, "netns", v.Cli.Name)
	for _, ns := range []*NS{v.Srv, v.Cli} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	}
	v.Cli.MustRun(t, "ip", "addr", "add", v.PeerAddr+"/24", "dev", v.Peer)
	v.Cli.MustRun(t, "ethtool", "-K", v.Peer, "tx", "off")
	v.Cli.MustRun(t, "sysctl", "-qw", "net.core.txrehash=0")
	v.Srv.MustRun(t, "ip", "link", "set", v.Iface, "up")
	v.Cli.MustRun(t, "ip", "link", "set", v.Peer, "up")
	return v
}
