// Package persistent keeps nodes present through reconnects and new
// sessions, as Curator's PersistentNode, PersistentTtlNode and GroupMember
// do, in Curator's layouts so that Java and Go processes can share them.
//
// Quick start:
//
//	n, err := persistent.NewNode(c, "/services/api/member-", data,
//		persistent.Ephemeral(), persistent.Sequential(), persistent.Protected())
//	if err != nil { ... }
//	defer n.Close(context.Background())
//	if err := n.WaitForInitialCreate(ctx); err != nil { ... }
//	log.Print("registered as ", n.ActualPath())
//
// A Node creates its node in the background and creates it again whenever
// it is deleted or, for an ephemeral node, whenever the client gets a new
// session; after every reconnect it checks that the node is still there
// and owned by the client's session (ephemeralOwner). The node is back
// within a few round trips of the new session, so within about one session
// timeout of an expiry. Close deletes the node, retrying in the background
// when it cannot (Curator's guaranteed delete).
//
// Differences from Curator, each on purpose: an ephemeral node found at
// the path is adopted only when the client's current session owns it; a
// node left by one of the Node's earlier sessions is deleted and created
// again at once; another live session's node is never taken over (Curator
// adopts it and overwrites its data), the Node waits for it to go. A
// re-created protected sequential node keeps its whole name, prefix and
// suffix. SetData may be called before the first create.
//
// TTLNode needs a server started with extendedTypesEnabled (it ends with
// ErrTTLUnsupported otherwise). GroupMember is a member node plus a
// TreeCache of the group.
//
// Concurrency: every method is safe for concurrent use. Events are
// delivered in order through an unbounded queue, so a slow reader never
// delays the Node. No user code runs on the client's goroutines.
package persistent
