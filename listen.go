package shardnet

import "github.com/shardnet/shardnet/stream/netconn"

// Listen returns a net.Listener that accepts the connections every shard
// establishes on port: the compatibility layer of package stream/netconn,
// so that net/http.Serve and other standard servers run unchanged on
// shardnet's stack (or on the kernel backend). It is slower than the
// native API — each connection's bytes are copied between the shard and
// the caller's goroutines and every hand-over is an inbox hop — so use
// HandleHTTP or HandleStream where speed matters.
//
// cfg, if given, sets the backlog and buffer sizes (netconn.Config).
// Before Start the listener is attached as each shard starts; after, on
// every shard before Listen returns. Closing the Listener stops accepting
// (later SYNs are refused). Stop unlistens the port too, but connections
// already accepted belong to the caller: Stop waits for them to close
// (e.g. net/http.Server.Shutdown) until its deadline, then resets them.
func (st *Stack) Listen(port uint16, cfg ...netconn.Config) (*netconn.Listener, error) {
	var c netconn.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	ln := netconn.NewListener(port, c)
	err := st.addService(port, "net.Listener", func(ss *shardState) error {
		if err := ln.Attach(ss.sh, ss.host); err != nil {
			return err
		}
		ss.ports = append(ss.ports, port)
		return nil
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
