package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/cache"
)

// treeCacheLoad times Keeper's TreeCache on the tree of measurement 8: from
// Start to Ready (the whole tree in memory), with the default options. The
// cache's events are drained meanwhile, as an application would.
func treeCacheLoad(e *env) (int, time.Duration, error) {
	s, err := connectKeeper(e.servers)
	if err != nil {
		return 0, 0, err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tc, err := cache.NewTreeCache(s.c, bulkRoot)
	if err != nil {
		return 0, 0, err
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range tc.Events() {
		}
	}()
	defer func() { <-drained }()
	defer tc.Close()
	t0 := time.Now()
	if err := tc.Start(ctx); err != nil {
		return 0, 0, err
	}
	select {
	case <-tc.Ready():
	case <-tc.Done():
		return 0, 0, fmt.Errorf("tree cache ended while loading: %w", tc.Err())
	case <-ctx.Done():
		return 0, 0, fmt.Errorf("tree cache not loaded after 5 minutes: %w", ctx.Err())
	}
	took := time.Since(t0)
	return countCached(tc, bulkRoot), took, nil
}

// countCached counts the nodes the cache holds under path, path included.
func countCached(tc *cache.TreeCache, path string) int {
	if _, _, ok := tc.Get(path); !ok {
		return 0
	}
	n := 1
	kids, _ := tc.Children(path)
	for _, name := range kids {
		n += countCached(tc, keeper.JoinPath(path, name))
	}
	return n
}
