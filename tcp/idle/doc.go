// Package idle holds the test that parks ≥ 100,000 idle established
// connections on one shardnet shard (a TAP device in a namespace of the
// test's own, Linux clients in that namespace) and measures what each one
// costs the shard, with the kernel's client sockets as the yardstick.
//
//	sudo go test -count=1 -v -run TestIdleConnections ./tcp/idle/ -idle.conns=100000
//
// Under the race detector (make test) a smaller form runs by default.
package idle
