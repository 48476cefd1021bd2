package static

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// The demo site shipped with examples/httpd.
const demoRoot = "../../examples/httpd/www"

var updateDemo = flag.Bool("update-demo", false, "rewrite "+demoRoot+"/data/256k.bin from its generator")

// demoBin is the content of data/256k.bin: SHA-256 in counter mode over
// a fixed label, so anyone can regenerate and check it.
func demoBin() []byte {
	out := make([]byte, 0, 256<<10)
	var block [len("shardnet demo 256k") + 4]byte
	copy(block[:], "shardnet demo 256k")
	for i := uint32(0); len(out) < 256<<10; i++ {
		binary.BigEndian.PutUint32(block[len(block)-4:], i)
		sum := sha256.Sum256(block[:])
		out = append(out, sum[:]...)
	}
	return out
}

func TestDemoSite(t *testing.T) {
	binPath := filepath.Join(demoRoot, "data", "256k.bin")
	if *updateDemo {
		if err := os.WriteFile(binPath, demoBin(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, demoBin()) {
		t.Errorf("%s differs from its generator (run go test -run TestDemoSite -update-demo)", binPath)
	}

	var total int64
	filepath.WalkDir(demoRoot, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fi, _ := d.Info()
			total += fi.Size()
		}
		return err
	})
	if total >= 400<<10 {
		t.Errorf("demo site is %d bytes, over 400 KiB", total)
	}

	h := newTestHandler(t, Config{Root: demoRoot})
	s := h.snap.Load()
	for path, ct := range map[string]string{
		"/":              "text/html; charset=utf-8",
		"/style.css":     "text/css; charset=utf-8",
		"/hello.txt":     "text/plain; charset=utf-8",
		"/logo.svg":      "image/svg+xml",
		"/data/256k.bin": "application/octet-stream",
	} {
		e, st := s.resolve(methodGet, []byte(path))
		if st != 0 || e.contentType != ct {
			t.Errorf("%s: status %d, entry %+v", path, st, e)
		}
	}
	index := s.paths["/"].data
	for _, want := range []string{"<title>shardnet</title>", `href="/plaintext"`, `href="/hello.txt"`} {
		if !bytes.Contains(index, []byte(want)) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	// The default limits: 256 KiB is cached, not streamed.
	if e := s.paths["/data/256k.bin"]; !e.cached || e.size != 256<<10 {
		t.Errorf("256k.bin: cached %v size %d", e.cached, e.size)
	}
}
