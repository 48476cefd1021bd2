//go:build race

package static

// raceEnabled: the race detector changes allocation counts (sync.Pool
// drops items at random under it), so AllocsPerRun tests skip.
const raceEnabled = true
