//go:build race

package nlu

// raceEnabled reports that the race detector is on: it slows training on the
// public data sets about tenfold, so those tests skip (the unit tests cover
// concurrency).
const raceEnabled = true
