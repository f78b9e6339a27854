package main

import "context"

// recipeState is the data recipes' part of the workload (Counter,
// AtomicLong, LockingQueue), run once those recipes exist.
type recipeState struct{}

// recipesOn reports whether the data recipes are part of the workload.
func (ch *chaos) recipesOn() bool { return false }

// recipes runs the data recipes' workload of one client.
func (w *worker) recipes(ctx context.Context) { <-ctx.Done() }

// checkRecipes checks the data recipes' final state.
func (ch *chaos) checkRecipes(ctx context.Context) {
	ch.rep.skip(checkRecipes, "recipe/counter and recipe/queue are not in the tree yet")
}
