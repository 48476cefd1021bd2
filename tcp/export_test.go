package tcp

// HoldsScoreboard reports whether c holds a SACK scoreboard (for tests:
// only while the peer has SACKed data above SND.UNA).
func HoldsScoreboard(c *Conn) bool { return c.sb != nil }
