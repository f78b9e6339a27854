package counter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/queue"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrNotStarted reports a SharedCount used before Start or after Close.
var ErrNotStarted = errors.New("counter: shared count not started")

// SharedCount is Curator's SharedCount: an int32 kept in one persistent
// node as 4 bytes, big-endian, with a local copy that a watch keeps up to
// date. Create one with NewSharedCount and call Start.
//
// The local copy only moves forward, by the node's modification zxid, as
// Curator's does, so a late read never replaces newer data; it is read
// again after every reconnect. Every move of the local copy is sent, in
// order, on the Changes channel, the handle's own writes included.
//
// Its methods are safe for concurrent use.
type SharedCount struct {
	c    *keeper.Client
	path string
	seed int32
	w    *writer

	mu      sync.Mutex
	count   int32
	version int32
	mzxid   int64
	started bool
	closed  bool
	err     error

	changes chan CountChange
	q       *queue.Queue[CountChange]
	kick    chan struct{}
	stop    func()
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// CountChange is a new value of a SharedCount: the count and the node's
// data version, which TrySetCount takes.
type CountChange struct {
	Count   int32
	Version int32
}

// NewSharedCount returns a SharedCount on the node at path, for client c;
// Start creates the node with the value seed unless it exists.
func NewSharedCount(c *keeper.Client, path string, seed int32) *SharedCount {
	return &SharedCount{
		c: c, path: path, seed: seed, w: newWriter(c, path),
		changes: make(chan CountChange), q: queue.New[CountChange](), kick: make(chan struct{}, 1),
	}
}

// Path returns the count's node.
func (s *SharedCount) Path() string { return s.path }

func encodeInt(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func decodeInt(path string, data []byte) (int32, error) {
	if len(data) != 4 {
		return 0, fmt.Errorf("%w: %s holds %d bytes, not 4: %x", ErrBadData, path, len(data), truncate(data))
	}
	return int32(binary.BigEndian.Uint32(data)), nil
}

// Start creates the node with the seed unless it exists (a second seed
// never overwrites), reads it and starts watching it. ctx bounds the
// first read only; the watch runs until Close.
func (s *SharedCount) Start(ctx context.Context) error {
	if err := keeper.ValidatePath(s.path); err != nil {
		return fmt.Errorf("counter: %w", err)
	}
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return fmt.Errorf("counter: start %s: already started", s.path)
	}
	s.mu.Unlock()
	data, st, err := read(ctx, s.c, s.path, encodeInt(s.seed))
	if err != nil {
		return fmt.Errorf("counter: start %s: %w", s.path, err)
	}
	v, err := decodeInt(s.path, data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return fmt.Errorf("counter: start %s: already started", s.path)
	}
	s.started = true
	s.count, s.version, s.mzxid = v, st.Version, st.Mzxid
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.stop = s.c.Listen(func(ev keeper.StateEvent) {
		if ev.State == keeper.Connected || ev.State == keeper.ConnectedReadOnly {
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	})
	s.wg.Add(2)
	go s.watch(wctx)
	go s.forward(wctx)
	return nil
}

// Count returns the local copy of the count.
func (s *SharedCount) Count() int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Version returns the node's data version that goes with Count.
func (s *SharedCount) Version() int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// Changes returns the channel on which every move of the local copy is
// sent, in order; the queue behind it is unbounded, so a slow reader
// delays only itself. Close closes the channel; Err then says why the
// watch ended (nil after Close).
func (s *SharedCount) Changes() <-chan CountChange { return s.changes }

// Err returns why the watch ended early (the client was closed), or nil.
func (s *SharedCount) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// SetCount sets the count to v whatever its version (exactly once, even
// when the reply is lost). ctx bounds the call.
func (s *SharedCount) SetCount(ctx context.Context, v int32) error {
	if err := s.check(); err != nil {
		return err
	}
	for {
		ok, st, err := s.w.set(ctx, encodeInt(v), keeper.AnyVersion)
		switch {
		case errors.Is(err, errNotApplied):
			continue
		case err != nil:
			return fmt.Errorf("counter: set %s: %w", s.path, err)
		case ok && st != nil:
			s.update(v, st)
		}
		return nil
	}
}

// TrySetCount sets the count to v if the node's data version is still
// version (from Version or a CountChange), and reports whether it did.
// When it did not, the local copy is read again. version must not be -1
// (any version): use SetCount for that.
func (s *SharedCount) TrySetCount(ctx context.Context, v int32, version int32) (bool, error) {
	if err := s.check(); err != nil {
		return false, err
	}
	if version < 0 {
		return false, fmt.Errorf("counter: try set %s: version %d: must not be negative", s.path, version)
	}
	for {
		ok, st, err := s.w.set(ctx, encodeInt(v), version)
		switch {
		case errors.Is(err, errNotApplied):
			continue
		case err != nil:
			return false, fmt.Errorf("counter: try set %s: %w", s.path, err)
		case ok && st != nil:
			s.update(v, st)
		case !ok:
			s.refresh(ctx)
		}
		return ok, nil
	}
}

func (s *SharedCount) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.closed {
		return fmt.Errorf("%w: %s", ErrNotStarted, s.path)
	}
	return nil
}

// Close stops the watch, closes Changes and deletes the markers of this
// handle's writes (see the package doc). ctx bounds the deletes.
func (s *SharedCount) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if started {
		s.stop()
		s.cancel()
		s.wg.Wait()
	}
	close(s.changes)
	return s.w.close(ctx)
}

// update moves the local copy to v (with st) if st is newer, and queues
// the change.
func (s *SharedCount) update(v int32, st *keeper.Stat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Mzxid <= s.mzxid || s.closed {
		return
	}
	s.count, s.version, s.mzxid = v, st.Version, st.Mzxid
	s.q.Push(CountChange{Count: v, Version: st.Version})
}

// refresh reads the node again (best effort: the watch reads it too).
func (s *SharedCount) refresh(ctx context.Context) {
	data, st, err := s.c.Get(ctx, s.path)
	if err != nil {
		return
	}
	if v, err := decodeInt(s.path, data); err == nil {
		s.update(v, st)
	}
}

// watch keeps a data watch on the node and reads it whenever it fires or
// the client reconnects.
func (s *SharedCount) watch(ctx context.Context) {
	defer s.wg.Done()
	var b node.Backoff
	for {
		data, st, ch, err := s.c.GetW(ctx, s.path)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, keeper.ErrClosed):
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		case errors.Is(err, keeper.ErrNoNode):
			// Deleted: wait until it is created again.
			var st *keeper.Stat
			st, ch, err = s.c.ExistsW(ctx, s.path)
			if err == nil && st != nil {
				_ = s.c.RemoveWatch(ctx, s.path, ch)
				continue
			}
		case err == nil:
			b.Reset()
			if v, derr := decodeInt(s.path, data); derr == nil {
				s.update(v, st)
			}
		}
		if err != nil {
			if b.Sleep(ctx) != nil {
				return
			}
			continue
		}
	wait:
		select {
		case <-ch:
			continue
		case <-s.kick:
			s.refresh(ctx)
			goto wait
		case <-ctx.Done():
			node.DropWatch(ctx, s.c, s.path, keeper.WatchData, ch)
			return
		}
	}
}

// forward moves queued changes to the Changes channel.
func (s *SharedCount) forward(ctx context.Context) {
	defer s.wg.Done()
	s.q.Run(ctx.Done(), func(ch CountChange) bool {
		select {
		case s.changes <- ch:
			return true
		case <-ctx.Done():
			return false
		}
	})
}
