package shard

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseCPUList(t *testing.T) {
	good := []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"0-3,6,8-9", []int{0, 1, 2, 3, 6, 8, 9}},
		{"8-9,0-1", []int{0, 1, 8, 9}},
		{" 2 , 4 - 5 ", []int{2, 4, 5}},
		{"7-7", []int{7}},
		{"65535", []int{65535}},
		{"0\n", []int{0}}, // as read from /sys/devices/system/cpu/online
	}
	for _, tc := range good {
		got, err := ParseCPUList(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	bad := []string{
		"", " ", ",", "0,", ",1", "1-", "-1", "3-1", "a", "1-b", "0x1", "+1",
		"1,1", "0-3,2", "65536", "99999999999999999999", "1-2-3", "1;2", "0-3:2",
	}
	for _, in := range bad {
		got, err := ParseCPUList(in)
		if err == nil || !errors.Is(err, ErrCPUList) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want an ErrCPUList error", in, got, err)
		}
	}
}

// threadAllowedList reads Cpus_allowed_list of the calling thread from
// procfs: an independent source to check AllowedCPUs against.
func threadAllowedList(t *testing.T) []int {
	t.Helper()
	f, err := os.Open("/proc/thread-self/status")
	if err != nil {
		t.Skipf("no procfs: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			cpus, err := ParseCPUList(v)
			if err != nil {
				t.Fatalf("parsing procfs %q: %v", v, err)
			}
			return cpus
		}
	}
	t.Fatal("no Cpus_allowed_list in /proc/thread-self/status")
	return nil
}

func TestAllowedCPUs(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	got, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if want := threadAllowedList(t); !slices.Equal(got, want) {
		t.Fatalf("AllowedCPUs = %v, procfs says %v", got, want)
	}
	if !slices.IsSorted(got) || len(got) == 0 {
		t.Fatalf("AllowedCPUs = %v: want a sorted non-empty list", got)
	}
}

func TestPinCurrentThread(t *testing.T) {
	cpus, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, cpu := range cpus {
		res := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // not unlocked: the pinned thread dies with us
			if err := PinCurrentThread(cpu); err != nil {
				res <- err
				return
			}
			res <- checkAffinity(cpu)
		}()
		if err := <-res; err != nil {
			t.Fatalf("CPU %d: %v", cpu, err)
		}
	}
	for _, bad := range []int{-1, maxCPU} {
		if err := PinCurrentThread(bad); err == nil {
			t.Errorf("PinCurrentThread(%d) succeeded", bad)
		}
	}
}

// checkAffinity reports an error unless the calling thread's affinity is
// exactly {cpu}.
func checkAffinity(cpu int) error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return err
	}
	if set.Count() != 1 || !set.IsSet(cpu) {
		var got []int
		for i := 0; i < len(set)*64; i++ {
			if set.IsSet(i) {
				got = append(got, i)
			}
		}
		return fmt.Errorf("thread affinity is %v, want [%d]", got, cpu)
	}
	return nil
}
