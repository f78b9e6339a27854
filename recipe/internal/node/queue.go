package node

import (
	"context"
	"errors"
	"strings"

	"github.com/keeper-go/keeper"
)

// Predecessor returns the node that self must wait for in a queue of
// contenders: among kids (child names), those that end in one of order's
// markers and a sequence are sorted in creation order (see SortBySeq), and
// pred is the last one before self whose marker is one of conflicts (any
// of them when conflicts is empty), or "" when self is first among those.
// found is false when self is not in the queue (its node is gone).
//
// A lock waits for every contender before it (conflicts empty); a read lock
// only for the writers (conflicts = the writers' markers).
func Predecessor(kids []string, self string, order, conflicts []string) (pred string, found bool) {
	for _, e := range SortBySeq(kids, order...) {
		if e.Name == self {
			return pred, true
		}
		if len(conflicts) == 0 {
			pred = e.Name
			continue
		}
		for _, m := range conflicts {
			if e.Marker == m {
				pred = e.Name
			}
		}
	}
	return "", false
}

// Strays returns the names in kids that start with prefix other than self:
// creates of ours that a server applied after all, later than
// ProtectedCreate looked for them. They must be deleted (DeleteOwn), or
// they would block the queue for the rest of the session.
func Strays(kids []string, prefix, self string) []string {
	var out []string
	for _, k := range kids {
		if k != self && strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// Contenders returns the data of the queue's nodes (the children of dir
// that end in one of markers and a sequence), in queue order: the holder or
// leader first. Nodes that vanish meanwhile are left out. A missing dir has
// no contenders (nil); an existing one gives a non-nil slice.
func Contenders(ctx context.Context, c *keeper.Client, dir string, markers ...string) ([]string, error) {
	kids, err := c.Children(ctx, dir)
	if errors.Is(err, keeper.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, e := range SortBySeq(kids, markers...) {
		data, _, err := c.Get(ctx, keeper.JoinPath(dir, e.Name))
		if errors.Is(err, keeper.ErrNoNode) {
			continue // left meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, string(data))
	}
	return out, nil
}
