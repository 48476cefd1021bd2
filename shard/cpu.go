package shard

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxCPU bounds CPU numbers accepted from users and the size of affinity
// masks we try (Linux's NR_CPUS tops out at 8192 today).
const maxCPU = 1 << 16

// ErrCPUList reports a malformed CPU list.
var ErrCPUList = errors.New("shard: bad CPU list")

// AllowedCPUs returns the CPUs the calling thread may run on
// (sched_getaffinity(0)), sorted. Called at start-up, before any thread is
// pinned, that is the process's allowed set (as narrowed by taskset,
// cgroups' cpuset or a container runtime).
func AllowedCPUs() ([]int, error) {
	for n := 1024; n <= maxCPU; n *= 2 {
		set := unix.NewCPUSet(n)
		err := unix.SchedGetaffinityDynamic(0, set)
		if err == unix.EINVAL {
			continue // the kernel's mask is bigger than ours
		}
		if err != nil {
			return nil, fmt.Errorf("shard: sched_getaffinity: %w", err)
		}
		cpus := make([]int, 0, set.Count())
		for cpu := 0; cpu < n; cpu++ {
			if set.IsSet(cpu) {
				cpus = append(cpus, cpu)
			}
		}
		return cpus, nil
	}
	return nil, fmt.Errorf("shard: sched_getaffinity: mask larger than %d CPUs", maxCPU)
}

// ParseCPUList parses a Linux-style CPU list such as "0-3,6,8-9" (the
// format of taskset -c and /sys/devices/system/cpu/online) and returns the
// CPUs sorted. Spaces around items are ignored. An empty list, a reversed
// range, a CPU listed twice or a number outside 0..65535 is an error.
func ParseCPUList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty", ErrCPUList)
	}
	var cpus []int
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parseCPU(lo)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrCPUList, item, err)
		}
		b := a
		if isRange {
			if b, err = parseCPU(hi); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrCPUList, item, err)
			}
			if b < a {
				return nil, fmt.Errorf("%w: %q: range runs backwards", ErrCPUList, item)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	for i := 1; i < len(cpus); i++ {
		if cpus[i] == cpus[i-1] {
			return nil, fmt.Errorf("%w: CPU %d listed twice in %q", ErrCPUList, cpus[i], s)
		}
	}
	return cpus, nil
}

func parseCPU(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("missing CPU number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a CPU number", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n >= maxCPU {
		return 0, fmt.Errorf("CPU %s out of range 0..%d", s, maxCPU-1)
	}
	return n, nil
}

// PinCurrentThread restricts the calling OS thread to cpu
// (sched_setaffinity(0, {cpu})). The caller must hold
// runtime.LockOSThread, or the pin lands on whatever thread the goroutine
// happens to be running on.
func PinCurrentThread(cpu int) error {
	if cpu < 0 || cpu >= maxCPU {
		return fmt.Errorf("shard: pin to CPU %d: out of range 0..%d", cpu, maxCPU-1)
	}
	n := 1024
	for n <= cpu {
		n *= 2
	}
	set := unix.NewCPUSet(n)
	set.Set(cpu)
	if err := unix.SchedSetaffinityDynamic(0, set); err != nil {
		return fmt.Errorf("shard: pin thread to CPU %d: %w", cpu, err)
	}
	return nil
}
