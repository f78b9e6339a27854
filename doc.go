// Package keeper is a ZooKeeper client: one Client holds one session and
// keeps it alive across reconnects and server failover.
//
// Quick start:
//
//	c, err := keeper.Connect(ctx, "zk1:2181,zk2:2181,zk3:2181/app")
//	if err != nil { ... }
//	defer c.Close()
//	path, err := c.Create(ctx, "/jobs/job-", data, keeper.Sequential())
//	data, stat, err := c.Get(ctx, path)
//	_, err = c.Set(ctx, path, newData, stat.Version)
//
// # Connections and sessions
//
// The connect string lists servers ("host:port", "[ipv6]:port", port 2181
// by default) and an optional chroot that every path is relative to. Hosts
// are tried in random order; a dropped connection is re-established on
// another server within the session, and the client's state moves
// Connected → Suspended → Connected. When the server says the session
// expired, or when no server could be reached for nearly a session timeout
// (9/10 of it since the last request a server answered was sent; the
// client then presumes the session expired, before the server can, and
// makes sure it is closed), the state is Lost and a new session follows. Listen reports
// every change, in order, on its own goroutine.
//
// # Requests
//
// Every call takes a context, which bounds the wait, not the wire: a call
// whose ctx ends returns at once with an error matching ctx.Err(), and
// SafeToRetry tells whether its request was ever sent. Requests made while
// Suspended wait for the reconnect; requests in flight when a connection
// drops fail with ErrConnectionLoss, which for a write means the outcome is
// unknown. Reads are retried on connection loss by the client's Retry
// policy; writes never are. Server errors are *Error values matched with
// errors.Is against ErrNoNode, ErrNodeExists, ErrBadVersion and the other
// sentinels.
//
// # Asynchronous calls
//
// GetAsync, ExistsAsync, ChildrenAsync, CreateAsync, SetAsync, DeleteAsync
// and Txn.CommitAsync queue a request and return at once, so one goroutine
// can keep many requests in flight; each result goes to a callback. The
// callbacks run one at a time, in the order the calls were made, on a
// delivery goroutine of the client (never on the reader), and Flush waits
// for them. With many calls in flight the callbacks run in runs: a reply's
// callback may wait until about a quarter as many replies as are still
// awaited have come too (one wake-up of the delivery goroutine for them
// all); with one call in flight it runs as soon as its reply is read.
// Close returns once every callback has run, those of the calls made
// while it runs (which get ErrClosed) included.
// ctx bounds only the wait for room under WithMaxInflight; the
// asynchronous calls are not retried.
//
// # Watches
//
// GetW, ExistsW and ChildrenW set one-shot watches: each returns a channel
// that yields exactly one Event and is then closed. Watch sets a persistent
// (optionally recursive) watch whose events arrive through an unbounded,
// ordered queue. Watches survive reconnects: a one-shot watch still fires for
// a change made meanwhile, and a persistent watch that may have missed changes
// (cut off, or its session lost) delivers EventResync so its consumer re-reads.
//
// # Concurrency
//
// A Client is safe for concurrent use. Requests from many goroutines are
// pipelined on the one connection, and one goroutine at a time writes the
// socket, under the connection's write lock: a caller that finds the
// connection idle writes its own request; otherwise the connection's
// writer goroutine coalesces what is queued into few writes (the client's
// own requests, such as re-added watches, go the same way, even when the
// reader queues them). Before a connection is published the session loop
// alone writes it: handshake, authentication, restored watches. One
// goroutine at a time reads the socket and matches the replies: the
// connection's reader goroutine, or a caller that wrote its request onto
// an idle connection, which reads its own reply (so a sequential call
// crosses no goroutine) and hands the socket back as soon as anything
// else is awaited; an idle socket is the reader goroutine's again within
// 2 ms of a short exchange (after a long run of sequential calls, within
// 32 ms: the reader looks less often while callers keep the socket busy,
// since each look costs thread wake-ups), and an event that arrives while
// a caller reads is handled by that caller at once. After a reply that set
// a watch, and after the watches were restored on a new connection, the
// reader goroutine keeps the socket, so that the event is read when it
// comes. No user code runs on the reader or the writer. Close waits for
// every goroutine the client started, listeners included.
//
// On Linux a plain TCP connection (the default dialer's, also under TLS)
// is read and written with raw system calls on its non-blocking socket,
// which spares the runtime's bookkeeping of each call: net.Conn's calls
// wake the runtime's monitor thread after every idle spell, and a client
// waiting for its server is idle between almost every pair of calls. A
// connection of a dialer's own type (WithDialer) is used through its
// methods.
//
// Each synchronous call parks its goroutine until the reply, and the
// reader wakes it: with spare cores the Go runtime wakes an idle thread
// for it, which costs more CPU than the rest of the call (bench/RESULTS.md
// measures it). Many goroutines making synchronous calls pay that once a
// call; one goroutine keeping requests in flight with the asynchronous
// calls pays it once for a run of replies.
package keeper
