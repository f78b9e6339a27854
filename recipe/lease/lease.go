// Package lease provides Kazoo's non-blocking leases: a named right, held
// for a duration by one identifier (NonBlockingLease) or by up to n
// identifiers (MultiNonBlockingLease), that a process asks for and either
// gets or not, without waiting for it. A holder renews its lease by asking
// again with the same identifier.
//
// The layout is Kazoo's (kazoo/recipe/lease.py), so Keeper and Kazoo
// processes share leases: the holder is recorded in the persistent node
// path/lease_holder as the JSON text
//
//	{"version": 1, "holder": "<identifier>", "end": "YYYY-MM-DDTHH:MM:SS"}
//
// (end in UTC, whole seconds), and a Kazoo Lock on path serialises the
// decision. Unlike Kazoo, which reads the clock of each client, this
// package judges time by the server's clock: it learns "now" from the
// mtime the server stamps on path when the client rewrites path's data
// (unchanged) while it holds the lock. Kazoo's clients and ours must still
// have roughly the server's time for a mixed deployment to agree.
//
// The functions are safe for concurrent use.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
	"github.com/keeper-go/keeper/recipe/lock"
)

// HolderNode is the name of the child of a lease's path that records its
// holder.
const HolderNode = "lease_holder"

// Version is the holder format's version. A holder node of another version
// belongs to a newer format: the lease is not obtained.
const Version = 1

// timeFormat is Kazoo's "%Y-%m-%dT%H:%M:%S".
const timeFormat = "2006-01-02T15:04:05"

// ErrBadHolder reports a holder node whose data is not a lease record.
var ErrBadHolder = errors.New("lease: malformed holder record")

// Holder is a lease record, as stored in path/lease_holder.
type Holder struct {
	// Version of the format (1).
	Version int
	// Holder is the identifier of the process holding the lease.
	Holder string
	// End is when the lease ends, in UTC, in whole seconds.
	End time.Time
}

// NonBlockingLease tries to obtain the lease at path for duration, for
// identifier (the host name when empty), and reports whether it got it: it
// is free, or its holder's time is up, or identifier already holds it (the
// lease is then renewed until now+duration). "Now" is the server's clock.
//
// It takes a Lock on path for the decision (as Kazoo does), so it waits
// for another process's decision in progress; ctx bounds that wait and
// the whole call.
func NonBlockingLease(ctx context.Context, c *keeper.Client, path string, duration time.Duration, identifier string) (bool, error) {
	g, err := Obtain(ctx, c, path, duration, identifier)
	return g != nil, err
}

// Grant is a lease obtained by Obtain: its record as written, and the
// version of the holder node that write made.
type Grant struct {
	// Path is the lease's path.
	Path string
	// Holder is the record written: this identifier, and the end of the
	// lease in the server's time.
	Holder Holder

	version int32 // the holder node's data version after our write
	mzxid   int64 // the zxid of our write
}

// Guard adds to t the condition that this grant is still the lease's
// latest record: a Check of path/lease_holder at the version our write
// made. Another process taking the lease over (after End), or this one
// renewing it (a new Grant), rewrites the record, and the server then
// refuses the transaction (ErrBadVersion in a *keeper.TxnError). The server
// does not compare End with its clock: the guard only says that nobody
// took the lease over since; stop writing at End as well.
func (g *Grant) Guard(t *keeper.Txn) *keeper.Txn {
	return t.Check(keeper.JoinPath(g.Path, HolderNode), g.version)
}

// Token returns the grant's fencing token: the zxid of the write that
// recorded it, larger for every later grant of the lease.
func (g *Grant) Token() int64 { return g.mzxid }

// Obtain is NonBlockingLease that returns the Grant when the lease was
// obtained (nil when not), for fenced writes (Grant.Guard) and its token.
func Obtain(ctx context.Context, c *keeper.Client, path string, duration time.Duration, identifier string) (*Grant, error) {
	if identifier == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("lease: %s: no identifier and no host name: %w", path, err)
		}
		identifier = h
	}
	if duration <= 0 {
		return nil, fmt.Errorf("lease: %s: duration %v is not positive", path, duration)
	}
	if err := c.EnsurePath(ctx, path); err != nil {
		return nil, fmt.Errorf("lease: %s: %w", path, err)
	}
	l := lock.New(c, path, identifier)
	if err := l.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("lease: %s: %w", path, err)
	}
	g, err := decide(ctx, c, path, duration, identifier)
	rerr := node.Cleanup(ctx, c, l.Release)
	if err != nil {
		return nil, err
	}
	if rerr != nil && g != nil && errors.Is(rerr, lock.ErrLost) {
		// The lock was lost during the decision: another process may
		// have decided at the same time.
		return nil, fmt.Errorf("lease: %s: %w", path, rerr)
	}
	return g, nil
}

// MultiNonBlockingLease tries the leases path/0, path/1, … path/<count-1>
// in turn (see NonBlockingLease) and reports whether it obtained one.
func MultiNonBlockingLease(ctx context.Context, c *keeper.Client, path string, count int, duration time.Duration, identifier string) (bool, error) {
	for i := range count {
		ok, err := NonBlockingLease(ctx, c, fmt.Sprintf("%s/%d", path, i), duration, identifier)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// Read returns the holder record of the lease at path, or nil when there is
// none. It does not say whether the lease has ended: compare End with the
// server's time.
func Read(ctx context.Context, c *keeper.Client, path string) (*Holder, error) {
	data, _, err := c.Get(ctx, keeper.JoinPath(path, HolderNode))
	if errors.Is(err, keeper.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lease: %s: %w", path, err)
	}
	h, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("lease: %s: %w", path, err)
	}
	return h, nil
}

// decide runs while holding the lock on path.
func decide(ctx context.Context, c *keeper.Client, path string, duration time.Duration, identifier string) (*Grant, error) {
	now, err := serverNow(ctx, c, path)
	if err != nil {
		return nil, fmt.Errorf("lease: %s: %w", path, err)
	}
	hp := keeper.JoinPath(path, HolderNode)
	raw, st, err := c.Get(ctx, hp)
	switch {
	case errors.Is(err, keeper.ErrNoNode):
		st = nil
	case err != nil:
		return nil, fmt.Errorf("lease: %s: %w", path, err)
	default:
		h, err := Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("lease: %s: %w", path, err)
		}
		if h.Version != Version {
			return nil, nil // a newer format owns it
		}
		if h.Holder != identifier && now.Before(h.End) {
			return nil, nil
		}
	}
	rec := Holder{Version: Version, Holder: identifier, End: now.Add(duration).Truncate(time.Second)}
	data := Encode(rec)
	var nst keeper.Stat
	if st != nil {
		var s *keeper.Stat
		if s, err = c.Set(ctx, hp, data, st.Version); err == nil {
			nst = *s
		}
	} else {
		_, err = c.Create(ctx, hp, data, keeper.StoreStat(&nst))
	}
	if errors.Is(err, keeper.ErrConnectionLoss) {
		// The outcome is unknown: see whether our record is there.
		var got []byte
		var gst *keeper.Stat
		got, gst, err = c.Get(ctx, hp)
		if err == nil && string(got) != string(data) {
			return nil, nil
		}
		if err == nil {
			nst = *gst
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lease: %s: %w", path, err)
	}
	return &Grant{Path: path, Holder: rec, version: nst.Version, mzxid: nst.Mzxid}, nil
}

// serverNow returns the server's current time: it rewrites path's data as
// it is (version-checked) and reads the mtime the server stamped on it.
func serverNow(ctx context.Context, c *keeper.Client, path string) (time.Time, error) {
	for {
		data, st, err := c.Get(ctx, path)
		if err != nil {
			return time.Time{}, err
		}
		nst, err := c.Set(ctx, path, data, st.Version)
		if errors.Is(err, keeper.ErrBadVersion) {
			continue // someone changed it meanwhile: read again
		}
		if errors.Is(err, keeper.ErrConnectionLoss) {
			// Applied or not, the node's mtime is a server time no
			// older than our call.
			nst, err = c.Exists(ctx, path)
			if err == nil && nst == nil {
				err = keeper.ErrNoNode
			}
		}
		if err != nil {
			return time.Time{}, err
		}
		return time.UnixMilli(nst.Mtime).UTC(), nil
	}
}

// record is the JSON form, for decoding.
type record struct {
	Version *int    `json:"version"`
	Holder  *string `json:"holder"`
	End     *string `json:"end"`
}

// Decode parses a holder record.
func Decode(data []byte) (*Holder, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadHolder, err)
	}
	if r.Version == nil {
		return nil, fmt.Errorf("%w: no version", ErrBadHolder)
	}
	h := &Holder{Version: *r.Version}
	if h.Version != Version {
		return h, nil // a newer format: only the version is known
	}
	if r.Holder == nil || r.End == nil {
		return nil, fmt.Errorf("%w: %q", ErrBadHolder, data)
	}
	end, err := time.Parse(timeFormat, *r.End)
	if err != nil {
		return nil, fmt.Errorf("%w: end: %w", ErrBadHolder, err)
	}
	h.Holder, h.End = *r.Holder, end
	return h, nil
}

// Encode returns the record as Kazoo writes it: Python's json.dumps of
// {"version": 1, "holder": …, "end": …}, with its ", " and ": " separators
// and its escapes (non-ASCII as \uXXXX), End truncated to whole seconds.
func Encode(h Holder) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"version": %d, "holder": `, h.Version)
	pyQuote(&b, h.Holder)
	b.WriteString(`, "end": `)
	pyQuote(&b, h.End.UTC().Format(timeFormat))
	b.WriteString("}")
	return []byte(b.String())
}

// pyQuote writes s as Python's json.dumps (ensure_ascii) quotes it.
func pyQuote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r < 0x10000):
			fmt.Fprintf(b, `\u%04x`, r)
		case r >= 0x10000:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
