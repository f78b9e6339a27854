// Package node is the toolkit every recipe builds on. It uses only the
// public API of package keeper; all its functions are safe for concurrent
// use. New recipes (queues, counters, Curator's locks, LeaderSelector)
// should take what they need from here rather than write it again.
//
// What it offers:
//
//   - Creating a recipe's node: ProtectedCreate and ProtectedCreateStat (a
//     create whose reply was lost finds its node instead of making a second
//     one), Find, UUIDHex and UUID for unique name prefixes.
//   - Sequence suffixes: SeqOf, SeqAfter, Parse, SortBySeq, CompareSeq
//     (the ordering rule, including the wrapped counter, is in seq.go).
//   - Queues of contenders: Predecessor (whom to wait for), Strays (our own
//     late-applied duplicates), Contenders (the nodes' data in queue order).
//   - Waiting: WaitGone, the predecessor wait (one data watch on a node,
//     until it is deleted or anything else happens to it, taken off the
//     server when ctx ends); DropWatch and Abandoned for other one-shot
//     watches a recipe gives up.
//   - Deleting: DeleteOwn, the delete of a node only we create.
//   - Holding: Fence (says when a held node can no longer be trusted),
//     CheckOwner, and Holder (the held node, its fence, the serialised
//     Acquire and Release, and the Lost, Suspended and Err accessors of a
//     lock-like recipe).
//   - Retrying: Backoff, Retry, ErrAgain, IsTransient, IsPermanent, CtxErr,
//     Cleanup (the bounded clean-up after a cancelled call).
//   - Events: an unbounded ordered event channel for a recipe's loop
//     (internal/queue underneath), so a slow reader never holds the loop up.
//   - Options: ApplyOptions. LocalAddress: Curator's default node data.
//
// Decided behaviours (one each, for every recipe):
//
//   - Backoff: the first pause is MinDelay (20ms), each next one twice as
//     long, capped at MaxDelay (1s); Reset after a success.
//   - A context that ends is reported with CtxErr: its cause
//     (context.Cause), which also matches ctx.Err() when the cause is
//     another error. Backoff.Sleep, Retry, WaitGone and Holder return it.
//   - Transient (IsTransient), so retried until ctx ends: connection loss,
//     an operation timeout, throttling, a moved session (keeper.IsRetryable),
//     and an expired session, after which the client opens a new one by
//     itself (with keeper.WithNoAutoResession it keeps failing until ctx
//     ends). Never keeper.ErrClosed, never a context's error.
//   - Permanent (IsPermanent), so never retried: keeper.ErrClosed, an
//     invalid path, no permission (ErrNoAuth), failed authentication,
//     bad arguments, and an operation the server does not implement.
//     An error that is neither (say ErrNoNode) is the caller's to judge.
//   - DeleteOwn treats a missing node and a closed client as done: the node
//     is an ephemeral one of ours, and it goes with the session that Close
//     ends.
//   - Path helpers are the client's: keeper.ValidatePath, keeper.JoinPath,
//     and path.Dir and path.Base from the standard library.
package node
