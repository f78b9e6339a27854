package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/keeper-go/keeper"
)

// ErrNotOwner reports that a recipe's node is gone or belongs to another
// session than the client's current one.
var ErrNotOwner = errors.New("node: not owned by this session")

// UUIDHex returns a random (version 4) UUID as 32 lowercase hexadecimal
// characters without dashes, as Python's uuid.uuid4().hex prints it.
func UUIDHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// UUID returns a random (version 4) UUID in its canonical 36-character form
// with dashes, as Java's UUID.randomUUID().toString() prints it.
func UUID() string {
	h := UUIDHex()
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ProtectedCreate creates the node dir/prefix (plus the server's sequence
// suffix for sequential modes) and returns its path. prefix must begin with
// an id unique to the caller, such as UUIDHex(): Kazoo names lock nodes
// "<uuid hex>__lock__". Without opts the node is ephemeral and sequential;
// with opts, exactly what they say.
//
// When a create fails with an unknown outcome (ErrConnectionLoss: the server
// may have applied it), ProtectedCreate syncs and lists dir and adopts the
// child whose name starts with prefix instead of creating a second node.
// (A create still queued in a follower when the connection dropped can
// apply after the look: callers of sequential creates should delete any
// other child with their prefix when they see one, as recipe/lock does.) A found
// ephemeral node owned by another session than the current one (left by a
// session that was lost meanwhile) is deleted and the node created again.
// A missing dir is created first, with persistent parents (as Kazoo's
// ensure_path). ctx bounds the whole; it retries until ctx ends or an
// error that is not transient.
func ProtectedCreate(ctx context.Context, c *keeper.Client, dir, prefix string, data []byte, opts ...keeper.CreateOption) (string, error) {
	return ProtectedCreateStat(ctx, c, dir, prefix, data, nil, opts...)
}

// ProtectedCreateStat is ProtectedCreate that also stores the node's Stat
// in st (when not nil), so that the caller learns the node's
// EphemeralOwner without another request.
func ProtectedCreateStat(ctx context.Context, c *keeper.Client, dir, prefix string, data []byte, st *keeper.Stat, opts ...keeper.CreateOption) (string, error) {
	if len(opts) == 0 {
		opts = []keeper.CreateOption{keeper.Ephemeral(), keeper.Sequential()}
	}
	if st != nil {
		opts = append(opts[:len(opts):len(opts)], keeper.StoreStat(st))
	}
	target := keeper.JoinPath(dir, prefix)
	tried := false // a create may have been applied
	var b Backoff
	for {
		if tried {
			// The server we are now connected to may not have applied
			// the create yet even though the leader committed it: make
			// it catch up first.
			if err := c.Sync(ctx, dir); err != nil && IsTransient(err) {
				if err := b.Sleep(ctx); err != nil {
					return "", fmt.Errorf("node: create %s: %w", target, err)
				}
				continue
			}
			p, fst, err := find(ctx, c, dir, prefix)
			switch {
			case err == nil && p != "":
				if st != nil {
					*st = *fst
				}
				return p, nil
			case errors.Is(err, keeper.ErrNoNode):
				// The directory does not exist (after the sync): the
				// create cannot have been applied. Create it.
			case err != nil && !IsTransient(err):
				return "", err
			case err != nil:
				// Not known yet: back off and look again.
				if err := b.Sleep(ctx); err != nil {
					return "", fmt.Errorf("node: create %s: %w", target, err)
				}
				continue
			}
		}
		p, err := c.Create(ctx, target, data, opts...)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, keeper.ErrNoNode) {
			if err := c.EnsurePath(ctx, dir); err != nil && !IsTransient(err) {
				return "", err
			}
			continue
		}
		if !IsTransient(err) {
			return "", err
		}
		// Look before creating again even when the request seems never to
		// have been sent: an orphan would block a lock queue for the rest
		// of the session, a look costs one read.
		tried = true
		if err := b.Sleep(ctx); err != nil {
			return "", fmt.Errorf("node: create %s: %w", target, err)
		}
	}
}

// Find returns the path of dir's child whose name starts with prefix, or ""
// when there is none. A found ephemeral node owned by another session than
// the client's current one is deleted (best effort) and not returned: it
// belongs to a session that is gone.
func Find(ctx context.Context, c *keeper.Client, dir, prefix string) (string, error) {
	p, _, err := find(ctx, c, dir, prefix)
	return p, err
}

func find(ctx context.Context, c *keeper.Client, dir, prefix string) (string, *keeper.Stat, error) {
	kids, err := c.Children(ctx, dir)
	if err != nil {
		return "", nil, err
	}
	for _, k := range kids {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		p := keeper.JoinPath(dir, k)
		st, err := c.Exists(ctx, p)
		if err != nil {
			return "", nil, err
		}
		if st == nil {
			continue
		}
		if st.EphemeralOwner != 0 && st.EphemeralOwner != c.SessionID() {
			if err := c.Delete(ctx, p, keeper.AnyVersion); err != nil && !errors.Is(err, keeper.ErrNoNode) {
				return "", nil, err
			}
			continue
		}
		return p, st, nil
	}
	return "", nil, nil
}

// CheckOwner returns nil when the node at path exists and is an ephemeral
// node of the client's current session. It returns an error matching
// ErrNotOwner when the node is gone or owned by another session (or is not
// ephemeral), and the client's error when it could not find out.
func CheckOwner(ctx context.Context, c *keeper.Client, path string) error {
	st, err := c.Exists(ctx, path)
	if err != nil {
		return fmt.Errorf("node: check owner of %s: %w", path, err)
	}
	if st == nil {
		return fmt.Errorf("%w: %s is gone", ErrNotOwner, path)
	}
	if sid := c.SessionID(); st.EphemeralOwner != sid {
		return fmt.Errorf("%w: %s is owned by session 0x%x, not 0x%x", ErrNotOwner, path, st.EphemeralOwner, sid)
	}
	return nil
}
