package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/cache"
)

// treeLoad is what loading a TreeCache took.
type treeLoad struct {
	nodes int     // cached once loaded
	res   result  // from Start to Ready
	grown float64 // live heap added, bytes
}

// treeCacheLoad measures Keeper's TreeCache on the tree at root: from
// Start to Ready (the whole tree in memory), with the default options. The
// cache's events are drained meanwhile, as an application would. It also
// gives the live heap the loaded cache added: after GC, from before Start
// to after the Initialized event was drained.
func treeCacheLoad(e *env, root string) (treeLoad, error) {
	var none treeLoad
	s, err := connectKeeper(e.servers)
	if err != nil {
		return none, err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tc, err := cache.NewTreeCache(s.c, root)
	if err != nil {
		return none, err
	}
	drained := make(chan struct{})
	initialized := make(chan struct{})
	go func() {
		defer close(drained)
		for ev := range tc.Events() {
			if ev.Type == cache.Initialized {
				close(initialized)
			}
		}
	}()
	defer func() { <-drained }()
	defer tc.Close()
	before := heapInUse()
	m := startMeter(e.pid)
	if err := tc.Start(ctx); err != nil {
		return none, err
	}
	select {
	case <-tc.Ready():
	case <-tc.Done():
		return none, fmt.Errorf("tree cache ended while loading: %w", tc.Err())
	case <-ctx.Done():
		return none, fmt.Errorf("tree cache not loaded after 5 minutes: %w", ctx.Err())
	}
	res := m.stop()
	select {
	case <-initialized:
	case <-ctx.Done():
		return none, fmt.Errorf("no Initialized event after 5 minutes: %w", ctx.Err())
	}
	grown := float64(heapInUse()) - float64(before)
	return treeLoad{nodes: countCached(tc, root), res: res, grown: grown}, nil
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
