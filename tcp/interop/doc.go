// Package interop holds shardnet's TCP interop tests: the user-space stack
// against the Linux kernel's over a TAP device in a namespace of the test's
// own, in both roles, with and without faults (nic/fault) in both
// directions. It has no non-test code; run it as root (`make test`).
package interop
