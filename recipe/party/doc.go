// Package party keeps a group of processes that know of each other: each
// member joins with an ephemeral node under the party's path, and anyone can
// list the members or count them.
//
// The znodes are Kazoo's, so Keeper and Kazoo (Python) processes can be
// members of the same party:
//
//   - [Party]: "<path>/<uuid hex>__party__", ephemeral, data = the
//     identifier (UTF-8). Members lists the data of the children whose name
//     contains "__party__"; Len counts them.
//   - [ShallowParty]: "<path>/<uuid hex>-<identifier>", ephemeral, data =
//     the identifier too. Members lists the text after the first '-' of
//     every child, so listing costs one call; Len counts every child. The
//     identifier must be usable in a znode name.
//
// Quick start:
//
//	p := party.New(c, "/services/web", "host-1:8080")
//	if err := p.Join(ctx); err != nil { ... }
//	defer p.Leave(context.WithoutCancel(ctx))
//	members, err := p.Members(ctx) // ["host-1:8080", "host-2:8080", ...]
//
// Unlike Kazoo, a member that loses its session while joined joins again by
// itself on the client's next session (Kazoo leaves that to the
// application): a party reflects the processes that are alive and joined.
// Between the loss and the new session the member is absent from the list.
//
// Concurrency: the methods of Party and ShallowParty are safe for concurrent
// use. Join and Leave are idempotent.
package party
