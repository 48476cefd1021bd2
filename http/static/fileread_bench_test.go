package static

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkFileChunk measures what a file body above MaxCachedFile costs
// the shard's thread per 64 KiB chunk (http: SetBodyFile preads that much
// as send space allows): from the page cache, and with the chunk evicted
// first (POSIX_FADV_DONTNEED on the whole file, or readahead would have
// fetched it), i.e. a read that goes to the device. The gap is why http
// reads them off the shard (Config.FileInbox; see SetBodyFile).
func BenchmarkFileChunk(b *testing.B) {
	const size, chunk = 16 << 20, 64 << 10
	p := filepath.Join(b.TempDir(), "big.bin")
	if err := os.WriteFile(p, []byte(bigBody(size)), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil { // clean pages, so that DONTNEED drops them
		b.Fatal(err)
	}
	buf := make([]byte, chunk)
	read := func(b *testing.B, evict bool) {
		b.SetBytes(chunk)
		off := int64(0)
		for b.Loop() {
			if evict {
				b.StopTimer()
				if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if n, err := f.ReadAt(buf, off); n != chunk {
				b.Fatalf("ReadAt: %d, %v", n, err)
			}
			if off += chunk; off == size {
				off = 0
			}
		}
	}
	b.Run("page-cache", func(b *testing.B) { read(b, false) })
	b.Run("evicted", func(b *testing.B) { read(b, true) })
}
