// Package partition provides Kazoo's SetPartitioner: a set of items
// divided among the members of a party, each item owned (and locked) by
// exactly one member, divided again when members come and go. The znodes
// are Kazoo's, so Keeper and Kazoo (Python) workers can partition one set
// together:
//
//   - members: "<path>/party/<uuid hex>-<identifier>", ephemeral (a Kazoo
//     ShallowParty), data = the identifier;
//   - item locks: a Kazoo Lock on "<path>/locks/<item>", nodes
//     "<uuid hex>__lock__<sequence>", ephemeral, with empty data.
//
// States follow Kazoo's PartitionState: Allocating (waiting for the party
// to stay unchanged for the time boundary, then taking the locks of this
// member's items), Acquired (Partitions are this member's), Release (the
// party or the connection changed: stop, then call ReleaseSet, which
// releases the locks and allocates again) and Failure (final: the session
// was lost, the locks could not be taken in time, or Finish).
//
// Quick start:
//
//	p := partition.New(c, "/work", []string{"q1", "q2", "q3"}, partition.WithIdentifier("worker-1"))
//	if err := p.Start(ctx); err != nil { ... }
//	defer p.Finish(context.WithoutCancel(ctx))
//	for st := range p.Changes() {
//		switch st {
//		case partition.Acquired:
//			start(p.Partitions())
//		case partition.Release:
//			stopAll()
//			p.ReleaseSet(ctx)
//		case partition.Failure:
//			return p.Err()
//		}
//	}
//
// # Unlike Kazoo
//
// Kazoo's partitioner stays in allocating forever when a lock it needs is
// held by someone outside the party's agreement (kazoo#392); here, when
// the locks are not all held within the acquire timeout (see
// WithAcquireTimeout) while the party stays the same, the partitioner
// fails with ErrAcquireTimeout. Kazoo could also miss a change of the
// party that happened while it took its last lock (kazoo PR #259); here
// the party's child version is read again once every lock is held, and an
// allocation for a party that changed meanwhile starts over instead of
// reaching Acquired.
//
// # Concurrency
//
// All methods are safe for concurrent use. Identifiers must be unique
// within the party; items must be valid znode names.
package partition
