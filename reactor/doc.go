// Package reactor is a shard's run-to-completion loop: the only place that
// ties a NIC queue, the ip (and later tcp) layers and the shard's mailboxes
// together.
//
// One iteration: read the clock once; receive a burst; process each frame
// to the end (ip → transport → application, inline); fire due timers; run
// messages posted to the shard; flush the TX batch with one Kick. When
// iterations keep finding nothing to do, the loop spins a little longer
// (busy-polling is cheapest when traffic is steady) and then sleeps in
// poll(2) on the queue's fd and the shard's eventfd, bounded by the next
// timer deadline.
//
// Ownership: a Loop and everything it reaches belong to its shard's pinned
// thread. Other goroutines reach it only through the shard's Inbox.
package reactor
