//go:build race

package stdhttp_test

const raceEnabled = true
