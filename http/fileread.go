package http

import (
	"errors"
	"os"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/shard"
	"github.com/shardnet/shardnet/stream"
)

// Poster runs funcs on a shard's thread: shard.Inbox implements it. Post
// must not block; it returns shard.ErrInboxFull when full (the caller
// retries) and any other error once the shard has stopped.
type Poster interface {
	Post(fn func()) error
}

// File bodies off the shard. With Config.FileInbox set, a SetBodyFile
// range is not read on the shard's thread: a connection that has send
// space takes a chunk buffer (fileChunk) from its Server's fixed set,
// fills in the range to read and hands it to the reader goroutine over a
// channel; the reader preads it and posts the chunk's done func back
// through the inbox; there, on the shard, the connection writes it (more
// as send space opens) and returns the buffer. So a read that goes to the
// device stalls only the connections waiting for that file, never the
// shard. A connection reads one chunk at a time, of at most its send space
// (so a client that stops reading holds no buffer); with every buffer taken,
// a connection queues and is handed the next buffer freed (its read
// starts then). Memory: fileChunks × fileChunkSize per Server, allocated
// on first use; nothing is allocated per request.
//
// The reader goroutine runs only while reads are queued (pending counts
// them; the 0 → 1 step starts it, the 1 → 0 step ends it), so an idle or
// stopped Server holds none.
const (
	fileChunkSize = 64 << 10
	fileChunks    = 16
)

// fileReader is one Server's reader state. Every field but jobs and
// pending belongs to the shard's thread.
type fileReader struct {
	inbox Poster
	host  stream.Host

	jobs    chan *fileChunk // to the reader goroutine; never full (capacity fileChunks)
	pending atomic.Int32    // reads sent and not yet taken off the channel and done
	runFn   func()          // fr.run, made once: "go fr.run()" would allocate a closure each time

	made       int        // chunks allocated so far (≤ fileChunks)
	free       *fileChunk // free list, through next
	wait, last *conn      // connections waiting for a chunk, through fwNext
	stats      *Stats
}

// fileChunk is one read: the shard fills f, off, n and cn/gen before
// sending it; the reader fills got; the shard owns it again once done
// runs (the channel send and the inbox post order the hand-overs).
type fileChunk struct {
	fr   *fileReader
	next *fileChunk
	buf  []byte
	done func() // fc.complete, made once: posting it allocates nothing

	cn       *conn // nil once the connection is gone
	gen      uint32
	f        *os.File
	off      int64
	n        int
	got      int // bytes read (reader's)
	sent     int // bytes of buf[:n] written (shard's)
	inFlight bool
}

func newFileReader(inbox Poster, host stream.Host, st *Stats) *fileReader {
	if inbox == nil {
		return nil
	}
	fr := &fileReader{inbox: inbox, host: host, jobs: make(chan *fileChunk, fileChunks), stats: st}
	fr.runFn = fr.run
	return fr
}

// get returns a free chunk, or nil with cn queued for the next one.
func (fr *fileReader) get(cn *conn) *fileChunk {
	if fc := fr.free; fc != nil {
		fr.free, fc.next = fc.next, nil
		return fc
	}
	if fr.made < fileChunks {
		fr.made++
		fc := &fileChunk{fr: fr, buf: make([]byte, fileChunkSize)}
		fc.done = fc.complete
		return fc
	}
	if !cn.fwaiting {
		cn.fwaiting = true
		if fr.last == nil {
			fr.wait = cn
		} else {
			fr.last.fwNext = cn
		}
		fr.last = cn
		fr.stats.FileReadWaits++
	}
	return nil
}

// start sends fc to be read for cn's next chunk of file body: no more
// than the send space (space), so that the chunk is written whole when it
// arrives and goes back at once — a client that stops reading holds no
// chunk, only its send buffer.
func (fr *fileReader) start(fc *fileChunk, cn *conn, space int) {
	fc.cn, fc.gen, fc.f, fc.off = cn, cn.gen, cn.sf, cn.sfOff
	fc.n = int(min(int64(fileChunkSize), int64(max(space, 1)), cn.sfN))
	fc.got, fc.sent, fc.inFlight = 0, 0, true
	cn.fc = fc
	fr.stats.FileReads++
	fr.jobs <- fc // never blocks: at most fileChunks exist
	if fr.pending.Add(1) == 1 {
		go fr.runFn()
	}
}

// release returns fc, or hands it straight to the first waiting
// connection (its read starts; it hears back when the read is done).
func (fr *fileReader) release(fc *fileChunk) {
	fc.cn, fc.f = nil, nil
	if cn := fr.wait; cn != nil {
		fr.unwait(cn)
		fr.start(fc, cn, cn.c.WriteSpace())
		return
	}
	fc.next = fr.free
	fr.free = fc
}

// unwait takes cn off the waiting list.
func (fr *fileReader) unwait(cn *conn) {
	var prev *conn
	for w := fr.wait; w != nil; prev, w = w, w.fwNext {
		if w != cn {
			continue
		}
		if prev == nil {
			fr.wait = w.fwNext
		} else {
			prev.fwNext = w.fwNext
		}
		if fr.last == w {
			fr.last = prev
		}
		break
	}
	cn.fwNext, cn.fwaiting = nil, false
}

// drop forgets cn's read when its state is released: a chunk in flight
// is returned when its read completes, one holding data now.
func (fr *fileReader) drop(cn *conn) {
	if cn.fwaiting {
		fr.unwait(cn)
	}
	if fc := cn.fc; fc != nil {
		cn.fc = nil
		if fc.inFlight {
			fc.cn = nil
		} else {
			fr.release(fc)
		}
	}
}

// run is the reader goroutine: it reads chunks until none is pending.
func (fr *fileReader) run() {
	for {
		fc := <-fr.jobs
		m, _ := fc.f.ReadAt(fc.buf[:fc.n], fc.off)
		fc.got = m
		for {
			err := fr.inbox.Post(fc.done)
			if !errors.Is(err, shard.ErrInboxFull) {
				break // posted, or the shard has stopped (the chunk goes with the Server)
			}
			time.Sleep(50 * time.Microsecond)
		}
		if fr.pending.Add(-1) == 0 {
			return
		}
	}
}

// complete runs on the shard when fc's read is done: the connection, if
// it is still there, writes it.
func (fc *fileChunk) complete() {
	fc.inFlight = false
	cn := fc.cn
	if cn == nil || cn.gen != fc.gen || cn.fc != fc {
		fc.fr.release(fc)
		return
	}
	cn.onWritable(fc.fr.host.Now())
}

// flushFileAsync is flush's file step with a reader: it writes what the
// connection's chunk holds and starts the next read.
func (cn *conn) flushFileAsync(fr *fileReader, now int64) flushResult {
	for cn.sfN > 0 {
		fc := cn.fc
		if fc == nil {
			space := cn.c.WriteSpace()
			if space <= 0 {
				// With no space, a one-byte Write comes up short, and
				// that is what asks for OnWritable.
				cn.c.Write(oneByte[:], now)
				return flushPending
			}
			if fc = fr.get(cn); fc != nil {
				fr.start(fc, cn, space)
			}
			return flushPending
		}
		if fc.inFlight {
			return flushPending
		}
		if fc.got < fc.n {
			cn.srv.stats.FileErrors++
			cn.c.Abort(now) // OnClose releases the chunk
			return flushAborted
		}
		w := cn.c.Write(fc.buf[fc.sent:fc.n], now)
		if w > 0 {
			cn.lastWrite = now
		}
		fc.sent += w
		cn.sfOff += int64(w)
		cn.sfN -= int64(w)
		if fc.sent < fc.n {
			return flushPending
		}
		cn.fc = nil
		fr.release(fc)
	}
	cn.sf = nil
	return flushDone
}

var oneByte [1]byte
