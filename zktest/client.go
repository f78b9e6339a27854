package zktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
)

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Client returns a client connected to the cluster with a fresh, unique
// chroot (created first), so tests can run in parallel without seeing each
// other's nodes. The client is closed, and its chroot deleted, at cleanup.
// opts are passed to keeper.Connect after the defaults.
func (c *Cluster) Client(t testing.TB, opts ...keeper.Option) *keeper.Client {
	t.Helper()
	root := "/" + ChrootName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := keeper.Connect(ctx, c.Servers())
	if err != nil {
		t.Fatalf("zktest: connect: %v", err)
	}
	if _, err := admin.Create(ctx, root, nil); err != nil {
		admin.Close()
		t.Fatalf("zktest: create chroot %s: %v", root, err)
	}
	cl, err := keeper.Connect(ctx, c.Servers()+root, opts...)
	if err != nil {
		admin.Close()
		t.Fatalf("zktest: connect with chroot: %v", err)
	}
	t.Cleanup(func() {
		cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin.DeleteAll(ctx, root); err != nil {
			t.Logf("zktest: cleaning up %s: %v", root, err)
		}
		admin.Close()
	})
	return cl
}

// ChrootName returns a unique node name derived from name (a test name).
func ChrootName(name string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := unsafeChars.ReplaceAllString(name, "_")
	if len(s) > 60 {
		s = s[:60]
	}
	return fmt.Sprintf("%s-%s", s, hex.EncodeToString(b[:]))
}

// ExpireSession expires the client's current session on the server for
// real: it resumes the session from a second connection and closes it
// there, as a server-side expiry would end it. The client notices on its
// next contact (its connection is closed by the server) and reports Lost.
func ExpireSession(ctx context.Context, cl *keeper.Client) error {
	id, pw := cl.Session()
	if id == 0 {
		return fmt.Errorf("zktest: client has no session")
	}
	servers := cl.Server()
	if servers == "" {
		return fmt.Errorf("zktest: client is not connected")
	}
	other, err := keeper.Connect(ctx, servers, keeper.WithSession(id, pw), keeper.WithNoAutoResession())
	if err != nil {
		return fmt.Errorf("zktest: resume session %x: %w", id, err)
	}
	return other.Close()
}
