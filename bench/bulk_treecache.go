//go:build treecache

package main

import (
	"context"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/cache"
)

// Built with -tags treecache, measurement 8 times Keeper's TreeCache: from
// its creation to the end of its initial load, after which the whole tree
// is in memory. recipe/cache did not exist when this was written: the
// calls below follow issue 6 (a TreeCache over a subtree, an initial load
// then Initialized, Get and Children from memory) and may need adjusting
// to its final API.

const keeperBulkName = "Keeper TreeCache initial load"

func keeperBulk(e *env) (int, time.Duration, error) {
	s, err := connectKeeper(e.servers)
	if err != nil {
		return 0, 0, err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	tc, err := cache.NewTreeCache(ctx, s.c, bulkRoot)
	if err != nil {
		return 0, 0, err
	}
	defer tc.Close()
	if err := tc.WaitInitialized(ctx); err != nil {
		return 0, 0, err
	}
	took := time.Since(t0)
	return countCached(tc, bulkRoot), took, nil
}

// countCached counts the nodes the cache holds under path, path included.
func countCached(tc *cache.TreeCache, path string) int {
	n := 1
	for _, name := range tc.Children(path) {
		n += countCached(tc, keeper.JoinPath(path, name))
	}
	return n
}
