package persistent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	zpath "path"
	"slices"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/cache"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// GroupMember is a member of a group, as Curator's GroupMember: its
// membership node <membershipPath>/<id> is an ephemeral node kept present
// by a Node, and a TreeCache on membershipPath holds the current members.
// Java's GroupMember on the same path sees Keeper's members and the other
// way round.
//
// All methods are safe for concurrent use.
type GroupMember struct {
	path, id string
	n        *Node
	tc       *cache.TreeCache
	changed  chan struct{} // 1-buffered
	done     chan struct{}
}

// NewGroupMember joins the group at membershipPath as id, with payload as
// the member's data; a nil payload means this host's address, as Curator's
// default (an empty non-nil payload stays empty). ctx bounds only the
// setup of the members' cache. It fails for a nil client, a bad path or
// an id that is not one path element.
func NewGroupMember(ctx context.Context, c *keeper.Client, membershipPath, id string, payload []byte) (*GroupMember, error) {
	if c == nil {
		return nil, errors.New("persistent: nil client")
	}
	if id == "" || id == "." || id == ".." || slices.Contains([]byte(id), '/') {
		return nil, fmt.Errorf("persistent: group member %q: %w: the id must be one path element", id, keeper.ErrInvalidPath)
	}
	if payload == nil {
		payload = []byte(node.LocalAddress())
	}
	n, err := NewNode(c, keeper.JoinPath(membershipPath, id), payload, Ephemeral())
	if err != nil {
		return nil, err
	}
	tc, err := cache.NewTreeCache(c, membershipPath)
	if err == nil {
		err = tc.Start(ctx)
	}
	if err != nil {
		_ = n.Close(ctx)
		return nil, fmt.Errorf("persistent: group %s: %w", membershipPath, err)
	}
	g := &GroupMember{path: membershipPath, id: id, n: n, tc: tc,
		changed: make(chan struct{}, 1), done: make(chan struct{})}
	go g.drain()
	return g, nil
}

// drain reads the cache's events and signals Changed.
func (g *GroupMember) drain() {
	defer close(g.done)
	for range g.tc.Events() {
		select {
		case g.changed <- struct{}{}:
		default:
		}
	}
}

// ID returns this member's id.
func (g *GroupMember) ID() string { return g.id }

// Ready is closed once the members' cache has loaded the group.
func (g *GroupMember) Ready() <-chan struct{} { return g.tc.Ready() }

// Changed receives a value (coalesced: at most one waits) after the cached
// members changed or the cache re-read the group. It is never closed.
func (g *GroupMember) Changed() <-chan struct{} { return g.changed }

// WaitForInitialCreate waits until this member's node has been created.
func (g *GroupMember) WaitForInitialCreate(ctx context.Context) error {
	return g.n.WaitForInitialCreate(ctx)
}

// SetData replaces this member's payload, as Node.SetData.
func (g *GroupMember) SetData(ctx context.Context, data []byte) error { return g.n.SetData(ctx, data) }

// CurrentMembers returns the members the cache knows, by id, with their
// payloads; this member is always included (with its own payload), as in
// Curator. The payloads are copies.
func (g *GroupMember) CurrentMembers() map[string][]byte {
	out := map[string][]byte{}
	kids, _ := g.tc.Children(g.path)
	for _, k := range kids {
		if data, _, ok := g.tc.Get(keeper.JoinPath(g.path, k)); ok {
			out[k] = slices.Clone(data)
		}
	}
	if _, ok := out[g.id]; !ok {
		out[g.id] = g.n.Data()
	}
	return out
}

// MemberIDs returns the sorted ids of CurrentMembers.
func (g *GroupMember) MemberIDs() []string {
	return slices.Sorted(maps.Keys(g.CurrentMembers()))
}

// IDFromPath returns the member id of a membership node's path (its last
// element), as Curator's idFromPath.
func (g *GroupMember) IDFromPath(path string) string { return zpath.Base(path) }

// Close leaves the group: it deletes this member's node (see Node.Close)
// and stops the cache.
func (g *GroupMember) Close(ctx context.Context) error {
	err := g.n.Close(ctx)
	_ = g.tc.Close()
	<-g.done
	return err
}
