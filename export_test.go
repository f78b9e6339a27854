package keeper

import (
	"runtime"
	"strings"
	"time"
)

// WithInitialXid makes the client's xids start after x, so a test can
// cross the wrap-around at MaxInt32 quickly.
func WithInitialXid(x int32) Option { return func(c *config) { c.initialXid = x } }

// WithPingInterval makes the client ping an idle connection every d
// instead of every third of the session timeout.
func WithPingInterval(d time.Duration) Option { return func(c *config) { c.pingEvery = d } }

// CountKeeperGoroutines returns how many goroutines run the client's own
// code (engine, listeners, watchers).
func CountKeeperGoroutines() int { return countOwnGoroutines() }

func countOwnGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/keeper-go/keeper.(*") && !strings.Contains(g, "_test.") {
			n++
		}
	}
	return n
}

// SocketUnowned reports whether the client's live connection has its socket
// unowned: left by a caller after its reply, for the next caller to claim
// or for the reader goroutine's idle timer to take back.
func SocketUnowned(c *Client) bool {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn == nil {
		return false
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.rstate == readUnowned
}
