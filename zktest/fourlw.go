package zktest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// zktest keeps its own four-letter exchange and srvr parsing instead of
// calling keeper.Command and keeper.ParseSrvr: the harness decides from
// them whether a server is up, what mode it serves in and which zxid it
// has, and the package's tests check keeper.Command and the parsers
// against those very servers. Sharing the code would let one bug in the
// client both break a feature and hide it from its test (a misparsed
// reply making the harness wait on, or believe in, the wrong server).

// maxReply bounds the reply read by FourLetterWord (dump and wchp can be large).
const maxReply = 64 << 20

// defaultCommandTimeout bounds a four-letter command when ctx has no deadline.
const defaultCommandTimeout = 10 * time.Second

// FourLetterWord sends a four-letter command such as "srvr", "mntr" or
// "isro" to the server at addr on a fresh connection and returns its whole
// reply. ctx bounds the dial and the exchange; without a deadline, 10s does.
// The servers of a [Cluster] accept every command (4lw.commands.whitelist=*).
func FourLetterWord(ctx context.Context, addr, cmd string) (string, error) {
	if !isFourLetters([]byte(cmd)) {
		return "", fmt.Errorf("zktest: %q is not a four-letter command", cmd)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultCommandTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("zktest: %s %s: %w", cmd, addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", fmt.Errorf("zktest: %s %s: %w", cmd, addr, commandErr(ctx, err))
	}
	reply, err := io.ReadAll(io.LimitReader(conn, maxReply))
	if err != nil {
		return "", fmt.Errorf("zktest: %s %s: %w", cmd, addr, commandErr(ctx, err))
	}
	return string(reply), nil
}

// commandErr prefers the context's error over the deadline error it caused.
func commandErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}

// isFourLetters reports whether b is four ASCII letters, which is how a
// server tells a command from the length prefix of a frame.
func isFourLetters(b []byte) bool {
	if len(b) != 4 {
		return false
	}
	for _, c := range b {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// srvrInfo is what zktest reads from a srvr reply.
type srvrInfo struct {
	version string // "3.8.0"; "" when the line is missing or odd
	mode    string // "standalone", "leader", "follower", "observer", "read-only"; "" when not serving
	zxid    int64  // -1 when missing
}

// parseSrvr reads a srvr reply. A server that is up but not serving answers
// "This ZooKeeper instance is not currently serving requests", which has no
// Mode line.
func parseSrvr(reply string) srvrInfo {
	info := srvrInfo{zxid: -1}
	sc := bufio.NewScanner(strings.NewReader(reply))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(key) {
		case "Zookeeper version":
			info.version = parseVersion(value)
		case "Mode":
			info.mode = value
		case "Zxid":
			if z, err := strconv.ParseInt(strings.TrimPrefix(value, "0x"), 16, 64); err == nil {
				info.zxid = z
			}
		}
	}
	return info
}

// parseVersion takes the release number from the value of srvr's version
// line: "3.8.0-<commit>, built on <date>" (the part after the number differs
// between releases) gives "3.8.0". Anything without a dotted number gives "".
func parseVersion(s string) string {
	end := 0
	for end < len(s) && (s[end] == '.' || s[end] >= '0' && s[end] <= '9') {
		end++
	}
	v := strings.TrimRight(s[:end], ".")
	if !strings.Contains(v, ".") || strings.HasPrefix(v, ".") {
		return ""
	}
	return v
}
