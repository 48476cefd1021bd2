//go:build race

package http

// raceEnabled: the race detector makes sync.Pool (under bytebufferpool)
// drop items at random, so allocation counts mean nothing.
const raceEnabled = true
