package static

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testMtime is the mtime every test file gets: Last-Modified = lmText.
var testMtime = time.Unix(lm, 0)

// writeFile creates root/rel (and its directories) with body and the
// test mtime.
func writeFile(t testing.TB, root, rel, body string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, testMtime, testMtime); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, root, rel string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(rel))); err != nil {
		t.Fatal(err)
	}
}

// newTestHandler builds a Handler with no background rescanner, closed
// at the end of the test.
func newTestHandler(t testing.TB, cfg Config) *Handler {
	t.Helper()
	if cfg.Rescan == 0 {
		cfg.Rescan = -1
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// bigBody is n deterministic, non-repeating-looking bytes.
func bigBody(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return string(b)
}
