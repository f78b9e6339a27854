package keeper

import (
	"bytes"
	"context"
	"fmt"

	"github.com/keeper-go/keeper/internal/wire"
)

// ACL returns the node's ACL and its Stat (whose Aversion SetACL takes).
func (c *Client) ACL(ctx context.Context, path string) ([]ACL, *Stat, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, err
	}
	var resp wire.GetACLResponse
	err := c.read(ctx, func(ctx context.Context) error {
		_, err := c.call(ctx, wire.OpGetACL, "getACL", path, &wire.GetACLRequest{Path: c.root.add(path)}, &resp, nil)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	st := Stat(resp.Stat)
	return fromWireACL(resp.ACL), &st, nil
}

// SetACL replaces the node's ACL if its ACL version (Stat.Aversion) is
// version (AnyVersion matches any) and returns the new Stat. It needs the
// ADMIN permission on the node. An empty list fails with ErrInvalidACL
// before anything is sent. SetACL is never retried by the client.
func (c *Client) SetACL(ctx context.Context, path string, acl []ACL, version int32) (*Stat, error) {
	if err := validatePath(path, false); err != nil {
		return nil, err
	}
	if err := checkACL(acl); err != nil {
		return nil, fmt.Errorf("keeper: setACL %s: %w", path, err)
	}
	var resp wire.SetACLResponse
	_, err := c.call(ctx, wire.OpSetACL, "setACL", path,
		&wire.SetACLRequest{Path: c.root.add(path), ACL: toWireACL(acl), Version: version}, &resp, nil)
	if err != nil {
		return nil, err
	}
	st := Stat(resp.Stat)
	return &st, nil
}

// checkACL rejects what the server would reject as an invalid ACL
// without asking it.
func checkACL(acl []ACL) error {
	if len(acl) == 0 {
		return fmt.Errorf("%w: the list is empty", ErrInvalidACL)
	}
	for i, a := range acl {
		if a.Scheme == "" {
			return fmt.Errorf("%w: entry %d has no scheme", ErrInvalidACL, i)
		}
	}
	return nil
}

// AddAuth adds credentials to the session, as WithAuth does at connect
// time: "digest" with "user:password" makes the session that digest
// user; other schemes need a matching provider on the server. It waits
// for the server's answer. Accepted credentials are kept and sent again
// first on every later connection (adding the same ones twice keeps one
// copy). Rejected ones (an unknown scheme, or a provider saying no) give
// an error matching ErrAuthFailed, are not kept, and are also reported to
// listeners as a StateEvent with Keeper KeeperAuthFailed; the server then
// closes the connection, and the client reconnects.
//
// Digest credentials are never rejected: a wrong password only yields an
// identity no ACL grants anything to (ErrNoAuth later).
//
// If the connection drops before the answer arrives (ErrConnectionLoss),
// the outcome is unknown; calling AddAuth again is harmless.
func (c *Client) AddAuth(ctx context.Context, scheme string, cred []byte) error {
	if scheme == "" {
		return fmt.Errorf("keeper: addAuth: %w: empty scheme", ErrBadArguments)
	}
	if err := ctx.Err(); err != nil {
		return ctxError(ctx, "addAuth", scheme, false)
	}
	if err := c.acquireSlot(ctx, "addAuth", scheme); err != nil {
		return err
	}
	cred = bytes.Clone(cred)
	if cred == nil {
		cred = []byte{}
	}
	r := newRequest(wire.OpAuth, &wire.AuthPacket{Scheme: scheme, Auth: cred}, nil)
	// onDone runs on the reader as the answer arrives, before the reader
	// can see the connection close: the credential list is up to date
	// before any reconnect replays it. Completions without an answer
	// (r.err set) may run under c.mu, so they touch nothing.
	r.onDone = func(r *request) {
		if r.err == nil {
			switch r.code {
			case CodeOK:
				c.keepAuth(scheme, cred)
			case CodeAuthFailed:
				c.authFailed(scheme, r.code)
			}
		}
		select {
		case r.done <- struct{}{}:
		default:
		}
	}
	if err := c.enqueue(r); err != nil {
		c.releaseSlot()
		r.recycle()
		return wrapOpErr("addAuth", scheme, err)
	}
	if err := c.wait(ctx, r, "addAuth", scheme); err != nil {
		return err
	}
	c.releaseSlot()
	code, err := r.code, r.err
	r.recycle()
	if err != nil {
		return wrapOpErr("addAuth", scheme, err)
	}
	if code != CodeOK {
		return opError("addAuth", scheme, code)
	}
	return nil
}

// checkConnectAuth makes Connect fail when the server rejected credentials
// given with WithAuth (or WithSASL). The server answers requests in order,
// so once a request sent after the credentials has its answer, theirs has
// been seen.
func (c *Client) checkConnectAuth(ctx context.Context) error {
	if len(c.cfg.auth) == 0 && c.cfg.sasl == nil {
		return nil
	}
	if _, err := c.Exists(ctx, "/"); err != nil {
		return err
	}
	c.mu.Lock()
	err := c.authErr
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("keeper: connect: the server rejected the credentials: %w", err)
	}
	return nil
}

// keepAuth adds accepted credentials to those replayed on reconnect,
// once.
func (c *Client) keepAuth(scheme string, cred []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.auth {
		if a.scheme == scheme && bytes.Equal(a.cred, cred) {
			return
		}
	}
	c.auth = append(c.auth, authInfo{scheme: scheme, cred: cred})
}
