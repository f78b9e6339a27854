package persistent

import (
	"context"
	"errors"
	"fmt"
	"math"
	zpath "path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrTTLUnsupported is the error a TTL node ends with when the server
// refuses TTL nodes: ZooKeeper creates them only when started with
// zookeeper.extendedTypesEnabled=true (extendedTypesEnabled in zoo.cfg).
var ErrTTLUnsupported = errors.New("persistent: the server refuses TTL nodes: it must run with zookeeper.extendedTypesEnabled=true")

// ErrClosed is the reason a Node gives (Err) after Close.
var ErrClosed = errors.New("persistent: closed")

// Option configures a Node's create mode.
type Option func(*config)

type config struct {
	ephemeral, sequential, container, protected bool
	ttl                                         time.Duration
	acl                                         []keeper.ACL
	errs                                        []string
	keep                                        bool // Close leaves the node
}

// Ephemeral makes the node ephemeral: it lives as long as the client's
// session, and the Node creates it again in each new session.
func Ephemeral() Option { return func(c *config) { c.ephemeral = true } }

// Sequential makes the server append its 10-digit counter to the name at
// the first create. Later re-creates reuse that exact name, as Curator's
// PersistentNode does.
func Sequential() Option { return func(c *config) { c.sequential = true } }

// Container makes the node a container, which the server deletes once its
// last child is gone (the Node then creates it again).
func Container() Option { return func(c *config) { c.container = true } }

// TTL makes the node a persistent TTL node that the server deletes when it
// has not been modified for d and has no children (the Node then creates
// it again). The server must have extendedTypesEnabled; otherwise the Node
// ends with ErrTTLUnsupported. d is at least 1ms.
func TTL(d time.Duration) Option {
	return func(c *config) {
		if d < time.Millisecond {
			c.errs = append(c.errs, fmt.Sprintf("TTL(%v): must be at least 1ms", d))
		}
		c.ttl = d
	}
}

// Protected names the node "_c_<uuid>-<name>", as Curator's withProtection
// does, so that a create whose reply was lost is found again instead of
// leaving a second node behind. It matters most for sequential nodes,
// whose name the client cannot guess.
func Protected() Option { return func(c *config) { c.protected = true } }

// WithACL sets the node's ACL instead of the client's default ACL.
func WithACL(acl ...keeper.ACL) Option {
	return func(c *config) {
		if len(acl) == 0 {
			c.errs = append(c.errs, "WithACL needs at least one entry")
		}
		c.acl = acl
	}
}

// KeepOnClose makes Close stop keeping the node present without deleting
// it (a registration meant to outlive the process, say).
func KeepOnClose() Option { return func(c *config) { c.keep = true } }

func (c *config) validate() error {
	switch {
	case len(c.errs) > 0:
		return fmt.Errorf("%w: %s", keeper.ErrBadArguments, strings.Join(c.errs, "; "))
	case c.container && (c.ephemeral || c.sequential || c.ttl > 0):
		return fmt.Errorf("%w: Container cannot be combined with Ephemeral, Sequential or TTL", keeper.ErrBadArguments)
	case c.ttl > 0 && c.ephemeral:
		return fmt.Errorf("%w: TTL cannot be combined with Ephemeral", keeper.ErrBadArguments)
	}
	return nil
}

// createOpts returns the create options; sequential only for the first
// create.
func (c *config) createOpts(sequential bool, st *keeper.Stat) []keeper.CreateOption {
	var o []keeper.CreateOption
	switch {
	case c.container:
		o = append(o, keeper.Container())
	case c.ttl > 0:
		o = append(o, keeper.TTL(c.ttl))
	case c.ephemeral:
		o = append(o, keeper.Ephemeral())
	}
	if sequential {
		o = append(o, keeper.Sequential())
	}
	if len(c.acl) > 0 {
		o = append(o, keeper.WithACL(c.acl...))
	}
	if st != nil {
		o = append(o, keeper.StoreStat(st))
	}
	return o
}

// EventType is the kind of a Node Event.
type EventType int

// Event types.
const (
	// Created: the Node created its node (Path), at first or again after
	// it was deleted or the session changed.
	Created EventType = iota + 1
	// Adopted: the Node found its node already there (a create whose
	// reply was lost, or a node of this session) and set its data on it.
	Adopted
	// Waiting: the path is held by a node that is not the Node's (an
	// ephemeral node of another live session, or a node of the other
	// kind); the Node creates its own once that one is gone. Err says
	// whose node it is.
	Waiting
)

// String returns the type's name.
func (t EventType) String() string {
	switch t {
	case Created:
		return "Created"
	case Adopted:
		return "Adopted"
	case Waiting:
		return "Waiting"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event reports that the node was (re)created or adopted, or that the Node
// waits for a node that is not its own.
type Event struct {
	Type EventType
	// Path is the node's actual path (relative to the client's chroot).
	Path string
	// Session is the session that owns the node (0 for a persistent one).
	Session int64
	// Err explains a Waiting event.
	Err error
}

// Node is a node that stays present, as Curator's PersistentNode: it is
// created in the background and created again whenever it is deleted,
// whenever the client gets a new session (for an ephemeral node), and
// checked after every reconnect. Create it with NewNode.
//
// A node already at the path is adopted, and our data set on it, when it
// is ours: a persistent node (CURATOR-154), or an ephemeral node of the
// client's current session. An ephemeral node owned by a session this Node
// had before (a dead session whose node the server has not reaped yet) is
// deleted and created again at once; one owned by any other session is
// left alone, and the Node creates its own once it is gone (a Waiting
// event says so). Curator instead adopts another session's node and
// overwrites its data.
//
// A sequential node gets its sequence at the first create; later
// re-creates use the same name. Without Protected, a lost reply to that
// first create may leave an orphan node behind (as with Curator): use
// Protected for sequential nodes.
//
// All methods are safe for concurrent use.
type Node struct {
	c    *keeper.Client
	base string
	cfg  config
	uuid string // for Protected

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	events *node.Events[Event]
	wake   chan struct{} // 1-buffered

	mu       sync.Mutex
	data     []byte
	dataGen  uint64 // bumped by SetData
	applied  uint64 // the dataGen the server has
	path     string // actual path; "" until the first create
	owner    int64  // session owning the node, for ephemerals
	sessions []int64
	recheck  bool          // a state event asked for a check
	created  chan struct{} // closed at the first create
	isCreate bool
	changed  chan struct{} // closed and replaced on every change
	err      error         // why the Node ended
	ended    chan struct{}
	closing  bool
	watch    <-chan keeper.Event // the exists watch left when run ended
	watched  string
}

// NewNode starts a Node at path with data, persistent unless opts say
// otherwise (Ephemeral, Sequential, Container, TTL, Protected, WithACL).
// Missing parents are created as container nodes, as Curator does. The
// Node works in the background from now on: WaitForInitialCreate waits for
// the first create, Close deletes the node. It fails for a nil client, a
// bad path or bad options.
func NewNode(c *keeper.Client, path string, data []byte, opts ...Option) (*Node, error) {
	var cfg config
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return newNode(c, path, data, cfg)
}

func newNode(c *keeper.Client, path string, data []byte, cfg config) (*Node, error) {
	if c == nil {
		return nil, errors.New("persistent: nil client")
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("persistent: node %s: %w", path, err)
	}
	if err := keeper.ValidatePath(path); err != nil || path == "/" {
		if err == nil {
			err = fmt.Errorf("%w: the root cannot be a persistent node", keeper.ErrInvalidPath)
		}
		return nil, fmt.Errorf("persistent: node %q: %w", path, err)
	}
	n := &Node{
		c:       c,
		base:    path,
		cfg:     cfg,
		uuid:    node.UUID(),
		events:  node.NewEvents[Event](),
		wake:    make(chan struct{}, 1),
		data:    slices.Clone(data),
		created: make(chan struct{}),
		changed: make(chan struct{}),
		ended:   make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	stop := c.Listen(n.state)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer stop()
		n.run()
		n.mu.Lock()
		closing := n.closing
		n.mu.Unlock()
		if !closing {
			n.end(keeper.ErrClosed) // the client was closed
		}
	}()
	return n, nil
}

// Events returns the Node's events (Created, Adopted, Waiting), in order,
// through an unbounded queue. The channel is closed when the Node ends
// (Close, the client closed, or a permanent error: see Err).
func (n *Node) Events() <-chan Event { return n.events.C() }

// ActualPath returns the node's path (with the sequence suffix and the
// protection prefix, when it has them), or "" before the first create.
func (n *Node) ActualPath() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.path
}

// Data returns a copy of the data the Node keeps on its node.
func (n *Node) Data() []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.data)
}

// Err returns why the Node ended: ErrClosed after Close, keeper.ErrClosed
// when the client was closed, or a permanent error (ErrTTLUnsupported,
// keeper.ErrNoAuth, ...). It is nil while the Node runs.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// Done is closed when the Node has ended (see Err).
func (n *Node) Done() <-chan struct{} { return n.ended }

// WaitForInitialCreate waits until the node has been created (or adopted)
// for the first time, the Node ends (its error is returned) or ctx ends.
func (n *Node) WaitForInitialCreate(ctx context.Context) error {
	select {
	case <-n.created:
		return nil
	default:
	}
	select {
	case <-n.created:
		return nil
	case <-n.ended:
		select {
		case <-n.created:
			return nil
		default:
		}
		return fmt.Errorf("persistent: node %s: %w", n.base, n.Err())
	case <-ctx.Done():
		return fmt.Errorf("persistent: wait for node %s: %w", n.base, context.Cause(ctx))
	}
}

// SetData replaces the node's data and waits until the server has it, the
// Node ends or ctx ends. When ctx ends first, the Node still writes the
// data (and uses it for every re-create). Unlike Curator, SetData may be
// called before the first create: the node is then created with the data.
func (n *Node) SetData(ctx context.Context, data []byte) error {
	n.mu.Lock()
	if n.err != nil {
		err := n.err
		n.mu.Unlock()
		return fmt.Errorf("persistent: set %s: %w", n.base, err)
	}
	n.data = slices.Clone(data)
	n.dataGen++
	gen := n.dataGen
	n.mu.Unlock()
	n.poke()
	for {
		n.mu.Lock()
		done, err, ch := n.applied >= gen, n.err, n.changed
		n.mu.Unlock()
		switch {
		case done:
			return nil
		case err != nil:
			return fmt.Errorf("persistent: set %s: %w", n.base, err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("persistent: set %s: %w", n.base, context.Cause(ctx))
		}
	}
}

// Close stops the Node and deletes its node (unless KeepOnClose was given;
// Curator's guaranteed delete):
// when the delete cannot be done within ctx (no connection, ctx ended), it
// is retried in the background for as long as it can matter, until the
// session that owns an ephemeral node ends or, for other nodes, until the
// client is closed; the error then says so. Close is idempotent; later
// calls return nil.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		return nil
	}
	n.closing = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
	n.end(ErrClosed)
	var err error
	if !n.cfg.keep {
		err = n.deleteGuaranteed(ctx)
	}
	// The exists watch fired if we deleted the node; otherwise (a kept
	// node, another session's node we waited for) take it off the server.
	// A delete still going on in the background fires it later.
	n.mu.Lock()
	watch, watched := n.watch, n.watched
	n.mu.Unlock()
	if watch != nil && err == nil {
		select {
		case <-watch:
		default:
			node.DropWatch(ctx, n.c, watched, keeper.WatchData, watch)
		}
	}
	return err
}

// end records why the Node ended, once, and closes its channels.
func (n *Node) end(err error) {
	n.mu.Lock()
	if n.err != nil {
		n.mu.Unlock()
		return
	}
	n.err = err
	close(n.ended)
	n.broadcastLocked()
	n.mu.Unlock()
	n.events.Close()
}

func (n *Node) broadcastLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

func (n *Node) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// state handles a client state event on the Node's listener goroutine.
func (n *Node) state(ev keeper.StateEvent) {
	switch ev.State {
	case keeper.Connected, keeper.ConnectedReadOnly:
		n.mu.Lock()
		n.recheck = true
		n.mu.Unlock()
		n.poke()
	case keeper.Closed:
		n.cancel()
	}
}

// errWaiting: the path holds a node that is not ours.
var errWaiting = errors.New("persistent: waiting")

// run keeps the node present until Close or a permanent error.
func (n *Node) run() {
	var watch <-chan keeper.Event // the exists watch on the node, once set
	var watched string            // its path
	defer func() {
		n.mu.Lock()
		n.watch, n.watched = watch, watched
		n.mu.Unlock()
	}()
	check := true    // ensure the node before watching
	waiting := false // the path holds a node that is not ours
	var b node.Backoff
	backoff := func() { _ = b.Sleep(n.ctx) }
	for n.ctx.Err() == nil {
		if check {
			err := n.ensure(n.ctx)
			switch {
			case n.ctx.Err() != nil:
			case errors.Is(err, errWaiting):
				waiting, check = true, false
			case err != nil && permanent(err):
				n.end(err)
				return
			case err != nil:
				backoff()
			default:
				waiting, check = false, false
				b.Reset()
			}
			continue
		}
		if waiting {
			// Not our node: our data waits for our own.
		} else if err := n.pushData(n.ctx); err != nil {
			switch {
			case n.ctx.Err() != nil:
			case permanent(err):
				n.end(err)
				return
			case errors.Is(err, keeper.ErrNoNode):
				check = true
			default:
				backoff()
			}
			continue
		}
		if watch == nil {
			target := n.target()
			st, ch, err := n.c.ExistsW(n.ctx, target)
			switch {
			case n.ctx.Err() != nil:
				continue
			case permanent(err):
				n.end(err)
				return
			case err != nil:
				check = true
				backoff()
				continue
			}
			watch, watched = ch, target
			if st == nil || (!waiting && !n.owns(st)) || (waiting && n.adoptable(st)) {
				check = true
				continue
			}
		}
		select {
		case ev := <-watch:
			watch = nil
			if ev.Type != keeper.EventNodeDataChanged {
				check = true
			}
		case <-n.wake:
			n.mu.Lock()
			if n.recheck {
				n.recheck = false
				check = true
			}
			n.mu.Unlock()
		case <-n.ctx.Done():
		}
	}
}

// target returns the path to watch: the node's, or the base path before
// the first create.
func (n *Node) target() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.path != "" {
		return n.path
	}
	if n.cfg.protected {
		return keeper.JoinPath(zpath.Dir(n.base), n.prefix())
	}
	return n.base
}

// prefix returns the protected name ("_c_<uuid>-<name>").
func (n *Node) prefix() string { return "_c_" + n.uuid + "-" + zpath.Base(n.base) }

// owns reports whether st is the Stat of a node this Node may keep.
func (n *Node) owns(st *keeper.Stat) bool {
	if n.cfg.ephemeral {
		return st.EphemeralOwner == n.c.SessionID()
	}
	return notEphemeral(st.EphemeralOwner)
}

// notEphemeral reports whether a Stat's ephemeralOwner is that of a node
// no session owns: 0 for a persistent node, the server's markers for
// container (Long.MIN_VALUE) and TTL nodes (top byte 0xff, the TTL below).
func notEphemeral(owner int64) bool {
	return owner == 0 || owner == math.MinInt64 || uint64(owner)>>56 == 0xff
}

// adoptable reports whether a node found at the path is ours to adopt or
// to replace (so that a Waiting Node should act on it).
func (n *Node) adoptable(st *keeper.Stat) bool {
	return n.owns(st) || n.deadOwner(st.EphemeralOwner)
}

// deadOwner reports whether session is one this Node had before the
// client's current one.
func (n *Node) deadOwner(session int64) bool {
	if notEphemeral(session) || session == n.c.SessionID() {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Contains(n.sessions, session)
}

func (n *Node) noteSession(s int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s != 0 && !slices.Contains(n.sessions, s) {
		n.sessions = append(n.sessions, s)
	}
}

// ensure makes the node exist and be ours: it creates it, adopts it, or
// deletes a dead session's node and creates it again. It returns
// errWaiting when a node that is not ours holds the path.
func (n *Node) ensure(ctx context.Context) error {
	if err := n.c.WaitConnected(ctx); err != nil {
		return err
	}
	n.noteSession(n.c.SessionID())
	n.mu.Lock()
	path, data, gen := n.path, slices.Clone(n.data), n.dataGen
	n.mu.Unlock()
	if path != "" {
		// Checked again after a reconnect: nothing to do when it is ours.
		st, err := n.c.Exists(ctx, path)
		if err != nil {
			return err
		}
		if st != nil && n.owns(st) {
			if n.cfg.ephemeral {
				n.mu.Lock()
				n.owner = st.EphemeralOwner
				n.mu.Unlock()
			}
			return nil
		}
	}
	if path == "" && n.cfg.sequential {
		return n.firstSequential(ctx, data, gen)
	}
	if path == "" {
		path = n.base
		if n.cfg.protected {
			// A non-sequential protected name is known in advance.
			path = keeper.JoinPath(zpath.Dir(n.base), n.prefix())
		}
	}
	for {
		var st keeper.Stat
		p, err := n.c.Create(ctx, path, data, n.cfg.createOpts(false, &st)...)
		switch {
		case err == nil:
			n.createdNode(p, &st, gen, Created)
			return nil
		case errors.Is(err, keeper.ErrNoNode):
			if err := makeDirs(ctx, n.c, zpath.Dir(path)); err != nil {
				return err
			}
			continue
		case errors.Is(err, keeper.ErrNodeExists):
		default:
			return n.mapErr(err)
		}
		// Something is there: ours, a dead session's, or someone else's.
		st2, err := n.c.Exists(ctx, path)
		switch {
		case err != nil:
			return err
		case st2 == nil:
			continue // gone meanwhile: create it
		case n.owns(st2):
			// Ours (a lost reply, or a persistent node): set our data.
			if _, err := n.c.Set(ctx, path, data, keeper.AnyVersion); err != nil {
				if errors.Is(err, keeper.ErrNoNode) {
					continue
				}
				return err
			}
			n.createdNode(path, st2, gen, Adopted)
			return nil
		case n.deadOwner(st2.EphemeralOwner):
			err := n.c.Delete(ctx, path, st2.Version)
			if err != nil && !errors.Is(err, keeper.ErrNoNode) && !errors.Is(err, keeper.ErrBadVersion) {
				return err
			}
			continue
		default:
			// (target() gives the same path to watch, as it is known.)
			owner := st2.EphemeralOwner
			if notEphemeral(owner) {
				owner = 0
			}
			n.events.Push(Event{Type: Waiting, Path: path, Session: owner, Err: n.foreign(path, st2)})
			return errWaiting
		}
	}
}

func (n *Node) foreign(path string, st *keeper.Stat) error {
	switch {
	case notEphemeral(st.EphemeralOwner):
		return fmt.Errorf("persistent: %s is a persistent node, not an ephemeral one of this client", path)
	case !n.cfg.ephemeral:
		return fmt.Errorf("persistent: %s is an ephemeral node of session 0x%x, not a persistent one", path, st.EphemeralOwner)
	}
	return fmt.Errorf("persistent: %s is an ephemeral node of another session, 0x%x", path, st.EphemeralOwner)
}

// firstSequential makes the first create of a sequential node.
func (n *Node) firstSequential(ctx context.Context, data []byte, gen uint64) error {
	dir := zpath.Dir(n.base)
	var st keeper.Stat
	if n.cfg.protected {
		if err := makeDirs(ctx, n.c, dir); err != nil {
			return err
		}
		p, err := node.ProtectedCreateStat(ctx, n.c, dir, n.prefix(), data, &st, n.cfg.createOpts(true, nil)...)
		if err != nil {
			return n.mapErr(err)
		}
		n.createdNode(p, &st, gen, Created)
		return nil
	}
	for {
		p, err := n.c.Create(ctx, n.base, data, n.cfg.createOpts(true, &st)...)
		switch {
		case err == nil:
			n.createdNode(p, &st, gen, Created)
			return nil
		case errors.Is(err, keeper.ErrNoNode):
			if err := makeDirs(ctx, n.c, dir); err != nil {
				return err
			}
		default:
			return n.mapErr(err)
		}
	}
}

// createdNode records a created or adopted node and reports it.
func (n *Node) createdNode(path string, st *keeper.Stat, gen uint64, t EventType) {
	owner := st.EphemeralOwner
	if !n.cfg.ephemeral {
		owner = 0
	}
	n.mu.Lock()
	n.path = path
	n.owner = owner
	if gen > n.applied {
		n.applied = gen
	}
	if !n.isCreate {
		n.isCreate = true
		close(n.created)
	}
	n.broadcastLocked()
	n.mu.Unlock()
	n.events.Push(Event{Type: t, Path: path, Session: owner})
}

// pushData writes data set by SetData that the server does not have yet.
func (n *Node) pushData(ctx context.Context) error {
	n.mu.Lock()
	path, data, gen, applied := n.path, slices.Clone(n.data), n.dataGen, n.applied
	created := n.isCreate
	n.mu.Unlock()
	if gen == applied || !created {
		return nil
	}
	if _, err := n.c.Set(ctx, path, data, keeper.AnyVersion); err != nil {
		return err
	}
	n.mu.Lock()
	if gen > n.applied {
		n.applied = gen
	}
	n.broadcastLocked()
	n.mu.Unlock()
	return nil
}

// mapErr names the server's refusal of a TTL node.
func (n *Node) mapErr(err error) error {
	if n.cfg.ttl > 0 && errors.Is(err, keeper.ErrUnimplemented) {
		return fmt.Errorf("%w: %w", ErrTTLUnsupported, err)
	}
	return err
}

// permanent reports whether err will not go away by trying again: the
// toolkit's permanent errors, and the create's own (a bad ACL, an
// ephemeral parent, TTL nodes refused).
func permanent(err error) bool {
	return node.IsPermanent(err) || errors.Is(err, ErrTTLUnsupported) ||
		errors.Is(err, keeper.ErrInvalidACL) || errors.Is(err, keeper.ErrNoChildrenForEphemerals)
}

// deleteGuaranteed deletes the node after Close: within ctx, then in the
// background.
func (n *Node) deleteGuaranteed(ctx context.Context) error {
	n.mu.Lock()
	path, owner, created := n.path, n.owner, n.isCreate
	n.mu.Unlock()
	if !created {
		path, owner = "", 0
		if n.cfg.protected {
			// A first create may have been applied: find it by prefix.
			path = keeper.JoinPath(zpath.Dir(n.base), n.prefix())
		} else if !n.cfg.sequential {
			path = n.base
		}
		if path == "" {
			return nil
		}
		if n.cfg.ephemeral {
			owner = n.c.SessionID()
		}
	}
	if n.cfg.ephemeral && owner == 0 {
		owner = n.c.SessionID()
	}
	err := n.deleteOnce(ctx, path, owner, created)
	if err == nil || permanent(err) {
		if errors.Is(err, keeper.ErrClosed) {
			return nil // the client's close ended the session, or will
		}
		return err
	}
	// Keep trying in the background, bounded by the owning session (for
	// an ephemeral node) or by the client.
	bctx, cancel := context.WithCancel(context.Background())
	stop := n.c.Listen(func(ev keeper.StateEvent) {
		switch {
		case ev.State == keeper.Closed:
			cancel()
		case n.cfg.ephemeral && ev.State == keeper.Lost && (ev.SessionID == owner || ev.SessionID == 0):
			cancel()
		case n.cfg.ephemeral && ev.State == keeper.Connected && ev.SessionID != owner:
			cancel()
		}
	})
	if n.c.State() == keeper.Closed || (n.cfg.ephemeral && n.c.SessionID() != owner) {
		cancel()
	}
	go func() {
		defer stop()
		defer cancel()
		var b node.Backoff
		for {
			err := n.deleteOnce(bctx, path, owner, created)
			if err == nil || permanent(err) || bctx.Err() != nil || b.Sleep(bctx) != nil {
				return
			}
		}
	}()
	return fmt.Errorf("persistent: close %s: delete goes on in the background: %w", path, err)
}

// deleteOnce deletes the node at path (or, when the Node never learned its
// node, the protected child that starts with path's name) if it is ours.
func (n *Node) deleteOnce(ctx context.Context, path string, owner int64, known bool) error {
	if !known && n.cfg.protected {
		p, err := node.Find(ctx, n.c, zpath.Dir(path), zpath.Base(path))
		if err != nil {
			if errors.Is(err, keeper.ErrNoNode) {
				return nil
			}
			return err
		}
		if p == "" {
			return nil
		}
		path = p
	}
	st, err := n.c.Exists(ctx, path)
	switch {
	case err != nil:
		return err
	case st == nil:
		return nil
	case n.cfg.ephemeral && st.EphemeralOwner != owner:
		return nil // not ours (any more)
	case !n.cfg.ephemeral && !notEphemeral(st.EphemeralOwner):
		return nil
	}
	err = n.c.Delete(ctx, path, keeper.AnyVersion)
	if err == nil || errors.Is(err, keeper.ErrNoNode) {
		return nil
	}
	if errors.Is(err, keeper.ErrNotEmpty) {
		// A container or TTL parent with children: the server reaps it.
		return nil
	}
	return err
}

// makeDirs creates dir and its missing ancestors as container nodes (as
// Curator's creatingParentContainersIfNeeded; persistent ones on a server
// without containers).
func makeDirs(ctx context.Context, c *keeper.Client, dir string) error {
	if dir == "/" {
		return nil
	}
	for tries := 0; ; tries++ {
		_, err := c.Create(ctx, dir, nil, keeper.Container())
		if errors.Is(err, keeper.ErrUnimplemented) {
			_, err = c.Create(ctx, dir, nil)
		}
		switch {
		case err == nil, errors.Is(err, keeper.ErrNodeExists):
			return nil
		case errors.Is(err, keeper.ErrNoNode) && tries < 3:
			if err := makeDirs(ctx, c, zpath.Dir(dir)); err != nil {
				return err
			}
		default:
			return err
		}
	}
}
