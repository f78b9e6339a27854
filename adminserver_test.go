package keeper_test

import (
	"errors"
	"testing"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// TestAdminCommandAuth: the AdminServer answers plain commands without
// credentials; from 3.9 its snapshot command needs an identity with ALL on
// "/" (digest, sent as the Authorization header), and 3.9.4 on checks that
// permission (CVE-2025-58457). Before 3.9 there is no snapshot command.
func TestAdminCommandAuth(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	cl := zktest.Start(t, zktest.Config("admin.enableServer", "true"), zktest.Config("admin.snapshot.enabled", "true"))
	addr := cl.AdminAddr(0)
	out, err := keeper.AdminCommand(ctx, addr, "ruok")
	if err != nil {
		t.Fatalf("ruok: %v", err)
	}
	if out["command"] != "ruok" {
		t.Fatalf("ruok = %v", out)
	}
	if _, err := keeper.AdminCommand(ctx, addr, "no_such_command"); err == nil {
		t.Fatal("an unknown command was accepted")
	}
	if _, err := keeper.AdminCommand(ctx, addr, "../x"); !errors.Is(err, keeper.ErrBadArguments) {
		t.Fatalf("a command with a slash: %v", err)
	}

	c, err := keeper.Connect(ctx, cl.Servers(), keeper.WithAuth("digest", []byte("admin:secret")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.ServerVersion().AtLeast(3, 9, 0) {
		if _, err := keeper.AdminCommand(ctx, addr, "snapshot", keeper.AdminParam("streaming", "false")); err == nil {
			t.Fatalf("snapshot accepted by %s", c.ServerVersion())
		}
		t.Skipf("%s has no authenticated AdminServer commands", c.ServerVersion())
	}
	// Only admin may do everything on "/"; reader may only read.
	if _, err := c.SetACL(ctx, "/", []keeper.ACL{
		keeper.DigestACL(keeper.PermAll, "admin", "secret"),
		keeper.DigestACL(keeper.PermRead, "reader", "pw"),
	}, -1); err != nil {
		t.Fatal(err)
	}
	snapshot := func(opts ...keeper.AdminOption) error {
		_, err := keeper.AdminCommand(ctx, addr, "snapshot", append(opts, keeper.AdminParam("streaming", "false"))...)
		return err
	}
	if err := snapshot(); !errors.Is(err, keeper.ErrAuthFailed) {
		t.Fatalf("snapshot without credentials: %v", err)
	}
	if err := snapshot(keeper.AdminAuth("digest", "admin:wrong")); !errors.Is(err, keeper.ErrAuthFailed) && !errors.Is(err, keeper.ErrNoAuth) {
		t.Fatalf("snapshot with a wrong password: %v", err)
	}
	if c.ServerVersion().AtLeast(3, 9, 4) {
		if err := snapshot(keeper.AdminAuth("digest", "reader:pw")); !errors.Is(err, keeper.ErrNoAuth) {
			t.Fatalf("snapshot by an identity with only READ on /: %v", err)
		}
	}
	if err := snapshot(keeper.AdminAuth("digest", "admin:secret")); err != nil {
		t.Fatalf("snapshot as admin: %v", err)
	}
}
