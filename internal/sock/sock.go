// Package sock gives the client a cheaper way to read and write a plain TCP
// connection on Linux, and counts the calls made that way.
//
// Go's net.Conn makes each read(2) and write(2) through syscall.Syscall,
// which tells the runtime that the goroutine enters a system call. The
// runtime then wakes its monitor thread (sysmon) when it had gone to sleep
// because every processor was idle: for a client, which waits for the
// server between almost every pair of calls, that is a futex wake-up and a
// thread switch per call. A profile of a sequential Get put a quarter of
// the client's CPU there.
//
// The socket is non-blocking, so its calls return at once and the runtime
// need not be told. Wrap's connection makes them with syscall.RawSyscall
// and, when the socket has nothing to read or no room to write, waits in
// the runtime's poller through syscall.RawConn, honouring the connection's
// deadlines as net.Conn does. At most every toldEvery it makes one call the
// usual way, so that while the connection is busy the monitor thread, which
// also preempts goroutines that run too long, is never kept asleep longer
// than its own longest tick.
package sock

import (
	"net"
	"sync/atomic"
	"time"
)

// toldEvery is how often, at most, a call goes through syscall.Syscall so
// that the runtime's monitor thread is woken: its own longest tick.
const toldEvery = int64(10 * time.Millisecond)

// lastTold is when (Unix nanoseconds) a call last went through
// syscall.Syscall; it is shared by every wrapped connection of the
// process, as the monitor thread is.
var lastTold atomic.Int64

// tell reports whether a call made at now should go through
// syscall.Syscall, and if so records it.
func tell(now int64) bool {
	last := lastTold.Load()
	if now-last < toldEvery && now >= last {
		return false
	}
	return lastTold.CompareAndSwap(last, now)
}

// counters of Read and Write calls on wrapped connections, each on its own
// cache line: one goroutine reads a connection while another writes it.
var counts struct {
	reads  atomic.Int64
	_      [56]byte
	writes atomic.Int64
	_      [56]byte
}

// Calls returns how many Read and Write calls wrapped connections have
// served since the process started (each is one system call unless the
// socket was not ready). Benchmarks use it to count requests per write.
func Calls() (reads, writes int64) { return counts.reads.Load(), counts.writes.Load() }

// Wrap returns nc wrapped when it is a plain *net.TCPConn on Linux, and nc
// itself otherwise (TLS, a dialer's own type, other systems). The wrapped
// connection has every method of *net.TCPConn; only Read and Write differ
// in how they call the kernel. One goroutine may read it while another
// writes it, as with net.Conn, but two must not read (or write) at once:
// the client has one reader and one writer per connection.
func Wrap(nc net.Conn) net.Conn { return wrap(nc) }
