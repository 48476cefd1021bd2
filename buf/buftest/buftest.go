// Package buftest gives tests a slab that checks itself for leaks: every
// frame must be released by the end of the test that made it.
package buftest

import (
	"testing"

	"github.com/shardnet/shardnet/buf"
)

// NewSlab returns a slab of frames default-sized frames. When the test
// ends it fails the test if any frame is still in use, then unmaps the
// slab. Cleanups run last-registered first, so register queue closes after
// this call and they run before the leak check.
func NewSlab(t testing.TB, frames int) *buf.Slab {
	t.Helper()
	s, err := buf.NewSlab(frames, buf.DefaultFrameSize, buf.DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n := s.InUse(); n != 0 {
			t.Errorf("slab leak: %d frames in use at end of test", n)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}
