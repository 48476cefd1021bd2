package tcp

// HasFlow reports whether a connection in any state (SYN-RECEIVED and
// TIME-WAIT included) exists for segments from raddr:rport to our lport.
// A reactor with several shards asks it before passing a segment that
// matches no flow here to the shard that may own it. Owner's thread only;
// it allocates nothing.
func (s *Stack) HasFlow(raddr [4]byte, rport, lport uint16) bool {
	return s.lookup(raddr, rport, lport) != nil
}
