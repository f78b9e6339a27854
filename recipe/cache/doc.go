// Package cache keeps an in-memory copy of a ZooKeeper subtree, as Kazoo's
// and Curator's TreeCache do: the data, Stat and children of every node
// under a root, kept current, with an event for every change.
//
// Quick start:
//
//	tc, err := cache.NewTreeCache(c, "/services")
//	if err != nil { ... }
//	if err := tc.Start(ctx); err != nil { ... }
//	defer tc.Close()
//	for ev := range tc.Events() {
//		switch ev.Type {
//		case cache.Initialized:
//			kids, _ := tc.Children("/services")
//			log.Print("services: ", kids)
//		case cache.NodeAdded, cache.NodeUpdated:
//			log.Printf("%s = %q", ev.Path, ev.Data)
//		case cache.NodeRemoved:
//			log.Printf("%s gone", ev.Path)
//		}
//	}
//
// On ZooKeeper 3.6 and later the cache uses one persistent recursive watch
// on the root; on older servers (or with OneShotWatches) a data and a child
// one-shot watch per node. It loads the tree with many reads in flight
// (multi-reads of up to 128 nodes with a persistent watch). Changes are
// never applied from events alone: an event makes the cache read the node
// again, reads of one node run one at a time, and the read decides: a new
// czxid means the node was deleted and created again (NodeRemoved, then
// NodeAdded), a new mzxid that its data changed (NodeUpdated). After a
// reconnect or a session loss the cache reads every node again (listing
// children where the node's pzxid moved) and reports the differences, so a
// node deleted and re-created while the client was cut off is reported even
// when its version is the same (Curator's CuratorCache compares versions
// only and misses it). NodeAdded events go parent first, NodeRemoved
// events deepest first.
//
// Views: WithMaxDepth limits the depth cached and WithFilter leaves out
// chosen subtrees (Curator's TreeCache setMaxDepth and TreeCacheSelector);
// NewNodeCache caches one node (Curator's NodeCache: one non-recursive
// persistent watch, one read to load and one per change) and
// NewPathChildrenCache a node and its children (Curator's
// PathChildrenCache). Initialized is sent once, after the first load; the
// re-reads after a reconnect report only their differences.
//
// Nodes the client may not read (ACLs, CVE-2024-23944): a node whose ACL
// denies this client READ is never cached. A cached node whose ACL is
// changed to deny READ stays in the cache as last read: ZooKeeper 3.8.4
// and later 3.8 releases, 3.9.2 and later (and Debian's 3.8.0 package)
// send no watch event for a node the watcher may not READ, so its later
// changes are not seen, and with a persistent recursive watch neither is
// its deletion (one-shot watches see it through the parent's child watch).
// It leaves the cache when the cache reads it again: after a reconnect or
// a session loss (or with one-shot watches, a change of its parent's
// children). Older servers send the events; the cache then reads the node,
// is refused, and reports NodeRemoved. Give a cache's client READ on the
// whole subtree it watches.
//
// Concurrency: Get and Children read the cache from any goroutine. Events
// are delivered in order through an unbounded queue, so a slow reader of
// Events never delays the client or the cache itself. Close may be called
// from any goroutine; it removes the cache's server-side watches.
package cache
