package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/buf/buftest"
	"github.com/shardnet/shardnet/nic"
	"github.com/shardnet/shardnet/nic/memwire"
)

func newSlab(t testing.TB, frames int) *buf.Slab { return buftest.NewSlab(t, frames) }

// fixture: a memwire cable whose end a is captured.
type fixture struct {
	sa, sb *buf.Slab
	a      *Queue
	b      nic.Queue
	out    *bytes.Buffer
	now    int64 // the capture's clock
}

func newFixture(t testing.TB, ring int, cfg Config, w io.Writer) *fixture {
	t.Helper()
	f := &fixture{sa: newSlab(t, 256), sb: newSlab(t, 256), out: &bytes.Buffer{}, now: 1_700_000_000_123_456_789}
	ma, mb, err := memwire.New(memwire.Config{Ring: ring}, f.sa, f.sb)
	if err != nil {
		t.Fatal(err)
	}
	if w == nil {
		w = f.out
	}
	if cfg.Clock == nil {
		cfg.Clock = func() int64 { return f.now }
	}
	f.a, err = Wrap(ma, w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.b = mb
	t.Cleanup(func() {
		f.a.Close()
		f.b.Close()
	})
	return f
}

// frame makes a frame of n bytes from s whose bytes depend on id.
func frame(t testing.TB, s *buf.Slab, id, n int) *buf.Packet {
	p := s.Alloc()
	if p == nil {
		t.Fatal("slab exhausted")
	}
	d := p.Append(n)
	for i := range d {
		d[i] = byte(i*3 + id*7)
	}
	return p
}

func frameBytes(id, n int) []byte {
	d := make([]byte, n)
	for i := range d {
		d[i] = byte(i*3 + id*7)
	}
	return d
}

type record struct {
	ts         int64
	incl, orig int
	data       []byte
}

// readPcap is an independent reader of the classic format, little-endian
// nanosecond flavour only.
func readPcap(t *testing.T, b []byte) (snaplen, linktype int, recs []record) {
	t.Helper()
	if len(b) < 24 {
		t.Fatalf("file of %d bytes", len(b))
	}
	le := binary.LittleEndian
	if m := le.Uint32(b); m != 0xa1b23c4d {
		t.Fatalf("magic %#x", m)
	}
	if le.Uint16(b[4:]) != 2 || le.Uint16(b[6:]) != 4 || le.Uint32(b[8:]) != 0 || le.Uint32(b[12:]) != 0 {
		t.Fatalf("bad header % x", b[:24])
	}
	snaplen, linktype = int(le.Uint32(b[16:])), int(le.Uint32(b[20:]))
	for b = b[24:]; len(b) > 0; {
		if len(b) < 16 {
			t.Fatalf("truncated record header")
		}
		r := record{
			ts:   int64(le.Uint32(b))*1e9 + int64(le.Uint32(b[4:])),
			incl: int(le.Uint32(b[8:])),
			orig: int(le.Uint32(b[12:])),
		}
		if le.Uint32(b[4:]) >= 1e9 || r.incl > snaplen || r.incl > r.orig || len(b) < 16+r.incl {
			t.Fatalf("bad record header % x", b[:16])
		}
		r.data = b[16 : 16+r.incl]
		recs = append(recs, r)
		b = b[16+r.incl:]
	}
	return snaplen, linktype, recs
}

type want struct {
	ts   int64
	data []byte
}

// exchange sends frames both ways in alternating bursts and returns what the
// capture of a must contain, in order.
func (f *fixture) exchange(t *testing.T, bursts int) []want {
	var ws []want
	var pk, rx [8]*buf.Packet
	id := 0
	for i := range bursts {
		f.now += 1_000_003
		k := 1 + i%len(pk)
		size := func(j int) int { return 60 + (id+j)*97%1455 }
		if i%2 == 0 { // a transmits: recorded on TX
			for j := range k {
				pk[j] = frame(t, f.sa, id+j, size(j))
				ws = append(ws, want{f.now, frameBytes(id+j, size(j))})
			}
			if f.a.TxBurst(pk[:k]) != k {
				t.Fatal("TxBurst refused frames")
			}
			if n := f.b.RxBurst(rx[:]); n != k {
				t.Fatalf("peer received %d of %d", n, k)
			}
		} else { // b transmits: recorded on RX
			for j := range k {
				pk[j] = frame(t, f.sb, id+j, size(j))
				ws = append(ws, want{f.now, frameBytes(id+j, size(j))})
			}
			if f.b.TxBurst(pk[:k]) != k {
				t.Fatal("TxBurst refused frames")
			}
			if n := f.a.RxBurst(rx[:]); n != k {
				t.Fatalf("received %d of %d", n, k)
			}
		}
		for _, p := range rx[:k] {
			p.Release()
		}
		id += k
	}
	return ws
}

func TestCaptureBothDirections(t *testing.T) {
	f := newFixture(t, 0, Config{}, nil)
	ws := f.exchange(t, 40)
	if err := f.a.Flush(); err != nil {
		t.Fatal(err)
	}
	snap, link, recs := readPcap(t, f.out.Bytes())
	if snap != 65535 || link != 1 {
		t.Fatalf("snaplen %d linktype %d", snap, link)
	}
	if len(recs) != len(ws) {
		t.Fatalf("%d records, want %d", len(recs), len(ws))
	}
	for i, r := range recs {
		if r.ts != ws[i].ts || r.orig != len(ws[i].data) || !bytes.Equal(r.data, ws[i].data) {
			t.Fatalf("record %d: ts %d len %d/%d, want ts %d len %d", i, r.ts, r.incl, r.orig, ws[i].ts, len(ws[i].data))
		}
	}
	if st := f.a.CaptureStats(); st.Records != uint64(len(ws)) || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}

	// The same file through gopacket's reader.
	r, err := pcapgo.NewReader(bytes.NewReader(f.out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != 1 || r.Snaplen() != 65535 {
		t.Fatalf("pcapgo: link type %v snaplen %d", r.LinkType(), r.Snaplen())
	}
	for i := 0; ; i++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			if i != len(ws) {
				t.Fatalf("pcapgo read %d packets, want %d", i, len(ws))
			}
			break
		}
		if err != nil {
			t.Fatalf("pcapgo packet %d: %v", i, err)
		}
		if !bytes.Equal(data, ws[i].data) || ci.Length != len(data) || ci.CaptureLength != len(data) ||
			!ci.Timestamp.Equal(time.Unix(0, ws[i].ts)) {
			t.Fatalf("pcapgo packet %d differs (ts %v)", i, ci.Timestamp)
		}
	}
}

func TestSnaplenTruncates(t *testing.T) {
	f := newFixture(t, 0, Config{Snaplen: 100}, nil)
	ws := f.exchange(t, 10)
	f.a.Flush()
	snap, _, recs := readPcap(t, f.out.Bytes())
	if snap != 100 || len(recs) != len(ws) {
		t.Fatalf("snaplen %d, %d records", snap, len(recs))
	}
	r, err := pcapgo.NewReader(bytes.NewReader(f.out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		w := ws[i].data
		if rec.orig != len(w) || rec.incl != min(len(w), 100) || !bytes.Equal(rec.data, w[:rec.incl]) {
			t.Fatalf("record %d: %d/%d bytes", i, rec.incl, rec.orig)
		}
		data, ci, err := r.ReadPacketData()
		if err != nil || !bytes.Equal(data, w[:rec.incl]) || ci.Length != len(w) {
			t.Fatalf("pcapgo record %d: %v, %d/%d", i, err, ci.CaptureLength, ci.Length)
		}
	}
}

func TestRefusedTxFramesRecordedOnce(t *testing.T) {
	f := newFixture(t, 4, Config{}, nil)
	pk := make([]*buf.Packet, 10)
	for i := range pk {
		pk[i] = frame(t, f.sa, i, 100+i)
	}
	var rx [10]*buf.Packet
	got := 0
	for sent := 0; sent < 10; {
		n := f.a.TxBurst(pk[sent:])
		if n == 0 {
			t.Fatal("TxBurst took nothing from an emptied ring")
		}
		sent += n
		if sent < 10 && f.a.CaptureStats().Records+f.a.pending != uint64(sent) {
			t.Fatalf("after %d frames taken %d records exist", sent, f.a.pending)
		}
		k := f.b.RxBurst(rx[got:])
		got += k
	}
	for _, p := range rx[:got] {
		p.Release()
	}
	f.a.Flush()
	_, _, recs := readPcap(t, f.out.Bytes())
	if len(recs) != 10 {
		t.Fatalf("%d records of 10 frames", len(recs))
	}
	for i, r := range recs {
		if !bytes.Equal(r.data, frameBytes(i, 100+i)) {
			t.Fatalf("record %d is not frame %d", i, i)
		}
	}
	if st := f.a.CaptureStats(); st.Records != 10 || st.Bytes != 10*100+45 {
		t.Fatalf("stats %+v", st)
	}
}

// countingWriter counts writes, and fails once it has taken failAfter bytes
// (if failAfter > 0).
type countingWriter struct {
	bytes.Buffer
	writes    int
	failAfter int
	closed    bool
}

var errDiskFull = errors.New("disk full")

func (w *countingWriter) Write(b []byte) (int, error) {
	w.writes++
	if w.failAfter > 0 && w.Len()+len(b) > w.failAfter {
		n := w.failAfter - w.Len()
		w.Buffer.Write(b[:n])
		return n, errDiskFull
	}
	return w.Buffer.Write(b)
}

func (w *countingWriter) Close() error {
	w.closed = true
	return nil
}

func TestLargeCaptureBuffersWrites(t *testing.T) {
	w := &countingWriter{}
	f := newFixture(t, 0, Config{}, w)
	pk := make([]*buf.Packet, 32)
	var rx [32]*buf.Packet
	const bursts = 200 // 6400 frames of 1514 bytes: ~9.7 MB
	for range bursts {
		for i := range pk {
			pk[i] = frame(t, f.sa, i, 1514)
		}
		f.a.TxBurst(pk)
		n := f.b.RxBurst(rx[:])
		for _, p := range rx[:n] {
			p.Release()
		}
	}
	if err := f.a.Close(); err != nil {
		t.Fatal(err)
	}
	if w.closed {
		t.Fatal("Close closed a writer it does not own")
	}
	_, _, recs := readPcap(t, w.Bytes())
	if len(recs) != bursts*32 {
		t.Fatalf("%d records", len(recs))
	}
	wantWrites := 1 + w.Len()/bufSize + 1
	if w.writes > wantWrites {
		t.Fatalf("%d writes for %d bytes: buffering broken (want <= %d)", w.writes, w.Len(), wantWrites)
	}
}

func TestWriteErrorIsStickyAndFramesFlow(t *testing.T) {
	w := &countingWriter{failAfter: 24 + 3*(16+1000) + 5}
	f := newFixture(t, 0, Config{CloseWriter: true}, w)
	pk := make([]*buf.Packet, 1)
	var rx [1]*buf.Packet
	for i := range 500 { // 500 KB: the buffer fills and the write fails
		pk[0] = frame(t, f.sa, i, 1000)
		if f.a.TxBurst(pk) != 1 || f.b.RxBurst(rx[:]) != 1 {
			t.Fatalf("frame %d did not flow after a capture error", i)
		}
		rx[0].Release()
	}
	err := f.a.Flush()
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Flush = %v, want the write error", err)
	}
	st := f.a.CaptureStats()
	if st.Records != 0 || st.Lost != 500 {
		t.Fatalf("stats %+v", st)
	}
	if err := f.a.Close(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Close = %v", err)
	}
	if !w.closed {
		t.Fatal("Close did not close the writer it owns")
	}
	if f.a.Close() != nic.ErrClosed || f.b.TxBurst(pk[:0]) != 0 {
		t.Fatal("second Close")
	}
}

func TestWrapHeaderWriteErrorAndBadConfig(t *testing.T) {
	s := newSlab(t, 4)
	ma, mb, err := memwire.New(memwire.Config{}, s, s)
	if err != nil {
		t.Fatal(err)
	}
	defer ma.Close()
	defer mb.Close()
	if _, err := Wrap(ma, &countingWriter{failAfter: 10}, Config{}); !errors.Is(err, errDiskFull) {
		t.Fatalf("Wrap with a failing writer = %v", err)
	}
	for _, n := range []int{-1, MaxSnaplen + 1} {
		if _, err := Wrap(ma, io.Discard, Config{Snaplen: n}); !errors.Is(err, ErrBadConfig) {
			t.Fatalf("snaplen %d: %v", n, err)
		}
	}
}

func TestTsharkReadsCapture(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not on PATH; the pcapgo and own-reader checks still ran")
	}
	path := filepath.Join(t.TempDir(), "cap.pcap")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, 0, Config{Clock: func() int64 { return time.Now().UnixNano() }, CloseWriter: true}, file)
	ws := f.exchange(t, 20)
	if err := f.a.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.len").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(ws) {
		t.Fatalf("tshark saw %d frames, want %d", len(lines), len(ws))
	}
	for i, l := range lines {
		if n, _ := strconv.Atoi(l); n != len(ws[i].data) {
			t.Fatalf("tshark frame %d: len %s, want %d", i, l, len(ws[i].data))
		}
	}
}

func TestZeroAllocsPerFrame(t *testing.T) {
	f := newFixture(t, 0, Config{Clock: func() int64 { return time.Now().UnixNano() }}, io.Discard)
	pb, err := Wrap(f.b, io.Discard, Config{})
	if err != nil {
		t.Fatal(err)
	}
	tx := make([]*buf.Packet, 2)
	rx := make([]*buf.Packet, 4)
	allocs := testing.AllocsPerRun(2000, func() {
		tx[0], tx[1] = f.sa.Alloc(), f.sa.Alloc()
		tx[0].Append(1514)
		tx[1].Append(60)
		f.a.TxBurst(tx)
		n := pb.RxBurst(rx)
		for _, p := range rx[:n] {
			p.Release()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per burst", allocs)
	}
	if st := f.a.CaptureStats(); st.Records < 2000 {
		t.Fatalf("buffer never flushed during the run: %+v", st)
	}
}

func BenchmarkCaptureTx(b *testing.B) {
	for _, size := range []int{64, 1514} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			f := newFixture(b, 0, Config{}, io.Discard)
			var tx, rx [32]*buf.Packet
			b.ReportAllocs()
			b.SetBytes(int64(32 * size))
			for b.Loop() {
				for i := range tx {
					tx[i] = f.sa.Alloc()
					tx[i].Append(size)
				}
				f.a.TxBurst(tx[:])
				n := f.b.RxBurst(rx[:])
				for _, p := range rx[:n] {
					p.Release()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*32), "ns/frame")
		})
	}
}
