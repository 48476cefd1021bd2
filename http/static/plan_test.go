package static

import (
	"os"
	"testing"
)

func TestResolve(t *testing.T) {
	root, _ := siteTree(t)
	h := newTestHandler(t, Config{Root: root, MaxCachedFile: 1000})
	s := h.snap.Load()
	tests := []struct {
		method, path string
		status       int    // 0: a file
		rel          string // the file's rel, or the redirect's Location
	}{
		{"GET", "/", 0, "index.html"},
		{"HEAD", "/", 0, "index.html"},
		{"GET", "/index.html", 0, "index.html"},
		{"GET", "/docs/", 0, "docs/index.html"},
		{"GET", "/docs", 301, "/docs/"},
		{"HEAD", "/docs", 301, "/docs/"},
		{"GET", "/docs/a.txt", 0, "docs/a.txt"},
		{"GET", "/alias.css", 0, "alias.css"},
		{"GET", "/noindex/", 404, ""}, // no listings
		{"GET", "/noindex", 404, ""},  // no redirect to a 404
		{"GET", "/docs/a.txt/", 404, ""},
		{"GET", "/missing", 404, ""},
		{"GET", "/DOCS/a.txt", 404, ""}, // case-sensitive
		// Traversal, as the decoded paths http hands over.
		{"GET", "/../../etc/passwd", 404, ""},
		{"GET", "/docs/../index.html", 404, ""},
		{"GET", "/docs/..", 404, ""},
		{"GET", "/./index.html", 404, ""},
		{"GET", "//index.html", 404, ""},
		{"GET", "/docs//a.txt", 404, ""},
		{"GET", "/..\\..\\etc\\passwd", 404, ""},
		{"GET", "/index.html\x00.txt", 404, ""},
		{"GET", "/%2e%2e/%2e%2e/etc/passwd", 404, ""}, // %252e%252e decoded once
		{"GET", "/..%2f..%2fetc%2fpasswd", 404, ""},
		{"GET", "index.html", 404, ""},
		{"GET", "", 404, ""},
		// Out-of-root symlinks and hidden names were never scanned.
		{"GET", "/passwd", 404, ""},
		{"GET", "/docs/rel-out", 404, ""},
		{"GET", "/docslink/a.txt", 404, ""},
		{"GET", "/docslink", 404, ""},
		{"GET", "/broken", 404, ""},
		{"GET", "/.env", 404, ""},
		{"GET", "/.git/config", 404, ""},
		{"GET", "/docs/.hidden/x.txt", 404, ""},
		{"GET", "/config.txt", 404, ""}, // a visible link to a hidden file
		// Methods: 405 before any lookup.
		{"POST", "/", 405, ""},
		{"PUT", "/index.html", 405, ""},
		{"DELETE", "/missing", 405, ""},
		{"OPTIONS", "/", 405, ""},
		{"get", "/", 405, ""},
		{"GETX", "/", 405, ""},
	}
	for _, tt := range tests {
		e, status := s.resolve(methodOf([]byte(tt.method)), []byte(tt.path))
		if status != tt.status {
			t.Errorf("%s %q: status %d, want %d", tt.method, tt.path, status, tt.status)
			continue
		}
		switch status {
		case 0:
			if e == nil || e.rel != tt.rel {
				t.Errorf("%s %q: entry %+v, want %s", tt.method, tt.path, e, tt.rel)
			}
		case 301:
			if string(e.location) != tt.rel {
				t.Errorf("%s %q: Location %q, want %q", tt.method, tt.path, e.location, tt.rel)
			}
		default:
			if e != nil {
				t.Errorf("%s %q: entry with status %d", tt.method, tt.path, status)
			}
		}
	}
}

func TestRedirectLocationEscaped(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a b/é?/index.html", "x")
	s := newTestHandler(t, Config{Root: root}).snap.Load()
	e, st := s.resolve(methodGet, []byte("/a b/é?"))
	if st != 301 || string(e.location) != "/a%20b/%C3%A9%3F/" {
		t.Errorf("status %d Location %q", st, e.location)
	}
	if e, st := s.resolve(methodGet, []byte("/a b/é?/")); st != 0 || e.rel != "a b/é?/index.html" {
		t.Errorf("status %d entry %+v", st, e)
	}
}

func TestCustomIndex(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "d/default.htm", "x")
	writeFile(t, root, "d/index.html", "y")
	s := newTestHandler(t, Config{Root: root, Index: "default.htm"}).snap.Load()
	if e, st := s.resolve(methodGet, []byte("/d/")); st != 0 || e.rel != "d/default.htm" {
		t.Errorf("/d/ → %d %+v", st, e)
	}
}

func TestDotfilesOption(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, ".well-known/security.txt", "x")
	s := newTestHandler(t, Config{Root: root, Dotfiles: true}).snap.Load()
	if _, st := s.resolve(methodGet, []byte("/.well-known/security.txt")); st != 0 {
		t.Errorf("Dotfiles: status %d", st)
	}
}

// TestLoadRefusesEscape: even if a symlink check were raced (a link
// swapped after EvalSymlinks), opening through the os.Root fails.
func TestLoadRefusesEscape(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	writeFile(t, outside, "secret", "s")
	symlink(t, outside+"/secret", root, "link")
	h := newTestHandler(t, Config{Root: root})
	r, err := os.OpenRoot(h.root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if e, err := h.load(r, "link", true, testMtime); err == nil {
		t.Errorf("load through an escaping link succeeded: %q", e.data)
	}
}

func TestDecide(t *testing.T) {
	e := &entry{size: 1000, etag: []byte(`"v1"`), lastMod: lm}
	tests := []struct {
		name   string
		m      method
		c      conds
		rng    string
		status int
		off, n int64
	}{
		{"plain GET", methodGet, conds{}, "", 200, 0, 1000},
		{"plain HEAD", methodHead, conds{}, "", 200, 0, 1000},
		{"range", methodGet, conds{}, "bytes=10-19", 206, 10, 10},
		{"suffix range", methodGet, conds{}, "bytes=-10", 206, 990, 10},
		{"HEAD ignores Range", methodHead, conds{}, "bytes=10-19", 200, 0, 1000},
		{"unsatisfiable", methodGet, conds{}, "bytes=1000-", 416, 0, 0},
		{"HEAD unsatisfiable ignored", methodHead, conds{}, "bytes=1000-", 200, 0, 1000},
		{"malformed range", methodGet, conds{}, "bytes=x", 200, 0, 1000},
		{"multiple ranges", methodGet, conds{}, "bytes=0-1,3-4", 200, 0, 1000},
		{"If-Range etag match", methodGet, conds{ifRange: []byte(`"v1"`)}, "bytes=0-9", 206, 0, 10},
		{"If-Range etag mismatch", methodGet, conds{ifRange: []byte(`"v0"`)}, "bytes=0-9", 200, 0, 1000},
		{"If-Range date match", methodGet, conds{ifRange: []byte(lmText)}, "bytes=0-9", 206, 0, 10},
		{"If-Range date older", methodGet, conds{ifRange: []byte(before)}, "bytes=0-9", 200, 0, 1000},
		{"If-Range mismatch, unsatisfiable", methodGet, conds{ifRange: []byte(`"v0"`)}, "bytes=5000-", 200, 0, 1000},
		{"If-Range without Range", methodGet, conds{ifRange: []byte(`"v0"`)}, "", 200, 0, 1000},
		{"304 beats Range", methodGet, conds{ifNoneMatch: []byte(`"v1"`)}, "bytes=0-9", 304, 0, 0},
		{"304 on HEAD", methodHead, conds{ifModifiedSince: []byte(lmText)}, "", 304, 0, 0},
		{"412 beats Range", methodGet, conds{ifMatch: []byte(`"v0"`)}, "bytes=0-9", 412, 0, 0},
		{"412 beats 304", methodGet, conds{ifMatch: []byte(`"v0"`), ifNoneMatch: []byte(`"v1"`)}, "", 412, 0, 0},
		{"If-Match ok then range", methodGet, conds{ifMatch: []byte(`"v1"`)}, "bytes=0-0", 206, 0, 1},
		{"IUS fail on HEAD", methodHead, conds{ifUnmodifiedSince: []byte(before)}, "", 412, 0, 0},
		{"INM miss, range", methodGet, conds{ifNoneMatch: []byte(`"v0"`)}, "bytes=-1", 206, 999, 1},
	}
	for _, tt := range tests {
		o := decide(e, tt.m, &tt.c, bytesOrNil(tt.rng), nowU)
		if o.status != tt.status || o.off != tt.off || o.n != tt.n {
			t.Errorf("%s: %+v, want %d [%d,+%d)", tt.name, o, tt.status, tt.off, tt.n)
		}
	}
	empty := &entry{size: 0, etag: []byte(`"e"`), lastMod: lm}
	if o := decide(empty, methodGet, &conds{}, []byte("bytes=0-0"), nowU); o.status != 200 || o.n != 0 {
		t.Errorf("range on an empty file: %+v", o)
	}
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func TestAppendContentRange(t *testing.T) {
	for _, tt := range []struct {
		off, n, size int64
		want         string
	}{
		{0, 1, 1, "bytes 0-0/1"},
		{10, 10, 1000, "bytes 10-19/1000"},
		{1 << 40, 5, 1<<40 + 5, "bytes 1099511627776-1099511627780/1099511627781"},
	} {
		if got := string(appendContentRange(nil, tt.off, tt.n, tt.size)); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestPlanAllocs(t *testing.T) {
	root, _ := siteTree(t)
	s := newTestHandler(t, Config{Root: root}).snap.Load()
	p, m := []byte("/docs/a.txt"), []byte("GET")
	c := conds{ifNoneMatch: []byte(`"x", "y"`), ifModifiedSince: []byte(before)}
	rng := []byte("bytes=1-5")
	var buf [64]byte
	n := testing.AllocsPerRun(200, func() {
		mm := methodOf(m)
		e, _ := s.resolve(mm, p)
		o := decide(e, mm, &c, rng, nowU)
		appendContentRange(buf[:0], o.off, o.n, e.size)
	})
	if n != 0 {
		t.Errorf("resolve+decide allocate %v times", n)
	}
}

// FuzzPlan: for any path and conditional/range fields, the decision is
// one of the statuses this handler sends, a body span lies inside the
// file, and only files scanned under the root are ever chosen.
func FuzzPlan(f *testing.F) {
	root := f.TempDir()
	writeFile(f, root, "index.html", "<h1>home</h1>")
	writeFile(f, root, "d/a.txt", "0123456789")
	h := newTestHandler(f, Config{Root: root})
	s := h.snap.Load()
	f.Add("GET", "/d/a.txt", `"x"`, "", "bytes=1-2", "")
	f.Add("HEAD", "/", "", lmText, "bytes=-0", lmText)
	f.Add("GET", "/../d/a.txt", "*", "", "", `"x"`)
	f.Fuzz(func(t *testing.T, m, p, inm, ims, rng, ifRange string) {
		mm := methodOf([]byte(m))
		e, st := s.resolve(mm, []byte(p))
		switch st {
		case 0:
			if s.paths[p] != e || e.rel == "" {
				t.Fatalf("%q resolved to %+v", p, e)
			}
		case 301:
			if !e.isRedirect() {
				t.Fatalf("%q: 301 without a redirect entry", p)
			}
			return
		case 404, 405:
			return
		default:
			t.Fatalf("%q: status %d", p, st)
		}
		c := conds{ifNoneMatch: bytesOrNil(inm), ifModifiedSince: bytesOrNil(ims), ifRange: bytesOrNil(ifRange)}
		o := decide(e, mm, &c, bytesOrNil(rng), nowU)
		switch o.status {
		case 200:
			if o.off != 0 || o.n != e.size {
				t.Fatalf("200 with span [%d,+%d) of %d", o.off, o.n, e.size)
			}
		case 206:
			if mm != methodGet || o.n <= 0 || o.off < 0 || o.off+o.n > e.size {
				t.Fatalf("206 with span [%d,+%d) of %d", o.off, o.n, e.size)
			}
		case 304, 416:
		default:
			t.Fatalf("status %d", o.status)
		}
	})
}
