package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shardnet/shardnet/buf"
	"github.com/shardnet/shardnet/nic"
)

// File format constants (libpcap's savefile format, written little-endian).
const (
	MagicNanoseconds = 0xa1b23c4d
	VersionMajor     = 2
	VersionMinor     = 4
	LinkTypeEthernet = 1
	FileHeaderLen    = 24
	RecordHeaderLen  = 16

	// DefaultSnaplen captures whole frames of any MTU a NIC here carries.
	DefaultSnaplen = 65535
	// MaxSnaplen is the largest snaplen libpcap readers accept.
	MaxSnaplen = 262144
	// bufSize is the minimum write buffer; it grows to hold two records
	// of MaxSnaplen if the snaplen asks for it.
	bufSize = 256 << 10
	// txChunk bounds the frames whose records TxBurst can take back.
	txChunk = 64
)

// Config sets up a capture. Zero values take the defaults.
type Config struct {
	// Snaplen is the most bytes of a frame recorded (default 65535, at
	// most 262144). Longer frames are truncated; the record keeps their
	// original length.
	Snaplen int
	// Clock reads the wall-clock time in nanoseconds since the Unix epoch
	// (default: time.Now().UnixNano()).
	Clock func() int64
	// CloseWriter: Close also closes the writer, if it is an io.Closer.
	CloseWriter bool
}

// ErrBadConfig reports an impossible Config.
var ErrBadConfig = errors.New("pcap: bad configuration")

// CaptureStats count the records of a capture.
type CaptureStats struct {
	Records uint64 // records handed to the writer
	Bytes   uint64 // frame bytes in those records (after the snaplen)
	Lost    uint64 // frames not recorded because of a write error
}

// Queue records what passes through a nic.Queue. It implements nic.Queue.
type Queue struct {
	inner   nic.Queue
	w       io.Writer
	snaplen int
	clock   func() int64
	closeW  bool

	buf     []byte // records not yet written; cap fixed by Wrap
	pending uint64 // records in buf
	pendB   uint64 // frame bytes in buf
	err     error  // sticky write error
	stats   CaptureStats
	offs    [txChunk + 1]int // record offsets in buf for one TX chunk
	closed  bool
}

var _ nic.Queue = (*Queue)(nil)

func wallNanos() int64 { return time.Now().UnixNano() }

// Wrap starts a capture of q to w: it writes the file header at once (and
// returns the writer's error, if any), then records each frame that passes.
func Wrap(q nic.Queue, w io.Writer, cfg Config) (*Queue, error) {
	if cfg.Snaplen == 0 {
		cfg.Snaplen = DefaultSnaplen
	}
	if cfg.Snaplen < 0 || cfg.Snaplen > MaxSnaplen {
		return nil, fmt.Errorf("%w: snaplen %d (want 1..%d)", ErrBadConfig, cfg.Snaplen, MaxSnaplen)
	}
	if cfg.Clock == nil {
		cfg.Clock = wallNanos
	}
	c := &Queue{
		inner:   q,
		w:       w,
		snaplen: cfg.Snaplen,
		clock:   cfg.Clock,
		closeW:  cfg.CloseWriter,
		buf:     make([]byte, 0, max(bufSize, 2*(RecordHeaderLen+cfg.Snaplen))),
	}
	h := c.buf[:FileHeaderLen]
	binary.LittleEndian.PutUint32(h[0:], MagicNanoseconds)
	binary.LittleEndian.PutUint16(h[4:], VersionMajor)
	binary.LittleEndian.PutUint16(h[6:], VersionMinor)
	binary.LittleEndian.PutUint32(h[8:], 0)  // thiszone: timestamps are UTC
	binary.LittleEndian.PutUint32(h[12:], 0) // sigfigs
	binary.LittleEndian.PutUint32(h[16:], uint32(cfg.Snaplen))
	binary.LittleEndian.PutUint32(h[20:], LinkTypeEthernet)
	c.buf = h
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("pcap: writing file header: %w", err)
	}
	return c, nil
}

// recordLen is the size of p's record.
func (c *Queue) recordLen(p *buf.Packet) int { return RecordHeaderLen + min(p.Len(), c.snaplen) }

// room makes sure n more bytes fit in the buffer, writing it out if not.
func (c *Queue) room(n int) {
	if len(c.buf)+n > cap(c.buf) {
		c.flush()
	}
}

// add appends p's record; the caller has made room.
func (c *Queue) add(p *buf.Packet, ts int64) {
	d := p.Data()
	incl := min(len(d), c.snaplen)
	off := len(c.buf)
	r := c.buf[off : off+RecordHeaderLen+incl]
	if ts < 0 {
		ts = 0
	}
	binary.LittleEndian.PutUint32(r[0:], uint32(ts/1e9))
	binary.LittleEndian.PutUint32(r[4:], uint32(ts%1e9))
	binary.LittleEndian.PutUint32(r[8:], uint32(incl))
	binary.LittleEndian.PutUint32(r[12:], uint32(len(d)))
	copy(r[RecordHeaderLen:], d[:incl])
	c.buf = c.buf[:off+len(r)]
	c.pending++
	c.pendB += uint64(incl)
}

// flush writes the buffer out. After a write error it discards instead.
func (c *Queue) flush() {
	if len(c.buf) > 0 && c.err == nil {
		n, err := c.w.Write(c.buf)
		if err == nil && n < len(c.buf) {
			err = io.ErrShortWrite
		}
		if err != nil {
			c.err = err
		}
	}
	if c.err != nil {
		c.stats.Lost += c.pending
	} else {
		c.stats.Records += c.pending
		c.stats.Bytes += c.pendB
	}
	c.buf = c.buf[:0]
	c.pending, c.pendB = 0, 0
}

// RxBurst receives from the inner queue and records what it returns.
func (c *Queue) RxBurst(pkts []*buf.Packet) int {
	if c.closed {
		return 0
	}
	n := c.inner.RxBurst(pkts)
	if n == 0 {
		return 0
	}
	if c.err != nil {
		c.stats.Lost += uint64(n)
		return n
	}
	ts := c.clock()
	for _, p := range pkts[:n] {
		c.room(c.recordLen(p))
		if c.err != nil {
			c.stats.Lost++
			continue
		}
		c.add(p, ts)
	}
	return n
}

// TxBurst records pkts and hands them to the inner queue; the records of
// frames it refuses are taken back.
func (c *Queue) TxBurst(pkts []*buf.Packet) int {
	if c.closed {
		return 0
	}
	if c.err != nil || len(pkts) == 0 {
		n := c.inner.TxBurst(pkts)
		if c.err != nil {
			c.stats.Lost += uint64(n)
		}
		return n
	}
	ts := c.clock()
	done := 0
	for done < len(pkts) {
		// Record a chunk that fits the buffer without a write in the
		// middle, so that its tail can be taken back.
		c.room(c.recordLen(pkts[done]))
		if c.err != nil {
			n := c.inner.TxBurst(pkts[done:])
			c.stats.Lost += uint64(n)
			return done + n
		}
		j := done
		for j < len(pkts) && j-done < txChunk {
			rl := c.recordLen(pkts[j])
			if len(c.buf)+rl > cap(c.buf) {
				break
			}
			c.offs[j-done] = len(c.buf)
			c.add(pkts[j], ts)
			j++
		}
		c.offs[j-done] = len(c.buf)
		m := c.inner.TxBurst(pkts[done:j])
		if m < j-done {
			// Take back the records of the refused frames.
			c.pendB -= uint64(c.offs[j-done] - c.offs[m] - (j-done-m)*RecordHeaderLen)
			c.pending -= uint64(j - done - m)
			c.buf = c.buf[:c.offs[m]]
			return done + m
		}
		done = j
	}
	return done
}

// Kick kicks the inner queue. It does not write the capture out (that
// would cost a system call per loop iteration): see Flush.
func (c *Queue) Kick() error {
	if c.closed {
		return nic.ErrClosed
	}
	return c.inner.Kick()
}

// Flush writes out the records buffered so far and returns the capture's
// write error, if there has been one.
func (c *Queue) Flush() error {
	c.flush()
	return c.err
}

// CaptureStats returns a copy of the capture counters. Records still in
// the buffer are counted once they are written.
func (c *Queue) CaptureStats() CaptureStats { return c.stats }

// Fd is the inner queue's.
func (c *Queue) Fd() int { return c.inner.Fd() }

// Caps are the inner queue's.
func (c *Queue) Caps() nic.Caps { return c.inner.Caps() }

// Stats are the inner queue's.
func (c *Queue) Stats() nic.Stats { return c.inner.Stats() }

// Close flushes the capture, closes the inner queue, and closes the writer
// if Config.CloseWriter asked for it. It returns every error it met.
func (c *Queue) Close() error {
	if c.closed {
		return nic.ErrClosed
	}
	c.closed = true
	werr := c.Flush()
	if werr != nil {
		werr = fmt.Errorf("pcap: writing capture: %w", werr)
	}
	errs := []error{werr, c.inner.Close()}
	if cl, ok := c.w.(io.Closer); ok && c.closeW {
		errs = append(errs, cl.Close())
	}
	return errors.Join(errs...)
}
