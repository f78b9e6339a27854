package discovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
	"github.com/keeper-go/keeper/recipe/persistent"
)

// ErrNotRegistered reports an Update or Unregister of an instance id that
// this Discovery did not register.
var ErrNotRegistered = errors.New("discovery: instance not registered here")

// ErrClosed is returned by a Discovery's calls after Close.
var ErrClosed = errors.New("discovery: closed")

// Option configures a Discovery.
type Option func(*config)

type config struct {
	class   string
	enabled bool
}

// WithPayloadClass makes written payloads carry Java's type tag: a payload
// that is a JSON object gets "@class": class as its first member, as
// Jackson writes it, so that a Java reader whose JsonInstanceSerializer
// was made for that class (a name as Class.getName gives it, such as
// "com.example.Details" or "Outer$Details") can load it. By default no tag
// is written: Java then reads an object payload as a Map (right for a
// reader made for Map.class or Object.class) and a string, number or
// boolean as itself.
func WithPayloadClass(class string) Option { return func(c *config) { c.class = class } }

// WithEnabledField writes the "enabled" field on every instance, as
// Curator's JsonInstanceSerializer does with compatibleSerializationMode
// false. By default it is written only for disabled instances (Curator's
// default compatible mode never writes it; CURATOR-275).
func WithEnabledField() Option { return func(c *config) { c.enabled = true } }

// Discovery registers and finds service instances under a base path, in
// the layout of Curator's curator-x-discovery: <basePath>/<name>/<id>,
// holding the instance's JSON. T is the payload type (json.RawMessage for
// raw JSON). Create one with New.
//
// Each registered instance is kept by a persistent.Node: it is created
// again when it is deleted or after a new session (an ephemeral node left
// by our earlier session is deleted and created again), and checked after
// every reconnect, not deleted and re-created on every reconnect as
// Curator does (whose re-registration loops are CURATOR-320).
//
// All methods are safe for concurrent use.
type Discovery[T any] struct {
	c    *keeper.Client
	base string
	ser  serializer

	mu     sync.Mutex
	regs   map[string]*registration[T] // by instance id
	closed bool
}

type registration[T any] struct {
	inst Instance[T]
	n    *persistent.Node
}

// New returns a Discovery for basePath. It makes no call. It fails for a
// nil client or a bad path.
func New[T any](c *keeper.Client, basePath string, opts ...Option) (*Discovery[T], error) {
	if c == nil {
		return nil, errors.New("discovery: nil client")
	}
	if err := keeper.ValidatePath(basePath); err != nil {
		return nil, fmt.Errorf("discovery: base path: %w", err)
	}
	var cfg config
	node.ApplyOptions(&cfg, opts)
	return &Discovery[T]{c: c, base: basePath, ser: serializer{class: cfg.class, enabled: cfg.enabled},
		regs: map[string]*registration[T]{}}, nil
}

// BasePath returns the base path.
func (d *Discovery[T]) BasePath() string { return d.base }

func checkName(what, s string) error {
	if s == "" || s == "." || s == ".." || strings.Contains(s, "/") {
		return fmt.Errorf("discovery: %w: %s %q must be one path element", keeper.ErrInvalidPath, what, s)
	}
	return nil
}

// PathFor returns the node path of an instance: <basePath>/<name>/<id>.
func (d *Discovery[T]) PathFor(name, id string) string {
	return keeper.JoinPath(keeper.JoinPath(d.base, name), id)
}

// Marshal returns the JSON that Register writes for inst.
func (d *Discovery[T]) Marshal(inst Instance[T]) ([]byte, error) { return marshal(d.ser, inst) }

// Unmarshal reads instance JSON as Curator writes it; malformed data gives
// an error matching ErrBadInstance.
func (d *Discovery[T]) Unmarshal(data []byte) (Instance[T], error) { return unmarshal[T](data) }

// Register registers inst and waits (bounded by ctx) until its node
// exists. An instance with an empty ServiceType is Dynamic, one without a
// RegistrationTimeUTC gets the current time. A node of another session
// already at the instance's path (a restarted process whose old session
// has not expired yet) is deleted first, as Curator does; after that the
// registration never takes the path over again. Registering an id that is
// registered already updates it. When ctx ends first, nothing stays
// registered.
func (d *Discovery[T]) Register(ctx context.Context, inst Instance[T]) error {
	if err := checkName("service name", inst.Name); err != nil {
		return err
	}
	if err := checkName("instance id", inst.ID); err != nil {
		return err
	}
	if inst.ServiceType == "" {
		inst.ServiceType = Dynamic
	}
	if !inst.ServiceType.valid() {
		return fmt.Errorf("discovery: register %s: %w: unknown service type %q", inst.ID, keeper.ErrBadArguments, inst.ServiceType)
	}
	if inst.RegistrationTimeUTC == 0 {
		inst.RegistrationTimeUTC = time.Now().UnixMilli()
	}
	data, err := marshal(d.ser, inst)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	if r := d.regs[inst.ID]; r != nil {
		d.mu.Unlock()
		return d.Update(ctx, inst)
	}
	d.mu.Unlock()

	path := d.PathFor(inst.Name, inst.ID)
	var opts []persistent.Option
	switch inst.ServiceType {
	case Dynamic:
		opts = append(opts, persistent.Ephemeral())
	case DynamicSequential:
		opts = append(opts, persistent.Ephemeral(), persistent.Sequential())
	case Permanent:
		opts = append(opts, persistent.KeepOnClose())
	}
	if inst.ServiceType != DynamicSequential {
		if err := d.clearStale(ctx, path, inst.ServiceType.IsDynamic()); err != nil {
			return fmt.Errorf("discovery: register %s: %w", path, err)
		}
	}
	n, err := persistent.NewNode(d.c, path, data, opts...)
	if err != nil {
		return fmt.Errorf("discovery: register: %w", err)
	}
	if err := n.WaitForInitialCreate(ctx); err != nil {
		_ = n.Close(ctx)
		return fmt.Errorf("discovery: register %s: %w", path, err)
	}
	d.mu.Lock()
	closed, taken := d.closed, d.regs[inst.ID] != nil
	if !closed && !taken {
		d.regs[inst.ID] = &registration[T]{inst: inst, n: n}
	}
	d.mu.Unlock()
	switch {
	case closed:
		_ = n.Close(ctx)
		return ErrClosed
	case taken:
		// Registered by a concurrent call meanwhile: that one stays.
		return fmt.Errorf("discovery: register %s: %w: registered concurrently", inst.ID, keeper.ErrNodeExists)
	}
	return nil
}

// clearStale deletes a node at path that another session owns (for a
// dynamic instance) or that is ephemeral (for a static one).
func (d *Discovery[T]) clearStale(ctx context.Context, path string, dynamic bool) error {
	st, err := d.c.Exists(ctx, path)
	if err != nil || st == nil {
		return err
	}
	if dynamic && st.EphemeralOwner == d.c.SessionID() || !dynamic && st.EphemeralOwner == 0 {
		return nil // ours, or a persistent one to adopt
	}
	err = d.c.Delete(ctx, path, st.Version)
	if errors.Is(err, keeper.ErrNoNode) || errors.Is(err, keeper.ErrBadVersion) {
		return nil
	}
	return err
}

// Update replaces the data of an instance registered by this Discovery
// (same ID) and waits until the server has it.
func (d *Discovery[T]) Update(ctx context.Context, inst Instance[T]) error {
	d.mu.Lock()
	r := d.regs[inst.ID]
	d.mu.Unlock()
	if r == nil {
		return fmt.Errorf("%w: %s", ErrNotRegistered, inst.ID)
	}
	if inst.Name != r.inst.Name {
		return fmt.Errorf("discovery: update %s: %w: the service name %q differs from the registered %q",
			inst.ID, keeper.ErrBadArguments, inst.Name, r.inst.Name)
	}
	if inst.ServiceType == "" {
		inst.ServiceType = r.inst.ServiceType
	}
	if inst.RegistrationTimeUTC == 0 {
		inst.RegistrationTimeUTC = r.inst.RegistrationTimeUTC
	}
	data, err := marshal(d.ser, inst)
	if err != nil {
		return err
	}
	if err := r.n.SetData(ctx, data); err != nil {
		return fmt.Errorf("discovery: update %s: %w", inst.ID, err)
	}
	d.mu.Lock()
	r.inst = inst
	d.mu.Unlock()
	return nil
}

// Unregister removes the instance with the given id that this Discovery
// registered, deleting its node (a guaranteed delete: see
// persistent.Node.Close).
func (d *Discovery[T]) Unregister(ctx context.Context, id string) error {
	d.mu.Lock()
	r := d.regs[id]
	delete(d.regs, id)
	d.mu.Unlock()
	if r == nil {
		return fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	return r.n.Close(ctx)
}

// Registered returns the instances this Discovery keeps registered,
// sorted by id.
func (d *Discovery[T]) Registered() []Instance[T] {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Instance[T], 0, len(d.regs))
	for _, r := range d.regs {
		out = append(out, r.inst)
	}
	slices.SortFunc(out, func(a, b Instance[T]) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// RegisteredPath returns the node path of a registered instance (with the
// sequence suffix for DynamicSequential), or "" when id is not registered
// here.
func (d *Discovery[T]) RegisteredPath(id string) string {
	d.mu.Lock()
	r := d.regs[id]
	d.mu.Unlock()
	if r == nil {
		return ""
	}
	return r.n.ActualPath()
}

// QueryForNames returns the names of the registered services, sorted (none
// when the base path does not exist).
func (d *Discovery[T]) QueryForNames(ctx context.Context) ([]string, error) {
	kids, err := d.c.Children(ctx, d.base)
	if errors.Is(err, keeper.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: query names: %w", err)
	}
	slices.Sort(kids)
	return kids, nil
}

// QueryForInstances returns the instances of the service, sorted by node
// name. Instances whose data cannot be read as an instance are left out,
// and the error (matching ErrBadInstance) names each of them; the others
// are still returned.
func (d *Discovery[T]) QueryForInstances(ctx context.Context, name string) ([]Instance[T], error) {
	if err := checkName("service name", name); err != nil {
		return nil, err
	}
	dir := keeper.JoinPath(d.base, name)
	kids, err := d.c.Children(ctx, dir)
	if errors.Is(err, keeper.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: query %s: %w", name, err)
	}
	slices.Sort(kids)
	var out []Instance[T]
	var bad []error
	for _, k := range kids {
		inst, ok, err := d.read(ctx, keeper.JoinPath(dir, k))
		switch {
		case errors.Is(err, ErrBadInstance):
			bad = append(bad, err)
		case err != nil:
			return nil, fmt.Errorf("discovery: query %s: %w", name, err)
		case ok:
			out = append(out, inst)
		}
	}
	return out, errors.Join(bad...)
}

// QueryForInstance returns the instance of the service with the given id;
// ok is false when there is none.
func (d *Discovery[T]) QueryForInstance(ctx context.Context, name, id string) (inst Instance[T], ok bool, err error) {
	if err := checkName("service name", name); err != nil {
		return inst, false, err
	}
	if err := checkName("instance id", id); err != nil {
		return inst, false, err
	}
	return d.read(ctx, d.PathFor(name, id))
}

func (d *Discovery[T]) read(ctx context.Context, path string) (Instance[T], bool, error) {
	var inst Instance[T]
	data, _, err := d.c.Get(ctx, path)
	if errors.Is(err, keeper.ErrNoNode) {
		return inst, false, nil
	}
	if err != nil {
		return inst, false, err
	}
	inst, err = unmarshal[T](data)
	if err != nil {
		return inst, false, fmt.Errorf("%s: %w", path, err)
	}
	return inst, true, nil
}

// Close unregisters every instance this Discovery registered, except
// Permanent ones, which stay (their nodes are no longer kept present).
// Deletes that cannot be done within ctx go on in the background (see
// persistent.Node.Close); the first error is returned. Caches and
// providers made from the Discovery are closed by their own Close.
func (d *Discovery[T]) Close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	regs := d.regs
	d.regs = map[string]*registration[T]{}
	d.mu.Unlock()
	var first error
	for _, r := range regs {
		if err := r.n.Close(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}
