package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Addresses (198.19.0.0/16, benchmarking space of RFC 2544):
//
//	client ns  vc  198.19.0.1/24
//	server ns  vs  198.19.0.3/24 (the kernel's: kernel-stack servers listen here)
//	               198.19.0.2    (shardnet over AF_XDP on the same veth)
//	server ns  TAP 198.19.1.1/16 host side; shardnet over TAP at 198.19.1.2/16
//	               (the client reaches it through the server namespace's
//	               kernel, which forwards; the stack sees the client as
//	               on-link and the kernel answers its ARP by proxy)
const (
	clientIP   = "198.19.0.1"
	kernelIP   = "198.19.0.3"
	afxdpIP    = "198.19.0.2"
	tapHostIP  = "198.19.1.1"
	tapStackIP = "198.19.1.2"
	port       = "8080"
)

type topology struct {
	srv, cli string // namespace names
	srvIf    string // the server's veth
}

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func newTopology(shards int) (*topology, error) {
	id := fmt.Sprintf("%d%04x", os.Getpid()%10000, rand.Uint32()&0xffff)
	t := &topology{srv: "snb-srv-" + id, cli: "snb-cli-" + id, srvIf: "vs"}
	steps := [][]string{
		{"ip", "netns", "add", t.srv},
		{"ip", "netns", "add", t.cli},
		{"ip", "link", "add", "snb" + id, "numtxqueues", "2", "numrxqueues", "2", "netns", t.srv, "type", "veth",
			"peer", "name", "snc" + id, "numtxqueues", "2", "numrxqueues", "2", "netns", t.cli},
		{"ip", "-n", t.srv, "link", "set", "snb" + id, "name", "vs"},
		{"ip", "-n", t.cli, "link", "set", "snc" + id, "name", "vc"},
	}
	for _, ns := range []string{t.srv, t.cli} {
		steps = append(steps,
			[]string{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"})
	}
	steps = append(steps,
		[]string{"ip", "-n", t.srv, "addr", "add", kernelIP + "/24", "dev", "vs"},
		[]string{"ip", "-n", t.cli, "addr", "add", clientIP + "/24", "dev", "vc"},
		[]string{"ip", "-n", t.srv, "link", "set", "vs", "up"},
		[]string{"ip", "-n", t.cli, "link", "set", "vc", "up"},
		// veth computes no checksums for AF_XDP: the client must send them filled in.
		[]string{"ip", "netns", "exec", t.cli, "ethtool", "-K", "vc", "tx", "off"},
		// The TAP path: the server namespace routes and answers ARP for the client.
		[]string{"ip", "netns", "exec", t.srv, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		[]string{"ip", "netns", "exec", t.srv, "sysctl", "-qw", "net.ipv4.conf.all.proxy_arp=1"},
		[]string{"ip", "-n", t.cli, "route", "add", "198.19.1.0/24", "via", kernelIP},
		// One queue per server shard: a frame on a queue with no AF_XDP
		// socket would go to the server namespace's kernel instead.
		[]string{"ip", "netns", "exec", t.srv, "ethtool", "-L", "vs", "rx", strconv.Itoa(shards), "tx", strconv.Itoa(shards)},
		[]string{"ip", "netns", "exec", t.cli, "ethtool", "-L", "vc", "rx", strconv.Itoa(shards), "tx", strconv.Itoa(shards)},
		// Many short connections: let the client reuse ports.
		[]string{"ip", "netns", "exec", t.cli, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"},
		[]string{"ip", "netns", "exec", t.cli, "sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000"},
	)
	for _, s := range steps {
		if err := sh(s...); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// Close deletes both namespaces (and with them the veth pair and any TAP
// device left behind).
func (t *topology) Close() {
	exec.Command("ip", "netns", "del", t.cli).Run()
	exec.Command("ip", "netns", "del", t.srv).Run()
}

// inNS returns the argv that runs args in ns pinned to cpus.
func inNS(ns, cpus string, args ...string) []string {
	return append([]string{"ip", "netns", "exec", ns, "taskset", "-c", cpus}, args...)
}
