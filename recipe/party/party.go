package party

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// partyMark is the text Kazoo puts after the uuid of a Party member's node.
const partyMark = "__party__"

// Party is a group of processes, each a member through an ephemeral node
// "<path>/<uuid hex>__party__" holding its identifier, as Kazoo's Party.
// Create one with New. Its methods are safe for concurrent use.
type Party struct {
	m member
}

// New returns a Party at path for client c; identifier (any text, may be
// empty) is what Members lists for this member. Nothing is sent until Join.
func New(c *keeper.Client, path, identifier string) *Party {
	p := &Party{}
	p.m.init(c, path, node.UUIDHex()+partyMark, identifier)
	return p
}

// Join makes this process a member: it creates the party's path if needed
// and then its member node. Joining while joined only makes sure the node
// still exists. While joined, the member joins again by itself on each new
// session of the client (after a session loss). ctx bounds the calls; when it
// ends first, Join returns its error and the member is not joined.
func (p *Party) Join(ctx context.Context) error { return p.m.join(ctx) }

// Leave deletes this member's node and stops the automatic re-joining.
// Leaving when not joined is not an error. ctx bounds the call.
func (p *Party) Leave(ctx context.Context) error { return p.m.leave(ctx) }

// Node returns the path of this member's node (whether or not it exists).
func (p *Party) Node() string { return p.m.node }

// Members returns the identifiers of the party's members, ordered by their
// node names. A missing party path means no members.
func (p *Party) Members(ctx context.Context) ([]string, error) {
	kids, err := p.children(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(kids))
	for _, k := range kids {
		data, _, err := p.m.c.Get(ctx, keeper.JoinPath(p.m.path, k))
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			continue // left meanwhile
		case err != nil:
			return nil, fmt.Errorf("party: members of %s: %w", p.m.path, err)
		}
		ids = append(ids, string(data))
	}
	return ids, nil
}

// Len returns the number of members.
func (p *Party) Len(ctx context.Context) (int, error) {
	kids, err := p.children(ctx)
	return len(kids), err
}

// children returns the sorted names of the member nodes.
func (p *Party) children(ctx context.Context) ([]string, error) {
	kids, err := p.m.children(ctx)
	if err != nil {
		return nil, err
	}
	kids = slices.DeleteFunc(kids, func(k string) bool { return !strings.Contains(k, partyMark) })
	slices.Sort(kids)
	return kids, nil
}

// ShallowParty is a group of processes whose identifiers are part of the
// node names, "<path>/<uuid hex>-<identifier>" (the data holds the
// identifier too), as Kazoo's ShallowParty: listing the members costs one
// call. Every child of path counts as a member. Create one with NewShallow.
// Its methods are safe for concurrent use.
type ShallowParty struct {
	m member
}

// NewShallow returns a ShallowParty at path for client c. identifier must be
// usable in a znode name (no '/'); Join reports one that is not.
func NewShallow(c *keeper.Client, path, identifier string) *ShallowParty {
	p := &ShallowParty{}
	p.m.init(c, path, node.UUIDHex()+"-"+identifier, identifier)
	if strings.Contains(identifier, "/") {
		p.m.bad = fmt.Errorf("party: identifier %q contains '/': %w", identifier, keeper.ErrInvalidPath)
	}
	return p
}

// Join makes this process a member, as Party.Join does.
func (p *ShallowParty) Join(ctx context.Context) error { return p.m.join(ctx) }

// Leave deletes this member's node, as Party.Leave does.
func (p *ShallowParty) Leave(ctx context.Context) error { return p.m.leave(ctx) }

// Node returns the path of this member's node (whether or not it exists).
func (p *ShallowParty) Node() string { return p.m.node }

// Members returns the identifiers of the members (the text after the first
// '-' of each child's name), ordered by node name. A missing party path means
// no members.
func (p *ShallowParty) Members(ctx context.Context) ([]string, error) {
	kids, err := p.m.children(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(kids)
	ids := make([]string, len(kids))
	for i, k := range kids {
		if _, after, ok := strings.Cut(k, "-"); ok {
			k = after
		}
		ids[i] = k
	}
	return ids, nil
}

// Len returns the number of members (children of the party's path).
func (p *ShallowParty) Len(ctx context.Context) (int, error) {
	kids, err := p.m.children(ctx)
	return len(kids), err
}

// member is what both kinds of party share: one ephemeral node, kept while
// joined.
type member struct {
	c    *keeper.Client
	path string
	node string // full path of our node
	data []byte
	bad  error // a bad identifier, reported by join

	mu     sync.Mutex // held while the node is created or deleted
	joined bool
	stop   func() // ends the state listener while joined
}

func (m *member) init(c *keeper.Client, path, name, identifier string) {
	m.c, m.path, m.data = c, path, []byte(identifier)
	m.node = keeper.JoinPath(path, name)
}

func (m *member) join(ctx context.Context) error {
	if m.bad != nil {
		return m.bad
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	fresh := !m.joined
	if fresh {
		// Listen before creating, so that a session change that happens
		// meanwhile is seen.
		m.joined = true
		m.stop = m.c.Listen(m.onState)
	}
	if err := m.ensure(ctx); err != nil {
		if fresh {
			m.joined = false
			m.stop()
			m.cleanup(ctx)
		}
		return fmt.Errorf("party: join %s: %w", m.path, err)
	}
	return nil
}

func (m *member) leave(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.joined {
		m.joined = false
		m.stop()
	}
	if err := node.DeleteOwn(ctx, m.c, m.node); err != nil {
		return fmt.Errorf("party: leave %s: %w", m.path, err)
	}
	return nil
}

// onState joins again after a reconnect or on a new session, when the
// node is gone or belongs to an earlier session.
func (m *member) onState(ev keeper.StateEvent) {
	if ev.State != keeper.Connected {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.joined {
		return
	}
	// Bounded: the listener must not hang when no server answers; the
	// next Connected event tries again.
	ctx, cancel := context.WithTimeout(context.Background(), 2*m.c.SessionTimeout())
	defer cancel()
	_ = m.ensure(ctx)
}

// ensure makes our node exist and belong to the current session, creating
// the party's path first when it is missing. The name is ours alone, so a
// create whose reply was lost is found by it.
func (m *member) ensure(ctx context.Context) error {
	return node.Retry(ctx, func(ctx context.Context) error {
		_, err := m.c.Create(ctx, m.node, m.data, keeper.Ephemeral())
		switch {
		case err == nil:
			return nil
		case errors.Is(err, keeper.ErrNoNode): // no party path yet
			if err := m.c.EnsurePath(ctx, m.path); err != nil {
				return err
			}
			return node.ErrAgain
		case !errors.Is(err, keeper.ErrNodeExists):
			return err
		}
		st, err := m.c.Exists(ctx, m.node)
		switch {
		case err != nil:
			return err
		case st == nil:
			return node.ErrAgain // deleted meanwhile
		case st.EphemeralOwner == m.c.SessionID():
			return nil
		}
		// Left by an earlier session of ours that the server has not
		// removed yet: replace it, so that the member lives as long as
		// the current session.
		err = m.c.Delete(ctx, m.node, st.Version)
		if err != nil && !errors.Is(err, keeper.ErrNoNode) && !errors.Is(err, keeper.ErrBadVersion) {
			return err
		}
		return node.ErrAgain
	})
}

// cleanup deletes our node after a failed join, whose create may have
// succeeded, with a fresh bounded context.
func (m *member) cleanup(ctx context.Context) {
	_ = node.Cleanup(ctx, m.c, func(cctx context.Context) error { return node.DeleteOwn(cctx, m.c, m.node) })
}

// children lists the party's path; a missing path has no children.
func (m *member) children(ctx context.Context) ([]string, error) {
	kids, err := m.c.Children(ctx, m.path)
	switch {
	case errors.Is(err, keeper.ErrNoNode):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("party: list %s: %w", m.path, err)
	}
	return kids, nil
}
