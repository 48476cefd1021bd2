//go:build linux

package afxdp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// ProgName is the name the XDP program is loaded under (bpftool prog show,
// ip link show). Open recognises a program of this name left attached by
// an earlier run and replaces it.
const ProgName = "shardnet_xdp"

// XDP verdicts (enum xdp_action).
const (
	xdpDrop = 1
	xdpPass = 2
)

// Offsets into the frame and into struct xdp_md.
const (
	ethHdrLen   = 14
	ethTypeOff  = 12
	ipv4DstOff  = ethHdrLen + 16 // daddr in a 20-byte (or longer) IPv4 header
	ipv4MinEnd  = ethHdrLen + 20
	arpHlnOff   = ethHdrLen + 4 // hardware and protocol address lengths
	arpTpaOff   = ethHdrLen + 24
	arpEnd      = ethHdrLen + 28
	mdData      = 0
	mdDataEnd   = 4
	mdRxQueue   = 16
	etherIPv4   = 0x0800
	etherARP    = 0x0806
	arpLensEth4 = 0x0604 // hlen 6, plen 4: Ethernet and IPv4
)

// newXSKMap makes the XSKMAP that the program redirects through, one slot
// per receive queue.
func newXSKMap(queues int) (*ebpf.Map, error) {
	return ebpf.NewMap(&ebpf.MapSpec{
		Name:       "shardnet_xsks",
		Type:       ebpf.XSKMap,
		KeySize:    4,
		ValueSize:  4,
		MaxEntries: uint32(queues),
	})
}

// steerProgram builds the XDP program: frames for addr (IPv4 with that
// destination, ARP whose target protocol address is addr) are redirected
// to the socket in xsks at ctx->rx_queue_index; everything else is passed
// to the kernel. fallback is the verdict when that slot is empty (no socket
// yet, or the queue's socket has closed): XDP_PASS in production, so the
// kernel answers until a shard is ready; tests use XDP_DROP to tell "would
// redirect" from "pass" without a socket.
//
// Comparisons are made on values loaded in host byte order, so the
// constants are the wire bytes read in host order; 32-bit compares
// (JMP32) avoid sign extension of the immediates.
func steerProgram(xsks *ebpf.Map, addr [4]byte, fallback int32) asm.Instructions {
	host16 := func(v uint16) int32 {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], v)
		return int32(binary.NativeEndian.Uint16(b[:]))
	}
	ip := int32(binary.NativeEndian.Uint32(addr[:]))
	return asm.Instructions{
		// r6 = ctx; r2 = data; r3 = data_end
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, mdData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, mdDataEnd, asm.Word),
		// Ethernet header present?
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, ethHdrLen),
		asm.JGT.Reg(asm.R4, asm.R3, "pass"),
		asm.LoadMem(asm.R5, asm.R2, ethTypeOff, asm.Half),
		asm.JEq.Imm32(asm.R5, host16(etherIPv4), "ipv4"),
		asm.JEq.Imm32(asm.R5, host16(etherARP), "arp"),
		asm.Ja.Label("pass"),

		// IPv4: destination address is ours?
		asm.Mov.Reg(asm.R4, asm.R2).WithSymbol("ipv4"),
		asm.Add.Imm(asm.R4, ipv4MinEnd),
		asm.JGT.Reg(asm.R4, asm.R3, "pass"),
		asm.LoadMem(asm.R5, asm.R2, ipv4DstOff, asm.Word),
		asm.JEq.Imm32(asm.R5, ip, "redirect"),
		asm.Ja.Label("pass"),

		// ARP over Ethernet for IPv4, asking for (or answering to) ours?
		asm.Mov.Reg(asm.R4, asm.R2).WithSymbol("arp"),
		asm.Add.Imm(asm.R4, arpEnd),
		asm.JGT.Reg(asm.R4, asm.R3, "pass"),
		asm.LoadMem(asm.R5, asm.R2, arpHlnOff, asm.Half),
		asm.JNE.Imm32(asm.R5, host16(arpLensEth4), "pass"),
		asm.LoadMem(asm.R5, asm.R2, arpTpaOff, asm.Word),
		asm.JEq.Imm32(asm.R5, ip, "redirect"),
		asm.Ja.Label("pass"),

		// return bpf_redirect_map(&xsks, ctx->rx_queue_index, fallback)
		asm.LoadMapPtr(asm.R1, xsks.FD()).WithSymbol("redirect"),
		asm.LoadMem(asm.R2, asm.R6, mdRxQueue, asm.Word),
		asm.Mov.Imm(asm.R3, fallback),
		asm.FnRedirectMap.Call(),
		asm.Return(),

		asm.Mov.Imm(asm.R0, xdpPass).WithSymbol("pass"),
		asm.Return(),
	}
}

// loadProgram verifies and loads the steering program.
func loadProgram(xsks *ebpf.Map, addr [4]byte, fallback int32) (*ebpf.Program, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         ProgName,
		Type:         ebpf.XDP,
		License:      "Dual MIT/GPL",
		Instructions: steerProgram(xsks, addr, fallback),
	})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("afxdp: the kernel's verifier rejected the XDP program (a bug in shardnet; please report it with this log): %+v", ve)
		}
		return nil, bpfErr("loading the XDP program", err)
	}
	return prog, nil
}
