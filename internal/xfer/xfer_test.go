package xfer

import (
	"bytes"
	"testing"
)

func TestFillIsOffsetConsistent(t *testing.T) {
	whole := make([]byte, 1000)
	Fill(7, 5, whole)
	for _, cut := range []int{0, 1, 3, 8, 13, 999} {
		a, b := make([]byte, cut), make([]byte, 1000-cut)
		Fill(7, 5, a)
		Fill(7, 5+uint64(cut), b)
		if !bytes.Equal(append(a, b...), whole) {
			t.Fatalf("stream differs when split at %d", cut)
		}
	}
	other := make([]byte, 1000)
	Fill(8, 5, other)
	if bytes.Equal(other, whole) {
		t.Fatal("different seeds give the same stream")
	}
}

func TestVerifier(t *testing.T) {
	data := make([]byte, 100000)
	Fill(3, 0, data)
	v := NewVerifier(3, uint64(len(data)))
	v.Write(data[:777])
	v.Write(data[777:])
	if err := v.Err(); err != nil {
		t.Fatal(err)
	}
	data[5000] ^= 1
	v = NewVerifier(3, uint64(len(data)))
	v.Write(data)
	if v.Err() == nil {
		t.Fatal("corrupted stream verified")
	}
	v = NewVerifier(3, uint64(len(data)+1))
	data[5000] ^= 1
	v.Write(data)
	if v.Err() == nil {
		t.Fatal("short stream verified")
	}
}
