package soak

import (
	"flag"
	"testing"
	"time"
)

var soakTime = flag.Duration("soak.time", 20*time.Second, "how long TestSoak runs traffic (make soak: SOAK_TIME)")

// TestSoak runs mixed traffic through faults for -soak.time and checks
// every byte and the return to baseline (see Run).
func TestSoak(t *testing.T) {
	cfg := Config{Duration: *soakTime}
	if *soakTime <= time.Minute {
		// The short form in make test (under -race): smaller long transfers.
		cfg.LongMax = 1 << 20
	}
	sum := Run(t, cfg)
	t.Logf("\n%v", sum)
	if sum.BytesVerified == 0 {
		t.Fatal("no byte was verified")
	}
}
