// Package rss predicts which receive queue a NIC's receive-side scaling
// puts a flow on, so that an active open can pick a local port whose reply
// lands on the opening shard.
//
// A NIC with RSS hashes each received IPv4/TCP segment's (source address,
// destination address, source port, destination port) with the Toeplitz
// function under a secret key, and takes the low bits of the hash as an
// index into an indirection table of queue numbers. Knowing the key and the
// table (Read gets both from the driver through the ethtool ioctl,
// ETHTOOL_GRSSH), Table.PortFor finds a local port for a given remote end
// whose replies hash to a given queue.
//
// Where the hash cannot be predicted — veth and TAP have no RSS (the queue
// is chosen by the sender), drivers that do not report their key, or
// hash functions other than Toeplitz — Read and PortFor say so
// (ErrNotSupported, ErrNotToeplitz) and the caller falls back to
// partitioning ports between shards and forwarding (reactor.Forwarder).
//
// Linux drivers that do not set a key of their own use one random key per
// boot (netdev_rss_key_fill), shown in /proc/sys/net/core/netdev_rss_key;
// LinuxDefaultKey reads it. MicrosoftKey is the key of Microsoft's RSS
// verification suite, which the tests check Toeplitz against.
//
// Layer: a helper under nic with no shardnet imports. Ownership: a Table
// is read-only after Read and may be shared by all shards; nothing here
// allocates after Read.
package rss
