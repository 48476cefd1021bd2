package wire

import (
	"bytes"
	"testing"
)

var goldenTCP = []struct {
	name     string
	frame    []byte
	src, dst [4]byte
	f        TCPFields
	sum      uint16
	opts     TCPOptions
	payload  string
}{
	{
		name: "SYN", frame: goldenSYN, src: hostA, dst: hostB,
		f:   TCPFields{SrcPort: 39070, DstPort: 8080, Seq: 0x7e8ee91d, Flags: TCPFlagSYN, Window: 64240, OptionsLen: 20},
		sum: 0x4464,
		opts: TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, HasTimestamps: true, TSVal: 0xdc4d8057,
			WScale: 10, HasWScale: true},
	},
	{
		name: "SYN-ACK", frame: goldenSYNACK, src: hostB, dst: hostA,
		f:   TCPFields{SrcPort: 8080, DstPort: 39070, Seq: 0x39812108, Ack: 0x7e8ee91e, Flags: TCPFlagSYN | TCPFlagACK, Window: 65160, OptionsLen: 20},
		sum: 0x2bfc,
		opts: TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, HasTimestamps: true, TSVal: 0x7b063f2f, TSEcr: 0xdc4d8057,
			WScale: 10, HasWScale: true},
	},
	{
		name: "data", frame: goldenData, src: hostA, dst: hostB,
		f:       TCPFields{SrcPort: 39070, DstPort: 8080, Seq: 0x7e8ee91e, Ack: 0x39812109, Flags: TCPFlagPSH | TCPFlagACK, Window: 63, OptionsLen: 12},
		sum:     0x1536,
		opts:    TCPOptions{HasTimestamps: true, TSVal: 0xdc4d8057, TSEcr: 0x7b063f2f},
		payload: "hello",
	},
}

func tcpFieldsOf(t TCP) TCPFields {
	return TCPFields{
		SrcPort: t.SrcPort(), DstPort: t.DstPort(), Seq: t.Seq(), Ack: t.Ack(), Flags: t.Flags(),
		Window: t.Window(), Urgent: t.Urgent(), OptionsLen: t.HeaderLen() - TCPMinHeaderLen,
	}
}

func TestTCPDeconstruct(t *testing.T) {
	for _, c := range goldenTCP {
		seg := tcpOf(c.frame)
		if err := seg.Check(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := tcpFieldsOf(seg); got != c.f {
			t.Errorf("%s: fields %+v, want %+v", c.name, got, c.f)
		}
		if seg.Checksum() != c.sum || !seg.ChecksumValid(c.src, c.dst) || seg.ComputeChecksum(c.src, c.dst) != c.sum {
			t.Errorf("%s: checksum %#x valid %v computed %#x, want %#x", c.name,
				seg.Checksum(), seg.ChecksumValid(c.src, c.dst), seg.ComputeChecksum(c.src, c.dst), c.sum)
		}
		if !seg.ChecksumValid(c.dst, c.src) {
			// Swapping addresses leaves the pseudo-header sum unchanged
			// (addition commutes), so this must still be valid.
			t.Errorf("%s: checksum depends on address order", c.name)
		}
		if seg.ChecksumValid(c.src, [4]byte{198, 18, 0, 3}) {
			t.Errorf("%s: checksum valid for the wrong destination", c.name)
		}
		var o TCPOptions
		if err := ParseTCPOptions(seg.Options(), &o); err != nil || o != c.opts {
			t.Errorf("%s: options %+v (%v), want %+v", c.name, o, err, c.opts)
		}
		if string(seg.Payload()) != c.payload {
			t.Errorf("%s: payload %q", c.name, seg.Payload())
		}
	}
}

func TestTCPConstruct(t *testing.T) {
	for _, c := range goldenTCP {
		want := tcpOf(c.frame)
		b := bytes.Repeat([]byte{0xee}, len(want))
		seg := TCP(b)
		seg.Encode(&c.f)
		if n := EncodeTCPOptions(b[TCPMinHeaderLen:], &c.opts); n != c.f.OptionsLen || n != c.opts.EncodedLen() {
			t.Fatalf("%s: EncodeTCPOptions wrote %d, EncodedLen %d, want %d", c.name, n, c.opts.EncodedLen(), c.f.OptionsLen)
		}
		copy(seg.Payload(), c.payload)
		if seg.Checksum() != 0 {
			t.Errorf("%s: Encode left checksum %#x", c.name, seg.Checksum())
		}
		seg.SetChecksum(seg.ComputeChecksum(c.src, c.dst))
		if !bytes.Equal(b, want) {
			t.Errorf("%s: built\n%x, want\n%x", c.name, b, want)
		}
	}
}

func TestTCPSetters(t *testing.T) {
	seg := TCP(clone(tcpOf(goldenData)))
	seg.SetSrcPort(1)
	seg.SetDstPort(2)
	seg.SetSeq(3)
	seg.SetAck(4)
	seg.SetFlags(TCPFlagRST)
	seg.SetWindow(5)
	seg.SetUrgent(6)
	want := TCPFields{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: TCPFlagRST, Window: 5, Urgent: 6, OptionsLen: 12}
	if got := tcpFieldsOf(seg); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if seg.ChecksumValid(hostA, hostB) {
		t.Fatal("checksum still valid after edits")
	}
	seg.SetChecksum(seg.ComputeChecksum(hostA, hostB))
	if !seg.ChecksumValid(hostA, hostB) {
		t.Fatal("checksum invalid after SetChecksum(ComputeChecksum())")
	}
}

func TestTCPOddLengthChecksum(t *testing.T) {
	// "hello" makes the golden data segment 37 bytes: check a one-byte
	// change in the odd last byte is caught, and in every other byte.
	seg := TCP(clone(tcpOf(goldenData)))
	for i := range seg {
		seg[i] ^= 0x01
		if seg.ChecksumValid(hostA, hostB) {
			t.Errorf("flipping a bit of byte %d went unnoticed", i)
		}
		seg[i] ^= 0x01
	}
}

func TestTCPTruncated(t *testing.T) {
	for _, c := range goldenTCP {
		seg := tcpOf(c.frame)
		hl := seg.HeaderLen()
		for n := range hl {
			want := ErrTCPDataOffset
			if n < TCPMinHeaderLen {
				want = ErrTCPTruncated
			}
			if err := seg[:n].Check(); err != want {
				t.Errorf("%s: %d bytes: Check = %v, want %v", c.name, n, err, want)
			}
		}
		for n := hl; n <= len(seg); n++ {
			if err := seg[:n].Check(); err != nil {
				t.Errorf("%s: %d bytes: Check = %v", c.name, n, err)
			}
		}
	}
}

func TestTCPDataOffset(t *testing.T) {
	for off := range 16 {
		seg := TCP(clone(tcpOf(goldenData))) // 12 option bytes, 5 data
		seg[12] = byte(off<<4) | 0x0f        // reserved/AE bits must not matter
		err := seg.Check()
		switch {
		case off < 5 || off*4 > len(seg):
			if err != ErrTCPDataOffset {
				t.Errorf("offset %d: Check = %v, want ErrTCPDataOffset", off, err)
			}
		case off == 6 || off == 7:
			// The header ends inside the timestamps option.
			if err != ErrTCPOptions {
				t.Errorf("offset %d: Check = %v, want ErrTCPOptions", off, err)
			}
		case off == 9:
			// The header swallows "hell" as options: 'h' is kind 104 with
			// length 'e' (101), past the end.
			if err != ErrTCPOptions {
				t.Errorf("offset %d: Check = %v, want ErrTCPOptions", off, err)
			}
		default: // 5: no options; 8: the real header
			if err != nil || seg.HeaderLen() != off*4 || len(seg.Payload()) != len(seg)-off*4 {
				t.Errorf("offset %d: Check = %v, HeaderLen %d", off, err, seg.HeaderLen())
			}
		}
	}
}

func TestTCPFlags(t *testing.T) {
	for _, c := range []struct {
		f    TCPFlags
		want string
	}{
		{0, "none"},
		{TCPFlagSYN, "SYN"},
		{TCPFlagSYN | TCPFlagACK, "SYN|ACK"},
		{TCPFlagFIN | TCPFlagPSH | TCPFlagACK, "FIN|PSH|ACK"},
		{0xff, "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("%#x.String() = %q, want %q", uint8(c.f), got, c.want)
		}
	}
	f := TCPFlagSYN | TCPFlagACK
	if !f.Has(TCPFlagSYN) || !f.Has(TCPFlagSYN|TCPFlagACK) || f.Has(TCPFlagRST) || f.Has(TCPFlagACK|TCPFlagFIN) || !f.Has(0) {
		t.Error("Has")
	}
	if tcpOf(goldenSYNACK).Flags() != f {
		t.Error("golden SYN-ACK flags")
	}
}
