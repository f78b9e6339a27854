// Package watch keeps a function up to date with a node: DataWatch calls it
// with the node's data and Stat, ChildrenWatch with the node's children,
// first at once and then after every change, as Kazoo's DataWatch and
// ChildrenWatch do.
//
// Quick start:
//
//	w, err := watch.NewDataWatch(c, "/config", func(data []byte, st *keeper.Stat, ev *keeper.Event) bool {
//		if st == nil {
//			log.Print("no config yet")
//			return true
//		}
//		apply(data)
//		return true // keep watching; false stops
//	})
//	if err != nil { ... }
//	defer w.Close()
//
// Both are built on one-shot watches (GetW, ExistsW, ChildrenW), so they
// work on every ZooKeeper version. A watch survives reconnects (the client
// restores one-shot watches, and the server replays what was missed) and
// session expiry (the watch reads again on the new session). Every call is
// for a change actually seen (compared by czxid and mzxid, or pzxid and
// cversion), so one change never causes two calls; quick successive changes
// may be seen as one, but the last call always shows the latest state.
//
// Concurrency: each watch runs its function on a goroutine of its own, one
// call at a time, never on the client's I/O goroutines, so the function may
// call the client. A slow function delays only its own watch. Close may be
// called from any goroutine, including from the function itself; Done is
// closed once the watch has ended and removed its server-side watch.
package watch
