package kstack

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/internal/xfer"
	"github.com/shardnet/shardnet/reactor/timer"
	"github.com/shardnet/shardnet/stream"
)

// These tests drive a Host by hand (RunOnce on the test goroutine, manual
// clock) against kernel clients on loopback.

// TestUnconsumedKeptAndResumed: bytes OnData does not consume stay with
// the connection and come first, contiguous with new bytes, at the next
// OnData and on Resume.
func TestUnconsumedKeptAndResumed(t *testing.T) {
	var conn stream.Conn
	var offers []string
	consume := false
	h := &funcs{
		open: func(c stream.Conn, now int64) { conn = c },
		data: func(c stream.Conn, b []byte, now int64) int {
			offers = append(offers, string(b))
			if consume {
				return len(b)
			}
			return 0
		},
	}
	th := newTestHost(t, Config{}, h)
	c := dial(t, th.addr())
	send := func(s string) {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send("abc")
	th.runUntil("first OnData", func() bool { return len(offers) == 1 })
	send("def")
	th.runUntil("second OnData", func() bool { return len(offers) == 2 })
	if offers[0] != "abc" || offers[1] != "abcdef" || conn.Unread() != 6 {
		t.Fatalf("offers %q, unread %d; want [abc abcdef], 6", offers, conn.Unread())
	}
	for range 10 { // nothing new: no offer
		th.RunOnce(th.now)
	}
	if len(offers) != 2 {
		t.Fatalf("offered again without new bytes or Resume: %q", offers)
	}
	conn.Resume(th.now)
	if len(offers) != 3 || offers[2] != "abcdef" || conn.Unread() != 6 {
		t.Fatalf("after Resume: offers %q, unread %d", offers, conn.Unread())
	}
	consume = true
	conn.Resume(th.now)
	if len(offers) != 4 || offers[3] != "abcdef" || conn.Unread() != 0 {
		t.Fatalf("after consuming Resume: offers %q, unread %d", offers, conn.Unread())
	}
	send("ghi")
	th.runUntil("third OnData", func() bool { return len(offers) == 5 })
	if offers[4] != "ghi" {
		t.Errorf("offer %q, want ghi", offers[4])
	}
}

// TestReadFlowControl: while the receive buffer is full the connection is
// not read, so the kernel's window closes and the client's write blocks;
// consuming (Resume) lets everything through intact.
func TestReadFlowControl(t *testing.T) {
	const recvBuf = 4096
	const total = 32 << 20
	const seed = 7
	var conn stream.Conn
	consume := false
	v := xfer.NewVerifier(seed, total)
	peerClosed := false
	h := &funcs{
		open: func(c stream.Conn, now int64) { conn = c },
		data: func(c stream.Conn, b []byte, now int64) int {
			if len(b) > recvBuf {
				t.Errorf("offered %d bytes with RecvBuf %d", len(b), recvBuf)
			}
			if !consume {
				return 0
			}
			v.Write(b)
			return len(b)
		},
		peer: func(c stream.Conn, now int64) { peerClosed = true },
	}
	th := newTestHost(t, Config{RecvBuf: recvBuf}, h)
	c := dial(t, th.addr())
	sent := make(chan error, 1)
	go func() {
		err := xfer.Send(c, seed, total)
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	th.runUntil("a full receive buffer", func() bool { return conn != nil && conn.Unread() == recvBuf })
	reads := th.Stats().Reads
	for range 200 {
		th.RunOnce(th.now)
	}
	if got := th.Stats().Reads; got != reads {
		t.Errorf("%d reads with the receive buffer full", got-reads)
	}
	if conn.Unread() != recvBuf {
		t.Errorf("unread %d, want %d", conn.Unread(), recvBuf)
	}
	select {
	case err := <-sent:
		t.Fatalf("the client sent all %d bytes to a connection that was not read (%v)", total, err)
	default:
	}
	consume = true
	conn.Resume(th.now)
	th.runUntil("the whole upload", func() bool { return peerClosed })
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := v.Err(); err != nil {
		t.Error(err)
	}
	if in := th.Stats().BytesIn; in != total {
		t.Errorf("BytesIn %d, want %d", in, total)
	}
}

// TestTimerClosesConn: a handler arms a timer on the host's wheel; it
// fires when the (manual) clock reaches it, not before, and its callback
// writes and closes.
func TestTimerClosesConn(t *testing.T) {
	const delay = 50 * int64(time.Millisecond)
	type state struct{ tm timer.Timer }
	var host *Host
	fired := false
	var reason stream.CloseReason = 255
	h := &funcs{
		open: func(c stream.Conn, now int64) {
			st := &state{}
			st.tm.Init(func(now int64) {
				fired = true
				c.Write([]byte("bye"), now)
				c.Close(now)
			})
			c.SetContext(st)
			host.Wheel().Schedule(&st.tm, now+delay)
		},
		close: func(c stream.Conn, r stream.CloseReason, now int64) { reason = r },
	}
	th := newTestHost(t, Config{}, h)
	host = th.Host
	th.now = 1_000_000
	c := dial(t, th.addr())
	th.runUntil("accept", func() bool { return th.Stats().Accepted == 1 })
	for _, now := range []int64{th.now + delay/2, th.now + delay - 1} {
		th.RunOnce(now)
		if fired {
			t.Fatalf("timer fired at %d, due at %d", now, th.now+delay)
		}
	}
	th.now += delay
	th.RunOnce(th.now)
	if !fired {
		t.Fatal("timer did not fire when due")
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c) // the FIN left with "bye" in that iteration
	if err != nil || string(b) != "bye" {
		t.Fatalf("read %q, %v", b, err)
	}
	c.CloseWrite()
	th.runUntil("OnClose", func() bool { return reason != 255 })
	if reason != stream.CloseNormal {
		t.Errorf("reason %v, want normal", reason)
	}
}

// TestPipelinedOneWrite: responses written in one iteration leave in one
// write(2).
func TestPipelinedOneWrite(t *testing.T) {
	served := 0
	h := &funcs{data: func(c stream.Conn, b []byte, now int64) int {
		n := 0
		for len(b)-n >= 4 {
			c.Write([]byte("pong"), now)
			n += 4
			served++
		}
		return n
	}}
	th := newTestHost(t, Config{}, h)
	c := dial(t, th.addr())
	th.runUntil("accept", func() bool { return th.Stats().Accepted == 1 })
	th.RunOnce(th.now)
	w0 := th.Stats().Writes
	if _, err := c.Write([]byte("pingpingpingpi")); err != nil {
		t.Fatal(err)
	}
	th.runUntil("three requests", func() bool { return served == 3 })
	if w := th.Stats().Writes - w0; w != 1 {
		t.Errorf("%d writes for 3 pipelined responses, want 1", w)
	}
	var b [12]byte
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, b[:]); err != nil || string(b[:]) != "pongpongpong" {
		t.Errorf("read %q, %v", b, err)
	}
}

// TestMaxConns: a connection over the cap is accepted, closed at once and
// counted; the others are served.
func TestMaxConns(t *testing.T) {
	th := newTestHost(t, Config{MaxConns: 2}, &echo{})
	var cs []*net.TCPConn
	for range 3 {
		cs = append(cs, dial(t, th.addr()))
	}
	th.runUntil("three accepts", func() bool { s := th.Stats(); return s.Accepted+s.Refused == 3 })
	if s := th.Stats(); s.Accepted != 2 || s.Refused != 1 || s.Open != 2 {
		t.Fatalf("stats %+v: want 2 accepted, 1 refused", s)
	}
	var b [1]byte
	cs[2].SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := cs[2].Read(b[:]); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("refused client read %d, %v; want EOF or reset", n, err)
	}
	// A freed slot is reused.
	cs[0].Close()
	th.runUntil("a close", func() bool { return th.Stats().Closed == 1 })
	c := dial(t, th.addr())
	th.runUntil("a fourth accept", func() bool { return th.Stats().Accepted == 3 })
	if _, err := c.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	th.runUntil("the echo", func() bool { return th.Stats().BytesOut == 2 })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var two [2]byte
	if _, err := io.ReadFull(c, two[:]); err != nil || string(two[:]) != "ok" {
		t.Errorf("echo %q, %v", two, err)
	}
	if s := th.Stats(); len(th.all) != 2 || s.Refused != 1 {
		t.Errorf("%d connection objects, stats %+v", len(th.all), s)
	}
}

// TestConnAccessors covers RemoteAddr, Context, WriteSpace, Buffered and
// SetNoDelay.
func TestConnAccessors(t *testing.T) {
	var conn stream.Conn
	h := &funcs{open: func(c stream.Conn, now int64) { conn = c }}
	th := newTestHost(t, Config{SendBuf: 1000, NoDelay: true}, h)
	c := dial(t, th.addr())
	th.runUntil("accept", func() bool { return conn != nil })
	addr, port := conn.RemoteAddr()
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	if addr != local.Addr().As4() || port != local.Port() {
		t.Errorf("RemoteAddr %v:%d, client is %v", addr, port, local)
	}
	conn.SetContext(42)
	if conn.Context() != 42 {
		t.Errorf("Context %v", conn.Context())
	}
	if conn.WriteSpace() != 1000 {
		t.Errorf("WriteSpace %d, want 1000", conn.WriteSpace())
	}
	if n := conn.Write(bytes.Repeat([]byte("x"), 1500), th.now); n != 1000 || conn.Buffered() != 1000 || conn.WriteSpace() != 0 {
		t.Errorf("Write took %d; Buffered %d, WriteSpace %d", n, conn.Buffered(), conn.WriteSpace())
	}
	fd := conn.(*Conn).fd
	if v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); v == 0 {
		t.Error("Config.NoDelay did not set TCP_NODELAY")
	}
	conn.SetNoDelay(false)
	if v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); v != 0 {
		t.Error("SetNoDelay(false) left TCP_NODELAY set")
	}
	th.RunOnce(th.now)
	if conn.Buffered() != 0 {
		t.Errorf("Buffered %d after a flush", conn.Buffered())
	}
}

// TestListenErrors: a port twice, a nil handler, a closed host.
func TestListenErrors(t *testing.T) {
	th := newTestHost(t, Config{}, &echo{})
	p := th.addr().Port()
	if err := th.Listen(p, &echo{}); err == nil {
		t.Error("second Listen on the same port succeeded")
	}
	if err := th.Listen(0, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("nil handler: %v", err)
	}
	if err := th.Run(); !errors.Is(err, ErrConfig) {
		t.Errorf("Run without a shard: %v", err)
	}
	th.Close(th.now)
	if err := th.Listen(0, &echo{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Listen after Close: %v", err)
	}
	if th.RunOnce(th.now) {
		t.Error("RunOnce after Close found work")
	}
}

// TestResumeReadsAgain: a connection not read because its receive buffer
// was full is read again after Resume makes room, with no new event from
// the kernel (all the bytes had arrived before).
func TestResumeReadsAgain(t *testing.T) {
	const recvBuf = 1000
	var conn stream.Conn
	consume := 0 // bytes OnData may consume per call
	var got []byte
	h := &funcs{
		open: func(c stream.Conn, now int64) { conn = c },
		data: func(c stream.Conn, b []byte, now int64) int {
			n := min(consume, len(b))
			if consume > 0 {
				consume = 1 << 30 // only the Resume's offer is limited
			}
			got = append(got, b[:n]...)
			return n
		},
	}
	th := newTestHost(t, Config{RecvBuf: recvBuf}, h)
	c := dial(t, th.addr())
	msg := make([]byte, 5000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	if _, err := c.Write(msg); err != nil { // fits in the kernel's buffers
		t.Fatal(err)
	}
	th.runUntil("a full receive buffer", func() bool { return conn != nil && conn.Unread() == recvBuf })
	reads := th.Stats().Reads
	for range 100 {
		th.RunOnce(th.now)
	}
	if th.Stats().Reads != reads || conn.Unread() != recvBuf {
		t.Fatalf("read %d more times with a full buffer; unread %d", th.Stats().Reads-reads, conn.Unread())
	}
	consume = 300
	conn.Resume(th.now) // consumes 300: room for 300 more
	th.runUntil("the rest", func() bool { return len(got) == len(msg) })
	if !bytes.Equal(got, msg) {
		t.Error("bytes differ")
	}
}
