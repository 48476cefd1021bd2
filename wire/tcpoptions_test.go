package wire

import (
	"bytes"
	"testing"
)

func TestParseTCPOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		opts string
		want TCPOptions
	}{
		{"empty", "", TCPOptions{}},
		{"EOL only", "00000000", TCPOptions{}},
		{"NOPs", "01010101", TCPOptions{}},
		{"Linux SYN", "020405b4 0402 080a 00000001 00000000 01 030307",
			TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, HasTimestamps: true, TSVal: 1, WScale: 7, HasWScale: true}},
		{"MSS then EOL then garbage", "020405b4 00 ff ff 05", TCPOptions{MSS: 1460, HasMSS: true}},
		{"NOP NOP SACK-permitted", "0101 0402", TCPOptions{SACKPermitted: true}},
		{"one SACK block", "0101 050a 00000064 000000c8", TCPOptions{NumSACK: 1, SACK: [4]SACKBlock{{100, 200}}}},
		{"four SACK blocks", "0101 0522 00000001 00000002 00000003 00000004 00000005 00000006 fffffff0 00000010",
			TCPOptions{NumSACK: 4, SACK: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {0xfffffff0, 0x10}}}},
		{"timestamps then SACK", "0101 080a 0000000a 0000000b 0101 0512 00000001 00000002 00000003 00000004",
			TCPOptions{HasTimestamps: true, TSVal: 10, TSEcr: 11, NumSACK: 2, SACK: [4]SACKBlock{{1, 2}, {3, 4}}}},
		{"unknown kinds skipped", "1e04abcd fe02 0101 0303 0e", TCPOptions{WScale: 14, HasWScale: true}},
		{"TCP Fast Open cookie", "2206 01020304 0101", TCPOptions{}},
		{"MD5 signature", "1312 000102030405060708090a0b0c0d0e0f 0000", TCPOptions{}},
		{"duplicate MSS: last wins", "02040100 02040200", TCPOptions{MSS: 512, HasMSS: true}},
		{"second SACK option replaces the first", "0512 00000001 00000002 00000003 00000004 050a 00000009 0000000a",
			TCPOptions{NumSACK: 1, SACK: [4]SACKBlock{{9, 10}}}},
		{"unknown option exactly filling the rest", "0101 ff06 00000000", TCPOptions{}},
		{"wscale above 14 is data, not an error", "030310", TCPOptions{WScale: 16, HasWScale: true}},
	} {
		o := TCPOptions{MSS: 9, NumSACK: 3} // ParseTCPOptions must zero it
		if err := ParseTCPOptions(unhex(c.opts), &o); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if o != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, o, c.want)
		}
		if err := tcpWithOptions(unhex(c.opts)).Check(); err != nil {
			t.Errorf("%s: TCP.Check = %v", c.name, err)
		}
	}
}

// tcpWithOptions is a bare ACK header carrying opts, preceded by NOPs to
// make a multiple of 4 (so an option cut short stays cut short). Being an
// ACK, not a SYN, it also shows that SYN-only options (MSS, window scale,
// SACK-permitted) do not fail Check on other segments.
func tcpWithOptions(opts []byte) TCP {
	n := (len(opts) + 3) &^ 3
	b := make([]byte, TCPMinHeaderLen+n)
	TCP(b).Encode(&TCPFields{SrcPort: 1, DstPort: 2, Flags: TCPFlagACK, OptionsLen: n})
	for i := TCPMinHeaderLen; i < len(b)-len(opts); i++ {
		b[i] = tcpOptNOP
	}
	copy(b[len(b)-len(opts):], opts)
	return b
}

func TestParseTCPOptionsMalformed(t *testing.T) {
	for _, c := range []struct{ name, opts string }{
		{"kind without length byte", "02"},
		{"MSS cut short", "020405"},
		{"MSS length 3", "020305"},
		{"MSS length 5", "0205000000"},
		{"MSS length 2", "0202"},
		{"wscale length 4", "03040000"},
		{"wscale length 2", "0302"},
		{"wscale cut short", "0303"},
		{"SACK-permitted length 3", "040300"},
		{"SACK-permitted length 4", "04040000"},
		{"SACK length 2 (no blocks)", "0502"},
		{"SACK length 6", "0506 00000000"},
		{"SACK length 18 cut short", "0512 00000001 00000002 00000003"},
		{"SACK length 11", "050b 00000001 00000002 00"},
		{"SACK five blocks", "052a" + "0000000100000002 0000000300000004 0000000500000006 0000000700000008 000000090000000a"},
		{"timestamps length 8", "0808 00000001 0000"},
		{"timestamps length 12", "080c 00000001 00000002 0000"},
		{"timestamps cut short", "080a 00000001 0000"},
		{"unknown kind length 0", "fe00"},
		{"unknown kind length 1", "fe01"},
		{"unknown kind past the end", "fe05 0000"},
		{"NOPs then a cut option", "010101 02"},
		{"length 255", "ffff 00"},
		{"a bad option after good ones", "020405b4 0101 080a 00000001 00000002 0309 00"},
	} {
		opts := unhex(c.opts)
		o := TCPOptions{}
		if err := ParseTCPOptions(opts, &o); err != ErrTCPOptions {
			t.Errorf("%s: ParseTCPOptions = %v, want ErrTCPOptions", c.name, err)
		}
		if o != (TCPOptions{}) {
			t.Errorf("%s: left %+v behind on error", c.name, o)
		}
		if len(opts) <= MaxTCPOptionsLen {
			// The same bytes at the end of a header: Check agrees.
			if err := tcpWithOptions(opts).Check(); err != ErrTCPOptions {
				t.Errorf("%s: TCP.Check = %v, want ErrTCPOptions", c.name, err)
			}
		}
	}
}

func TestEncodeTCPOptionsLayout(t *testing.T) {
	blocks := [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}
	for _, c := range []struct {
		name string
		o    TCPOptions
		want string
	}{
		{"none", TCPOptions{}, ""},
		{"MSS", TCPOptions{MSS: 1460, HasMSS: true}, "020405b4"},
		{"Linux SYN", TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, HasTimestamps: true, TSVal: 0xdc4d8057, WScale: 10, HasWScale: true},
			"020405b4 0402080a dc4d8057 00000000 0103030a"},
		{"SYN without timestamps", TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, WScale: 7, HasWScale: true},
			"020405b4 01010402 01030307"},
		{"SYN with timestamps, no SACK", TCPOptions{MSS: 536, HasMSS: true, HasTimestamps: true, TSVal: 1, TSEcr: 2},
			"02040218 0101080a 00000001 00000002"},
		{"timestamps", TCPOptions{HasTimestamps: true, TSVal: 0xdeadbeef, TSEcr: 0xcafef00d}, "0101080a deadbeef cafef00d"},
		{"SACK", TCPOptions{NumSACK: 1, SACK: blocks}, "0101050a 00000001 00000002"},
		{"timestamps and SACK", TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2, NumSACK: 2, SACK: blocks},
			"0101080a 00000001 00000002 01010512 00000001 00000002 00000003 00000004"},
		{"four SACK blocks", TCPOptions{NumSACK: 4, SACK: blocks},
			"01010522 00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008"},
	} {
		b := bytes.Repeat([]byte{0xee}, MaxTCPOptionsLen+1)
		n := EncodeTCPOptions(b, &c.o)
		want := unhex(c.want)
		if n != len(want) || n != c.o.EncodedLen() || !bytes.Equal(b[:n], want) {
			t.Errorf("%s: wrote %d (EncodedLen %d)\n%x, want\n%x", c.name, n, c.o.EncodedLen(), b[:n], want)
		}
		if b[n] != 0xee {
			t.Errorf("%s: wrote past the %d bytes it reported", c.name, n)
		}
		var back TCPOptions
		if err := ParseTCPOptions(b[:n], &back); err != nil || back != c.o.trimmed(len(want)) {
			t.Errorf("%s: parsed back %+v (%v)", c.name, back, err)
		}
	}
}

// trimmed is o as it reads back after encoding: only the SACK blocks
// Encode kept (as many as the encoding of length n holds), the rest zero.
func (o TCPOptions) trimmed(n int) TCPOptions {
	keep := 0
	if o.NumSACK > 0 && n >= 12 {
		// The SACK option is last; its length byte sits 4+8k bytes from
		// the end, k blocks.
		for k := 1; k <= o.NumSACK && 4+8*k <= n; k++ {
			keep = k
		}
	}
	o.NumSACK = keep
	for i := keep; i < len(o.SACK); i++ {
		o.SACK[i] = SACKBlock{}
	}
	return o
}

func TestEncodeTCPOptionsSACKLimit(t *testing.T) {
	full := [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}
	for _, c := range []struct {
		name  string
		o     TCPOptions
		fixed int // bytes before the SACK option
		fit   int // blocks that fit
	}{
		{"alone", TCPOptions{}, 0, 4},
		{"with MSS", TCPOptions{HasMSS: true}, 4, 4},
		{"with wscale", TCPOptions{HasWScale: true}, 4, 4},
		{"with SACK-permitted", TCPOptions{SACKPermitted: true}, 4, 4},
		{"with wscale and SACK-permitted", TCPOptions{HasWScale: true, SACKPermitted: true}, 8, 3},
		{"with MSS, wscale and SACK-permitted", TCPOptions{HasMSS: true, HasWScale: true, SACKPermitted: true}, 12, 3},
		{"with timestamps", TCPOptions{HasTimestamps: true}, 12, 3},
		{"with timestamps and SACK-permitted", TCPOptions{HasTimestamps: true, SACKPermitted: true}, 12, 3},
		{"with timestamps and MSS", TCPOptions{HasTimestamps: true, HasMSS: true}, 16, 2},
		{"with timestamps and wscale", TCPOptions{HasTimestamps: true, HasWScale: true}, 16, 2},
		{"with everything", TCPOptions{HasMSS: true, HasTimestamps: true, SACKPermitted: true, HasWScale: true}, 20, 2},
	} {
		for asked := -1; asked <= 5; asked++ {
			o := c.o
			o.SACK = full
			o.NumSACK = asked
			sent := min(max(asked, 0), c.fit)
			want := c.fixed
			if sent > 0 {
				want += 4 + 8*sent
			}
			b := make([]byte, MaxTCPOptionsLen)
			if n := EncodeTCPOptions(b, &o); n != want || o.EncodedLen() != want || n%4 != 0 || n > MaxTCPOptionsLen {
				t.Errorf("%s, %d blocks: wrote %d, EncodedLen %d, want %d", c.name, asked, n, o.EncodedLen(), want)
				continue
			}
			var back TCPOptions
			if err := ParseTCPOptions(b[:want], &back); err != nil || back.NumSACK != sent ||
				(sent > 0 && back.SACK[0] != full[0]) || (sent > 0 && back.SACK[sent-1] != full[sent-1]) {
				t.Errorf("%s, %d blocks: read back %d blocks %v (%v), want the first %d", c.name, asked, back.NumSACK, back.SACK, err, sent)
			}
		}
	}
}
