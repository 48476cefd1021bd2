// Package shardnet is the embedding API of shardnet, a user-space TCP/IP
// stack for servers: one pinned OS thread ("shard") per core owns one NIC
// queue and every packet, timer and connection that flows through it, and
// runs each packet to completion — driver, Ethernet/ARP, IPv4, TCP,
// application — with no lock shared between cores. The same applications
// also run on the kernel's TCP stack (DriverKernel), for comparison.
//
// # Use
//
//	st, err := shardnet.New(shardnet.Config{}, // TAP device shn0, 198.18.0.2/24, one shard per CPU
//		shardnet.WithShards(2), shardnet.WithAdmin("127.0.0.1:9090"))
//	...
//	st.HandleHTTP(8080, http.Config{Router: &router})
//	if err := st.Start(); err != nil { ... }
//	<-signalled
//	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//	defer cancel()
//	err = st.Stop(ctx) // drains: nil when every connection closed gracefully
//
// A Config has a useful zero value; Options change it; New validates the
// result and reports every problem with an error (wrapping ErrConfig) that
// names the field and what to change. Logging is zap, on the control
// plane only: start, driver attach and detach, drain, limits hit,
// failures; never per packet. Without Config.Logger the level comes from
// $SHARDNET_LOG.
//
// # Lifecycle
//
// New → services (HandleHTTP, HandleStream, Do) → Start → running →
// Stop(ctx) → stopped. A Stack starts once. Services may also be added
// while it runs: each is then set up on every shard before the call
// returns. Stop drains (see Stop): listeners close first, services are
// told to drain, the shards run until their connections are gone or ctx
// ends, then everything left is aborted, the shards stop and the device
// is closed — a TAP device removed, an XDP program detached.
//
// # Ownership
//
// The Stack's methods are for the control plane and may be called from
// any goroutine except a shard's own thread. Everything on a shard — its
// loop, its connections, its http.Servers, the handler HandleStream made
// for it — belongs to that shard's thread: handlers run there, inline,
// and must not block; other goroutines reach it only through Do (a func
// posted to the shard's inbox) and read its counters only through
// Samples, which copies them there. A value a Handler or Router shares
// between shards (a file cache, a router) is read-only or synchronised by
// its owner.
//
// # Metrics
//
// Samples returns each shard's counters; with Config.Admin, an admin
// listener on the kernel's stack serves them in the Prometheus text
// format on /metrics, and pprof on /debug/pprof/. WriteReport prints them
// for people.
package shardnet
