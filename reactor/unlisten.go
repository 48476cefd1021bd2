package reactor

import "fmt"

// Unlisten stops accepting connections on port on this shard (see
// tcp.Stack.Unlisten): later SYNs to it are answered with a RST, while
// established connections, and handshakes already under way, go on. It
// fails if the loop runs no TCP or nothing listens on port. Shard thread
// only.
func (l *Loop) Unlisten(port uint16) error {
	if l.tcp == nil {
		return fmt.Errorf("%w: Unlisten needs Config.TCP", ErrConfig)
	}
	return l.tcp.Unlisten(port)
}
