//go:build race

package main

// raceEnabled builds the tested binary with the race detector too.
const raceEnabled = true
