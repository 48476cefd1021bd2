package wire

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestInlining guards the hot accessors: if one grows past the inliner's
// budget, every per-packet field read becomes a call. It asks the compiler
// (go build -gcflags=-m) which functions it can inline.
func TestInlining(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the compiler; skipped in -short mode")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go tool on PATH")
	}
	out, err := exec.Command(goTool, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	want := []string{
		"Ethernet.Check", "Ethernet.Dst", "Ethernet.Src", "Ethernet.EtherType", "Ethernet.Payload",
		"IsMulticastMAC", "IsBroadcastMAC",
		"ARP.Check", "ARP.Op", "ARP.SenderIP", "ARP.TargetIP", "ARP.SenderHW",
		"IPv4.Check", "IPv4.HeaderLen", "IPv4.TotalLen", "IPv4.Src", "IPv4.Dst", "IPv4.Protocol",
		"IPv4.TTL", "IPv4.IsFragment", "IPv4.Payload", "IPv4.SetChecksum",
		"ICMPv4.Check", "ICMPv4.Type", "ICMPv4.Code", "ICMPv4.Payload", "ICMPv4.Checksum",
		"TCP.SrcPort", "TCP.DstPort", "TCP.Seq", "TCP.Ack", "TCP.HeaderLen", "TCP.Flags",
		"TCP.Window", "TCP.Options", "TCP.Payload", "TCP.SetChecksum",
		"TCPFlags.Has",
		"Seq.Add", "Seq.Sub", "Seq.LessThan", "Seq.LessEq", "Seq.GreaterThan", "Seq.GreaterEq",
		"Seq.InWindow", "Seq.InRange",
		"Fold", "PseudoHeaderSum", "ChecksumUpdate16",
	}
	for _, fn := range want {
		re := regexp.MustCompile(`(?m): can inline ` + regexp.QuoteMeta(fn) + `$`)
		if !re.Match(out) {
			t.Errorf("%s is not inlinable any more", fn)
		}
	}
}
