package static

import (
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// siteTree builds the tree most tests use and returns its root and a
// directory outside it.
func siteTree(t *testing.T) (root, outside string) {
	root, outside = t.TempDir(), t.TempDir()
	writeFile(t, root, "index.html", "<h1>home</h1>")
	writeFile(t, root, "css/site.css", "body{}")
	writeFile(t, root, "docs/index.html", "<h1>docs</h1>")
	writeFile(t, root, "docs/a.txt", "hello, world\n")
	writeFile(t, root, "noindex/a.txt", "x")
	writeFile(t, root, "empty.txt", "")
	writeFile(t, root, "big.bin", bigBody(3000))
	writeFile(t, root, ".env", "SECRET=1")
	writeFile(t, root, ".git/config", "[core]")
	writeFile(t, root, "docs/.hidden/x.txt", "x")
	writeFile(t, outside, "passwd", "root:x:0:0")
	symlink(t, "css/site.css", root, "alias.css")                               // inside: served
	symlink(t, filepath.Join(outside, "passwd"), root, "passwd")                // absolute, outside
	symlink(t, "../../"+filepath.Base(outside)+"/passwd", root, "docs/rel-out") // relative, outside
	symlink(t, "docs", root, "docslink")                                        // directory: not followed
	symlink(t, "nowhere", root, "broken")                                       // broken
	symlink(t, root, root, "docs/loop")                                         // the root itself: a directory
	symlink(t, ".git/config", root, "config.txt")                               // inside, but hidden
	return root, outside
}

func TestScanTree(t *testing.T) {
	root, _ := siteTree(t)
	h := newTestHandler(t, Config{Root: root, MaxCachedFile: 1000})
	s := h.snap.Load()

	wantPaths := []string{
		"/", "/index.html",
		"/alias.css", "/css/site.css",
		"/big.bin", "/empty.txt",
		"/docs", "/docs/", "/docs/index.html", "/docs/a.txt",
		"/noindex/a.txt",
	}
	slices.Sort(wantPaths)
	if got := slices.Sorted(maps.Keys(s.paths)); !slices.Equal(got, wantPaths) {
		t.Errorf("paths:\n got %q\nwant %q", got, wantPaths)
	}
	st := h.Stats()
	want := ScanStats{Files: 8, CachedFiles: 7, CachedBytes: 13 + 6 + 13 + 13 + 1 + 6, DiskFiles: 1, SymlinksOutside: 2, Hidden: 4, Skipped: 3}
	if st.ScanStats != want {
		t.Errorf("stats:\n got %+v\nwant %+v", st.ScanStats, want)
	}

	if s.paths["/"] != s.paths["/index.html"] || s.paths["/docs/"] != s.paths["/docs/index.html"] {
		t.Error("directory URLs must share their index entry")
	}
	if r := s.paths["/docs"]; r == nil || string(r.location) != "/docs/" {
		t.Errorf("/docs redirect = %+v", r)
	}

	e := s.paths["/docs/a.txt"]
	if string(e.data) != "hello, world\n" || !e.cached || e.file != nil {
		t.Errorf("a.txt: data %q cached %v file %v", e.data, e.cached, e.file)
	}
	if e.contentType != "text/plain; charset=utf-8" {
		t.Errorf("a.txt content type %q", e.contentType)
	}
	if string(e.lastModified) != lmText || e.lastMod != lm {
		t.Errorf("a.txt Last-Modified %q (%d)", e.lastModified, e.lastMod)
	}
	// "size-mtime-first 8 bytes of sha256", hex: sha256("hello, world\n") starts 853ff93762a06ddb.
	if want := `"d-` + strconv.FormatInt(lm*1e9, 16) + `-853ff93762a06ddb"`; string(e.etag) != want {
		t.Errorf("a.txt ETag %s, want %s", e.etag, want)
	}
	if string(e.unsatisfiable) != "bytes */13" {
		t.Errorf("a.txt 416 Content-Range %q", e.unsatisfiable)
	}

	big := s.paths["/big.bin"]
	if big.cached || big.data != nil || big.file == nil {
		t.Fatalf("big.bin must be streamed: cached %v file %v", big.cached, big.file)
	}
	got, err := io.ReadAll(io.NewSectionReader(big.file, 0, big.size))
	if err != nil || string(got) != bigBody(3000) {
		t.Errorf("big.bin open file reads %d bytes, %v", len(got), err)
	}
	if s.paths["/alias.css"].contentType != "text/css; charset=utf-8" || string(s.paths["/alias.css"].data) != "body{}" {
		t.Error("in-root symlink must serve its target")
	}
	if e := s.paths["/empty.txt"]; !e.cached || e.size != 0 || e.data == nil {
		t.Errorf("empty.txt: %+v", e)
	}
}

func TestETagDiffersWithContent(t *testing.T) {
	// Same size, same mtime, different bytes: the hash tells them apart.
	r1, r2 := t.TempDir(), t.TempDir()
	writeFile(t, r1, "f.txt", "aaaa")
	writeFile(t, r2, "f.txt", "bbbb")
	e1 := newTestHandler(t, Config{Root: r1}).snap.Load().paths["/f.txt"]
	e2 := newTestHandler(t, Config{Root: r2}).snap.Load().paths["/f.txt"]
	if string(e1.etag) == string(e2.etag) {
		t.Errorf("same ETag %s for different content", e1.etag)
	}
	if !regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]{16}"$`).Match(e1.etag) {
		t.Errorf("ETag %s: not a strong size-mtime-hash tag", e1.etag)
	}
}

func TestLastModifiedNotInFuture(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "f.txt", "x")
	future := time.Now().Add(48 * time.Hour)
	if err := os.Chtimes(filepath.Join(root, "f.txt"), future, future); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	e := newTestHandler(t, Config{Root: root}).snap.Load().paths["/f.txt"]
	if e.lastMod < before || e.lastMod > time.Now().Unix() {
		t.Errorf("Last-Modified %d: want the scan time, not %d", e.lastMod, future.Unix())
	}
}

func TestCacheBudget(t *testing.T) {
	root := t.TempDir()
	// Walk order is lexical: a, b, c, d, e.
	writeFile(t, root, "a.txt", strings.Repeat("a", 400))
	writeFile(t, root, "b.txt", strings.Repeat("b", 400))
	writeFile(t, root, "c.txt", strings.Repeat("c", 400)) // past the 1000-byte budget
	writeFile(t, root, "d.txt", strings.Repeat("d", 200)) // still fits
	writeFile(t, root, "e.txt", strings.Repeat("e", 600)) // over MaxCachedFile
	h := newTestHandler(t, Config{Root: root, MaxCacheBytes: 1000, MaxCachedFile: 500})
	s := h.snap.Load()
	for name, cached := range map[string]bool{"a": true, "b": true, "c": false, "d": true, "e": false} {
		e := s.paths["/"+name+".txt"]
		if e.cached != cached || (e.file != nil) == cached {
			t.Errorf("%s.txt: cached %v, file %v; want cached %v", name, e.cached, e.file != nil, cached)
		}
	}
	if st := h.Stats(); st.CachedBytes != 1000 || st.CachedFiles != 3 || st.DiskFiles != 2 {
		t.Errorf("stats %+v", st.ScanStats)
	}

	// Removing a frees budget: c is cached on the rescan.
	os.Remove(filepath.Join(root, "a.txt"))
	if changed, err := h.Rescan(); !changed || err != nil {
		t.Fatalf("Rescan = %v, %v", changed, err)
	}
	if e := h.snap.Load().paths["/c.txt"]; !e.cached || string(e.data) != strings.Repeat("c", 400) {
		t.Errorf("c.txt after a.txt went: cached %v", e.cached)
	}

	// Caching disabled.
	h2 := newTestHandler(t, Config{Root: root, MaxCacheBytes: -1})
	if st := h2.Stats(); st.CachedFiles != 0 || st.DiskFiles != 4 {
		t.Errorf("MaxCacheBytes -1: %+v", st.ScanStats)
	}
}

func TestRescanDetectsChanges(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "index.html", "v1")
	writeFile(t, root, "keep.txt", "same")
	writeFile(t, root, "big.bin", bigBody(2000))
	h := newTestHandler(t, Config{Root: root, MaxCachedFile: 1000, RetireAfter: time.Nanosecond})
	s0 := h.snap.Load()

	rescan := func(want bool) *snapshot {
		t.Helper()
		changed, err := h.Rescan()
		if err != nil || changed != want {
			t.Fatalf("Rescan = %v, %v; want %v", changed, err, want)
		}
		return h.snap.Load()
	}

	// Nothing changed: the same snapshot stays.
	if s := rescan(false); s != s0 {
		t.Fatal("unchanged tree must keep the snapshot")
	}

	// Content and size change.
	writeFile(t, root, "index.html", "version 2")
	s1 := rescan(true)
	if e := s1.paths["/"]; string(e.data) != "version 2" || string(e.etag) == string(s0.paths["/"].etag) {
		t.Errorf("new index: %q %s", e.data, e.etag)
	}
	if s1.paths["/keep.txt"] != s0.paths["/keep.txt"] {
		t.Error("unchanged entries must be reused")
	}
	if string(s0.paths["/"].data) != "v1" {
		t.Error("a published entry was modified")
	}

	// Same size, new mtime only.
	p := filepath.Join(root, "keep.txt")
	later := testMtime.Add(time.Hour)
	os.Chtimes(p, later, later)
	s2 := rescan(true)
	if e := s2.paths["/keep.txt"]; e.lastMod != lm+3600 {
		t.Errorf("mtime change: Last-Modified %d", e.lastMod)
	}

	// Added and removed.
	writeFile(t, root, "new.txt", "new")
	os.Remove(p)
	s3 := rescan(true)
	if s3.paths["/new.txt"] == nil || s3.paths["/keep.txt"] != nil {
		t.Error("add/remove not seen")
	}

	// A streamed file replaced: the old one stays open (retired) for
	// in-flight responses, and is closed by a later scan.
	oldBig := s3.paths["/big.bin"].file
	tmp := filepath.Join(root, "big.tmp.")
	os.WriteFile(tmp, []byte(bigBody(2500)), 0o644)
	os.Rename(tmp, filepath.Join(root, "big.bin"))
	s4 := rescan(true)
	if s4.paths["/big.bin"].file == oldBig || s4.paths["/big.bin"].size != 2500 {
		t.Fatal("replaced big file not reopened")
	}
	if st := h.Stats(); st.Retired != 1 {
		t.Errorf("retired files %d, want 1", st.Retired)
	}
	var b [1]byte
	if _, err := oldBig.ReadAt(b[:], 0); err != nil {
		t.Errorf("retired file must stay readable until RetireAfter: %v", err)
	}
	rescan(false)
	if _, err := oldBig.ReadAt(b[:], 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("retired file after RetireAfter: %v, want closed", err)
	}
	if st := h.Stats(); st.Retired != 0 || st.Swaps != 5 || st.Scans != 7 {
		t.Errorf("counters %+v", st.Counters)
	}
}

func TestRescanSymlinkRetargeted(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	writeFile(t, root, "real.txt", "inside")
	writeFile(t, outside, "secret.txt", "outside")
	symlink(t, "real.txt", root, "link.txt")
	h := newTestHandler(t, Config{Root: root})
	if e := h.snap.Load().paths["/link.txt"]; e == nil || string(e.data) != "inside" {
		t.Fatal("in-root link not served")
	}
	os.Remove(filepath.Join(root, "link.txt"))
	symlink(t, filepath.Join(outside, "secret.txt"), root, "link.txt")
	if changed, err := h.Rescan(); !changed || err != nil {
		t.Fatalf("Rescan = %v, %v", changed, err)
	}
	if h.snap.Load().paths["/link.txt"] != nil {
		t.Error("link retargeted outside the root is still served")
	}
	if st := h.Stats(); st.SymlinksOutside != 1 {
		t.Errorf("SymlinksOutside = %d", st.SymlinksOutside)
	}
}

func TestRootIsSymlink(t *testing.T) {
	real := t.TempDir()
	writeFile(t, real, "a.txt", "a")
	link := filepath.Join(t.TempDir(), "site")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(t, Config{Root: link})
	if h.snap.Load().paths["/a.txt"] == nil {
		t.Error("root given through a symlink: file not served")
	}
}

func TestNewErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	for _, root := range []string{"", filepath.Join(t.TempDir(), "missing"), f} {
		if h, err := New(Config{Root: root, Rescan: -1}); err == nil {
			h.Close()
			t.Errorf("New(%q): no error", root)
		}
	}
}

func TestRescanErrorKeepsSnapshot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "www")
	writeFile(t, root, "a.txt", "a")
	h := newTestHandler(t, Config{Root: root})
	s := h.snap.Load()
	os.Rename(root, root+".gone")
	if _, err := h.Rescan(); err == nil {
		t.Fatal("Rescan of a vanished root: no error")
	}
	if h.snap.Load() != s {
		t.Error("a failed scan replaced the snapshot")
	}
	if st := h.Stats(); st.ScanErrors != 1 || st.LastError == nil {
		t.Errorf("counters %+v", st.Counters)
	}
	os.Rename(root+".gone", root)
	if _, err := h.Rescan(); err != nil || h.Stats().LastError != nil {
		t.Errorf("Rescan after the root came back: %v", err)
	}
}

func TestCloseClosesFiles(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "big.bin", bigBody(100))
	h, err := New(Config{Root: root, MaxCachedFile: 10, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f := h.snap.Load().paths["/big.bin"].file
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := h.Rescan(); !errors.Is(err, ErrClosed) {
		t.Errorf("Rescan after Close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestBackgroundRescan: the rescanner goroutine publishes a change by
// itself. It polls Stats with a deadline (the ticker is real time).
func TestBackgroundRescan(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a.txt", "a")
	h := newTestHandler(t, Config{Root: root, Rescan: 10 * time.Millisecond})
	writeFile(t, root, "b.txt", "b")
	deadline := time.Now().Add(10 * time.Second)
	for h.snap.Load().paths["/b.txt"] == nil {
		if time.Now().After(deadline) {
			t.Fatal("background rescanner did not publish b.txt")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentReadersAndRescans runs lookups on several goroutines (as
// shards would) while snapshots are swapped: -race checks that readers
// never see a torn entry.
func TestConcurrentReadersAndRescans(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a.txt", "v0")
	h := newTestHandler(t, Config{Root: root})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := []byte("/a.txt")
			for {
				select {
				case <-stop:
					return
				default:
				}
				e, st := h.snap.Load().resolve(methodGet, p)
				if st != 0 || len(e.data) < 2 || e.data[0] != 'v' || len(e.etag) == 0 {
					t.Errorf("torn read: %d %+v", st, e)
					return
				}
			}
		}()
	}
	for i := 1; i <= 50; i++ {
		writeFile(t, root, "a.txt", "v"+strings.Repeat("x", i))
		if _, err := h.Rescan(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}
