package wire

import "testing"

func goldenSeeds(*testing.T, string) []seed { return nil }
