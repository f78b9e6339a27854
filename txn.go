package keeper

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keeper-go/keeper/internal/wire"
)

// Txn builds a transaction: operations that the server applies all
// together or not at all (ZooKeeper's multi). Build one with Client.Txn,
// add operations, then call Commit once:
//
//	res, err := c.Txn().
//		Check("/config", st.Version).
//		Create("/config/next", data).
//		Delete("/config/old", AnyVersion).
//		Commit(ctx)
//
// Misuse found while building (a bad path, a bad combination of create
// options) is recorded and returned by Commit, which then sends nothing.
// A Txn is not safe for concurrent use.
type Txn struct {
	c         *Client
	ops       []wire.MultiOp
	kinds     []string  // "create", "set", "delete", "check"
	paths     []string  // client paths, as given
	stats     []*Stat   // StoreStat targets of creates
	bad       *TxnError // the first misuse, returned by Commit
	committed bool
}

// TxnResult is the result of one operation of a committed transaction.
type TxnResult struct {
	// Op names the operation: "create", "set", "delete" or "check".
	Op string
	// Path is the operation's path, relative to the chroot; for a create,
	// the path actually created (with the server's suffix for a
	// sequential node).
	Path string
	// Stat is the node's Stat after a set, and after a create when the
	// server sends it (ZooKeeper 3.7.2, 3.8.2, 3.9.0 and later; earlier
	// servers send none inside a transaction). It is nil otherwise.
	Stat *Stat
}

// TxnError reports a transaction that was not applied. Index is the
// operation that failed and Errs holds each operation's own error: nil
// for the operations before it (which the server would have applied),
// the failing operation's error (an *Error from the server, or a
// client-side error found while building), and, for the operations after
// it, errors matching ErrRuntimeInconsistency (rolled back, or never
// tried). errors.Is and errors.As see the failing operation's error:
// errors.Is(err, ErrBadVersion) works.
type TxnError struct {
	Index int
	Errs  []error
}

// Error describes the failing operation.
func (e *TxnError) Error() string {
	cause := e.Unwrap()
	msg := "unknown failure"
	if cause != nil {
		msg = strings.TrimPrefix(cause.Error(), "keeper: ")
	}
	return fmt.Sprintf("keeper: txn failed at op %d of %d: %s", e.Index, len(e.Errs), msg)
}

// Unwrap returns the failing operation's error.
func (e *TxnError) Unwrap() error {
	if e.Index < 0 || e.Index >= len(e.Errs) {
		return nil
	}
	return e.Errs[e.Index]
}

// Txn starts a transaction on c; see Txn.
func (c *Client) Txn() *Txn { return &Txn{c: c} }

// record notes a misuse of the builder at the operation about to be
// added; only the first one is kept.
func (t *Txn) record(err error) {
	if t.bad == nil {
		t.bad = &TxnError{Index: len(t.ops), Errs: []error{err}}
	}
}

func (t *Txn) add(kind, path string, op wire.OpCode, req wire.Record, st *Stat) *Txn {
	t.ops = append(t.ops, wire.MultiOp{Op: op, Req: req})
	t.kinds = append(t.kinds, kind)
	t.paths = append(t.paths, path)
	t.stats = append(t.stats, st)
	return t
}

// Create adds the creation of a node, with the options of Client.Create
// (Ephemeral, Sequential, Container, TTL, WithACL, StoreStat; MakeParents
// is not allowed in a transaction: add the parents' creates before it).
// StoreStat is filled only when the server sends the Stat (see TxnResult).
func (t *Txn) Create(path string, data []byte, opts ...CreateOption) *Txn {
	o := applyCreateOpts(opts)
	c := t.c
	if err := validatePath(path, o.sequential); err != nil {
		t.record(fmt.Errorf("keeper: create %s: %w", path, err))
	}
	flags, op, err := o.flags()
	if err != nil {
		t.record(fmt.Errorf("keeper: create %s: %w", path, err))
	}
	if o.makeParents {
		t.record(fmt.Errorf("keeper: create %s: %w: MakeParents cannot be used in a transaction", path, ErrBadArguments))
	}
	acl := o.acl
	if acl == nil {
		acl = c.cfg.defaultACL
	}
	var req wire.Record
	if op == wire.OpCreateTTL {
		req = &wire.CreateTTLRequest{Path: c.root.add(path), Data: data, ACL: toWireACL(acl), Flags: flags, TTL: o.ttl.Milliseconds()}
	} else {
		req = &wire.CreateRequest{Path: c.root.add(path), Data: data, ACL: toWireACL(acl), Flags: flags}
	}
	if op == 0 {
		op = wire.OpCreate2 // a recorded misuse: never sent
	}
	return t.add("create", path, op, req, o.stat)
}

// Set adds a change of the node's data, applied if its version is version
// (AnyVersion matches any).
func (t *Txn) Set(path string, data []byte, version int32) *Txn {
	if err := validatePath(path, false); err != nil {
		t.record(fmt.Errorf("keeper: set %s: %w", path, err))
	}
	return t.add("set", path, wire.OpSetData,
		&wire.SetDataRequest{Path: t.c.root.add(path), Data: data, Version: version}, nil)
}

// Delete adds the deletion of a node, applied if its version is version
// (AnyVersion matches any).
func (t *Txn) Delete(path string, version int32) *Txn {
	if err := validatePath(path, false); err != nil {
		t.record(fmt.Errorf("keeper: delete %s: %w", path, err))
	} else if path == "/" {
		t.record(fmt.Errorf("keeper: delete /: %w: cannot delete the root", ErrInvalidPath))
	}
	return t.add("delete", path, wire.OpDelete,
		&wire.DeleteRequest{Path: t.c.root.add(path), Version: version}, nil)
}

// Check adds a condition: the transaction fails unless the node exists
// with version version (AnyVersion only requires it to exist).
func (t *Txn) Check(path string, version int32) *Txn {
	if err := validatePath(path, false); err != nil {
		t.record(fmt.Errorf("keeper: check %s: %w", path, err))
	}
	return t.add("check", path, wire.OpCheck,
		&wire.CheckVersionRequest{Path: t.c.root.add(path), Version: version}, nil)
}

// errTxnCommitted is returned by a second Commit.
var errTxnCommitted = errors.New("keeper: txn already committed")

// Commit sends the transaction and returns one result per operation, in
// order. If any operation fails, none is applied and the error is a
// *TxnError. An empty transaction succeeds without contacting the server.
// ctx bounds the wait for the reply.
//
// Commit is never retried by the client: after ErrConnectionLoss the
// transaction may or may not have been applied (a Check on a node the
// transaction changes lets you find out). A Txn can be committed once;
// later calls fail.
func (t *Txn) Commit(ctx context.Context) ([]TxnResult, error) {
	if t.committed {
		return nil, errTxnCommitted
	}
	t.committed = true
	if t.bad != nil {
		return nil, t.fail(t.bad.Index, t.bad.Errs[0])
	}
	if len(t.ops) == 0 {
		return []TxnResult{}, nil
	}
	var resp wire.MultiResponse
	_, err := t.c.call(ctx, wire.OpMulti, "multi", "", &wire.MultiRequest{Ops: t.ops}, &resp, nil)
	if err != nil {
		return nil, err
	}
	return t.results(&resp)
}

// results turns a multi reply into the transaction's results, or its
// error.
func (t *Txn) results(resp *wire.MultiResponse) ([]TxnResult, error) {
	if len(resp.Results) != len(t.ops) {
		return nil, fmt.Errorf("%w: multi reply has %d results for %d ops", ErrProtocol, len(resp.Results), len(t.ops))
	}
	if i, code := failedOp(resp.Results); i >= 0 {
		return nil, t.fail(i, &Error{Op: t.kinds[i], Path: t.paths[i], Code: code})
	}
	out := make([]TxnResult, len(t.ops))
	for i, r := range resp.Results {
		res := TxnResult{Op: t.kinds[i], Path: t.paths[i]}
		switch r.Op {
		case wire.OpCreate, wire.OpCreate2:
			if t.kinds[i] != "create" {
				return nil, fmt.Errorf("%w: multi result %d is a create for a %s", ErrProtocol, i, t.kinds[i])
			}
			res.Path = t.c.root.strip(r.Path)
		case wire.OpSetData:
			if t.kinds[i] != "set" {
				return nil, fmt.Errorf("%w: multi result %d is a set for a %s", ErrProtocol, i, t.kinds[i])
			}
		case wire.OpDelete, wire.OpCheck:
		default:
			return nil, fmt.Errorf("%w: unexpected multi result type %s", ErrProtocol, r.Op)
		}
		if r.Stat != nil {
			st := Stat(*r.Stat)
			res.Stat = &st
			if t.stats[i] != nil {
				*t.stats[i] = st
			}
		}
		out[i] = res
	}
	return out, nil
}

// failedOp returns the index and code of the operation that made a multi
// fail, or -1. The server marks the operations after it (and, on some
// versions, before it) RuntimeInconsistency: prefer any other code.
func failedOp(results []wire.MultiResult) (int, Code) {
	first := -1
	for i, r := range results {
		if r.Op != wire.OpError || r.Err == 0 {
			continue
		}
		if Code(r.Err) != CodeRuntimeInconsistency {
			return i, Code(r.Err)
		}
		if first < 0 {
			first = i
		}
	}
	if first >= 0 {
		return first, CodeRuntimeInconsistency
	}
	return -1, CodeOK
}

// fail builds the TxnError for a failure of op i.
func (t *Txn) fail(i int, cause error) *TxnError {
	errs := make([]error, len(t.ops))
	for j := range errs {
		switch {
		case j == i:
			errs[j] = cause
		case j > i:
			errs[j] = &Error{Op: t.kinds[j], Path: t.paths[j], Code: CodeRuntimeInconsistency}
		}
	}
	if i >= len(errs) { // misuse recorded before any op was added
		errs = append(errs, cause)
	}
	return &TxnError{Index: i, Errs: errs}
}

// GetResult is the result of one read of MultiGet: Data and Stat, or Err
// (an *Error such as ErrNoNode) for that path alone.
type GetResult struct {
	Path string
	Data []byte
	Stat *Stat
	Err  error
}

// ChildrenResult is the result of one read of MultiChildren: the child
// names, or Err for that path alone.
type ChildrenResult struct {
	Path     string
	Children []string
	Err      error
}

// MultiGet reads the data and Stat of several nodes in one request
// (ZooKeeper 3.6+ multiRead). Each path gets its own result, in order; a
// missing node fails only its own result (Err matching ErrNoNode). The
// reads are not a snapshot: the server runs them one after another, but
// no write of this client comes between them. A bad path fails the whole
// call before anything is sent; on an older server it fails with
// ErrUnimplemented. It is retried on connection loss like Get.
func (c *Client) MultiGet(ctx context.Context, paths ...string) ([]GetResult, error) {
	rs, err := c.multiRead(ctx, "get", paths, wire.OpGetData)
	if err != nil {
		return nil, err
	}
	out := make([]GetResult, len(paths))
	for i, r := range rs {
		out[i].Path = paths[i]
		switch {
		case r.Op == wire.OpError:
			out[i].Err = &Error{Op: "get", Path: paths[i], Code: Code(r.Err)}
		case r.Op == wire.OpGetData && r.Stat != nil:
			st := Stat(*r.Stat)
			out[i].Data, out[i].Stat = r.Data, &st
		default:
			return nil, fmt.Errorf("%w: multiRead result %d has type %s, want getData", ErrProtocol, i, r.Op)
		}
	}
	return out, nil
}

// MultiChildren lists the children of several nodes in one request
// (ZooKeeper 3.6+ multiRead); see MultiGet.
func (c *Client) MultiChildren(ctx context.Context, paths ...string) ([]ChildrenResult, error) {
	rs, err := c.multiRead(ctx, "children", paths, wire.OpGetChildren)
	if err != nil {
		return nil, err
	}
	out := make([]ChildrenResult, len(paths))
	for i, r := range rs {
		out[i].Path = paths[i]
		switch r.Op {
		case wire.OpError:
			out[i].Err = &Error{Op: "children", Path: paths[i], Code: Code(r.Err)}
		case wire.OpGetChildren:
			out[i].Children = nonNil(r.Children)
		default:
			return nil, fmt.Errorf("%w: multiRead result %d has type %s, want getChildren", ErrProtocol, i, r.Op)
		}
	}
	return out, nil
}

// multiRead sends one read of type op per path and returns the results.
func (c *Client) multiRead(ctx context.Context, opName string, paths []string, op wire.OpCode) ([]wire.MultiResult, error) {
	ops := make([]wire.MultiOp, len(paths))
	for i, p := range paths {
		if err := validatePath(p, false); err != nil {
			return nil, fmt.Errorf("keeper: multiRead %s: %w", opName, err)
		}
		if op == wire.OpGetData {
			ops[i] = wire.MultiOp{Op: op, Req: &wire.GetDataRequest{Path: c.root.add(p)}}
		} else {
			ops[i] = wire.MultiOp{Op: op, Req: &wire.GetChildrenRequest{Path: c.root.add(p)}}
		}
	}
	if len(ops) == 0 {
		return nil, nil
	}
	if err := c.requireVersion("multiRead", "", 3, 6, 0); err != nil {
		return nil, err
	}
	var resp wire.MultiResponse
	err := c.read(ctx, func(ctx context.Context) error {
		resp = wire.MultiResponse{}
		_, err := c.call(ctx, wire.OpMultiRead, "multiRead", "", &wire.MultiRequest{Ops: ops}, &resp, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(resp.Results) != len(ops) {
		return nil, fmt.Errorf("%w: multiRead reply has %d results for %d reads", ErrProtocol, len(resp.Results), len(ops))
	}
	return resp.Results, nil
}
