package wire

import (
	"encoding/hex"
	"strings"
)

// Golden frames, captured off a veth pair between two Linux 6.18 network
// namespaces (198.18.0.1 at 8a:7d:94:bf:ce:5b, 198.18.0.2 at
// aa:94:09:ad:cd:e1, transmit checksum offload off so every checksum on the
// wire is the kernel's own): `ping -c1 -p 0123456789abcdef` and a TCP
// connection to port 8080 that sends "hello".
var (
	hostA    = [4]byte{198, 18, 0, 1}
	hostB    = [4]byte{198, 18, 0, 2}
	macA     = [6]byte{0x8a, 0x7d, 0x94, 0xbf, 0xce, 0x5b}
	macB     = [6]byte{0xaa, 0x94, 0x09, 0xad, 0xcd, 0xe1}
	pingData = unhex("0123456789abcdef 0123456789abcdef 0123456789abcdef 0123456789abcdef 0123456789abcdef")
)

// goldenARPRequest: who-has 198.18.0.2 tell 198.18.0.1, broadcast.
var goldenARPRequest = unhex(`
	ffffffffffff 8a7d94bfce5b 0806
	0001 0800 06 04 0001 8a7d94bfce5b c6120001 000000000000 c6120002`)

// goldenARPReply: 198.18.0.2 is-at aa:94:09:ad:cd:e1.
var goldenARPReply = unhex(`
	8a7d94bfce5b aa9409adcde1 0806
	0001 0800 06 04 0002 aa9409adcde1 c6120002 8a7d94bfce5b c6120001`)

// goldenEchoRequest: ICMP echo request, id 0x2b16 seq 1, 56 data bytes
// (Linux ping's 16-byte timestamp and the pattern), DF set.
var goldenEchoRequest = unhex(`
	aa9409adcde1 8a7d94bfce5b 0800
	4500 0054 e75e 4000 40 01 c722 c6120001 c6120002
	08 00 4c4c 2b16 0001
	1f9b026b00000000 3bda0c0000000000
	0123456789abcdef 0123456789abcdef 0123456789abcdef 0123456789abcdef 0123456789abcdef`)

// goldenEchoReply: the kernel's answer (no DF, its own IP ID).
var goldenEchoReply = unhex(`
	8a7d94bfce5b aa9409adcde1 0800
	4500 0054 84eb 0000 40 01 6996 c6120002 c6120001
	00 00 544c 2b16 0001
	1f9b026b00000000 3bda0c0000000000
	0123456789abcdef 0123456789abcdef 0123456789abcdef 0123456789abcdef 0123456789abcdef`)

// goldenSYN: 198.18.0.1:39070 > 198.18.0.2:8080 SYN, window 64240, options
// as Linux sends them: MSS 1460, SACK-permitted + timestamps, NOP, wscale 10.
var goldenSYN = unhex(`
	aa9409adcde1 8a7d94bfce5b 0800
	4500 003c bf1f 4000 40 06 ef74 c6120001 c6120002
	989e 1f90 7e8ee91d 00000000 a0 02 faf0 4464 0000
	020405b4 0402 080a dc4d8057 00000000 01 03 03 0a`)

// goldenSYNACK: the listener's SYN-ACK, window 65160.
var goldenSYNACK = unhex(`
	8a7d94bfce5b aa9409adcde1 0800
	4500 003c 0000 4000 40 06 ae94 c6120002 c6120001
	1f90 989e 39812108 7e8ee91e a0 12 fe88 2bfc 0000
	020405b4 0402 080a 7b063f2f dc4d8057 01 03 03 0a`)

// goldenData: PSH|ACK carrying "hello", with NOP NOP timestamps.
var goldenData = unhex(`
	aa9409adcde1 8a7d94bfce5b 0800
	4500 0039 bf21 4000 40 06 ef75 c6120001 c6120002
	989e 1f90 7e8ee91e 39812109 80 18 003f 1536 0000
	0101 080a dc4d8057 7b063f2f
	68656c6c6f`)

// unhex decodes hex with any whitespace in it; it panics on bad input
// (test data only).
func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// ipOf, icmpOf and tcpOf cut the layers out of a golden frame.
func ipOf(frame []byte) IPv4 { return IPv4(frame[EthernetHeaderLen:]) }

func icmpOf(frame []byte) ICMPv4 { return ICMPv4(ipOf(frame).Payload()) }

func tcpOf(frame []byte) TCP { return TCP(ipOf(frame).Payload()) }

// clone is a fresh copy of b, so tests can write without touching goldens.
func clone(b []byte) []byte { return append([]byte(nil), b...) }
