//go:build !treecache

package main

import "time"

// Until recipe/cache has a TreeCache, Keeper's bulk read is its MultiGet
// walk; build with -tags treecache to measure TreeCache's initial load.

const keeperBulkName = "Keeper MultiGet walk"

func keeperBulk(e *env) (int, time.Duration, error) { return keeperMultiGetWalk(e) }

func init() {
	unavailable = append(unavailable, "8 with TreeCache: recipe/cache has no TreeCache yet, so Keeper's bulk-read figure is its "+
		"level-by-level MultiGet walk (batches of 100 from 64 goroutines); build with -tags treecache once it exists.")
}
