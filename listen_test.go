package shardnet

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// net/http.Serve on Stack.Listen over TAP: keep-alive requests and a
// 1 MiB body from a kernel client, then a graceful Shutdown of the
// net/http server lets Stop drain without resetting anything.
func TestListenServesNetHTTP(t *testing.T) {
	st, ns, base := tapStack(t)
	ln, err := st.Listen(8081)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Listen(8081); err == nil {
		t.Fatal("a second Listen on the same port succeeded")
	}
	big := []byte(strings.Repeat("0123456789abcdef", 1<<16)) // 1 MiB
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/hello", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("n"))
	})
	mux.HandleFunc("/big", func(w nethttp.ResponseWriter, r *nethttp.Request) { w.Write(big) })
	srv := &nethttp.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	c := nsClient(ns)
	url := base + ":8081"
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				want := fmt.Sprintf("hello %d-%d", g, i)
				resp, err := c.Get(fmt.Sprintf("%s/hello?n=%d-%d", url, g, i))
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != want {
					errs <- fmt.Errorf("got %q, %v; want %q", b, err, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	resp, err := c.Get(url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || sha256.Sum256(b) != sha256.Sum256(big) {
		t.Fatalf("big body: %d bytes, %v", len(b), err)
	}
	c.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("net/http Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, nethttp.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if err := st.Stop(ctx); err != nil {
		t.Fatalf("Stop after the net/http server shut down: %v", err)
	}
	if s := ln.Stats(); s.Accepted == 0 {
		t.Fatalf("listener stats %+v: nothing accepted", s)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Shutdown: %v, want net.ErrClosed", err)
	}
}
