package partition

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/lock"
)

var fast = []Option{WithTimeBoundary(300 * time.Millisecond), WithMaxReactionTime(200 * time.Millisecond)}

func opts(id string, more ...Option) []Option {
	return append(append([]Option{WithIdentifier(id)}, fast...), more...)
}

func start(t *testing.T, c *keeper.Client, set []string, o ...Option) *SetPartitioner {
	t.Helper()
	p := New(c, "/part", set, o...)
	if err := p.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Finish(context.Background()) })
	return p
}

func acquired(t *testing.T, p *SetPartitioner, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 60*time.Second)
	defer cancel()
	if err := p.WaitForAcquire(ctx); err != nil {
		t.Fatalf("%s: WaitForAcquire: %v", p.Identifier(), err)
	}
	if got := p.Partitions(); want != nil && !slices.Equal(got, want) {
		t.Fatalf("%s owns %q, want %q", p.Identifier(), got, want)
	}
}

// releaseWhenAsked answers Release with ReleaseSet, as a Kazoo worker's
// loop does, until the partitioner fails.
func releaseWhenAsked(p *SetPartitioner) {
	go func() {
		for st := range p.Changes() {
			if st == Release {
				p.ReleaseSet(context.Background())
			}
		}
	}()
}

func TestRoundRobin(t *testing.T) {
	t.Parallel()
	set := []string{"d", "a", "c", "b", "e"}
	if got := RoundRobin("y", []string{"z", "x", "y"}, set); !slices.Equal(got, []string{"b", "e"}) {
		t.Fatalf("RoundRobin = %q", got)
	}
	if got := RoundRobin("q", []string{"x"}, set); got != nil {
		t.Fatalf("not a member: %q", got)
	}
}

func TestPartitionerLayout(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	p := start(t, c, []string{"b", "a"}, opts("w-1")...)
	acquired(t, p, "a", "b")
	kids, _ := c.Children(ctx, "/part/party")
	if len(kids) != 1 || !regexp.MustCompile(`^[0-9a-f]{32}-w-1$`).MatchString(kids[0]) {
		t.Fatalf("party %q", kids)
	}
	for _, item := range []string{"a", "b"} {
		locks, _ := c.Children(ctx, "/part/locks/"+item)
		if len(locks) != 1 || !regexp.MustCompile(`^[0-9a-f]{32}__lock__\d{10}$`).MatchString(locks[0]) {
			t.Fatalf("locks of %s: %q", item, locks)
		}
		if data, _, _ := c.Get(ctx, "/part/locks/"+item+"/"+locks[0]); len(data) != 0 {
			t.Fatalf("lock data %q, want empty as Kazoo's", data)
		}
	}
	if err := p.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if p.State() != Failure || !errors.Is(p.Err(), ErrFinished) {
		t.Fatalf("after Finish: %v, %v", p.State(), p.Err())
	}
	testutil.AssertClean(t, srv, "/part/party", c)
	testutil.AssertClean(t, srv, "/part/locks/a", c)
	testutil.AssertClean(t, srv, "/part/locks/b", c)
}

func TestPartitionerSplit(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	set := []string{"0", "1", "2", "3", "4", "5"}
	a := start(t, c, set, opts("a")...)
	releaseWhenAsked(a)
	acquired(t, a, set...)
	b := start(t, testutil.Connect(t, srv, c), set, opts("b")...)
	releaseWhenAsked(b)
	testutil.WaitFor(t, 60*time.Second, "a two-way split", func() bool {
		return slices.Equal(a.Partitions(), []string{"0", "2", "4"}) && slices.Equal(b.Partitions(), []string{"1", "3", "5"})
	})
	cc := start(t, testutil.Connect(t, srv, c), set, opts("c")...)
	releaseWhenAsked(cc)
	testutil.WaitFor(t, 60*time.Second, "a three-way split", func() bool {
		return slices.Equal(a.Partitions(), []string{"0", "3"}) && slices.Equal(b.Partitions(), []string{"1", "4"}) &&
			slices.Equal(cc.Partitions(), []string{"2", "5"})
	})
	// One leaves: the others share its items.
	if err := cc.Finish(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "a two-way split again", func() bool {
		return slices.Equal(a.Partitions(), []string{"0", "2", "4"}) && slices.Equal(b.Partitions(), []string{"1", "3", "5"})
	})
}

// TestPartitionerHeldLock: a lock held outside the party makes the
// partitioner fail after the acquire timeout instead of allocating forever
// (kazoo#392); released in time, it is simply waited for.
func TestPartitionerHeldLock(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	squatter := lock.New(other, "/part/locks/y", "squatter")
	if err := squatter.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	p := start(t, c, []string{"x", "y"}, opts("w", WithAcquireTimeout(2*time.Second))...)
	err := p.WaitForAcquire(ctx)
	if !errors.Is(err, ErrAcquireTimeout) || p.State() != Failure {
		t.Fatalf("WaitForAcquire with a lock held elsewhere = %v (state %v)", err, p.State())
	}
	// Its locks were released when it failed.
	testutil.WaitFor(t, 30*time.Second, "x's lock to go", func() bool {
		kids, err := c.Children(ctx, "/part/locks/x")
		return err == nil && len(kids) == 0
	})

	q := start(t, c, []string{"x", "y"}, opts("v", WithAcquireTimeout(time.Minute), WithMaxReactionTime(20*time.Second))...)
	testutil.WaitFor(t, 30*time.Second, "q to queue for y", func() bool {
		kids, _ := c.Children(ctx, "/part/locks/y")
		return len(kids) == 2
	})
	if q.State() != Allocating {
		t.Fatalf("state %v while y is held", q.State())
	}
	if err := squatter.Release(ctx); err != nil {
		t.Fatal(err)
	}
	acquired(t, q, "x", "y")
}

// TestPartitionerChangeDuringLastLock: a member joins while the first one
// waits for its last lock; the first must not reach Acquired with the
// whole set (kazoo PR #259 lost such a change).
func TestPartitionerChangeDuringLastLock(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	squatter := lock.New(other, "/part/locks/4", "squatter")
	if err := squatter.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	set := []string{"1", "2", "3", "4"}
	// A long reaction time: the join happens during one wait for "4".
	a := start(t, c, set, WithIdentifier("a"), WithTimeBoundary(300*time.Millisecond), WithMaxReactionTime(5*time.Second))
	releaseWhenAsked(a)
	testutil.WaitFor(t, 30*time.Second, "a to wait for its last lock", func() bool {
		kids, _ := c.Children(ctx, "/part/locks/4")
		return len(kids) == 2
	})
	b := start(t, testutil.Connect(t, srv, c), set, opts("b")...)
	releaseWhenAsked(b)
	// The join is on the server; release the last lock at once.
	if err := squatter.Release(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "a two-way split", func() bool {
		return slices.Equal(a.Partitions(), []string{"1", "3"}) && slices.Equal(b.Partitions(), []string{"2", "4"})
	})
}

func TestPartitionerSessionLoss(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c, px := testutil.Proxied(t, srv)
	p := start(t, c, []string{"a"}, opts("w")...)
	acquired(t, p, "a")
	testutil.Expire(t, ctx, c, px)
	testutil.WaitFor(t, 30*time.Second, "Failure", func() bool { return p.State() == Failure })
	if !errors.Is(p.Err(), keeper.ErrSessionExpired) {
		t.Fatalf("Err = %v", p.Err())
	}
	if p.Partitions() != nil {
		t.Fatal("Partitions after Failure")
	}
}

func TestPartitionerBadInput(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	for i, p := range []*SetPartitioner{
		New(c, "/part", []string{"a/b"}),
		New(c, "/part", []string{""}),
		New(c, "part", []string{"a"}),
		New(c, "/part", []string{"a"}, WithIdentifier("")),
		New(c, "/part", []string{"a"}, WithTimeBoundary(0)),
		New(c, "/part", []string{"a"}, WithPartitionFunc(nil)),
	} {
		if err := p.Start(ctx); err == nil {
			t.Fatalf("case %d: Start accepted bad input", i)
		}
	}
	closed := testutil.Connect(t, srv, c)
	closed.Close()
	if err := New(closed, "/part", []string{"a"}).Start(ctx); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("closed client: %v", err)
	}
	if kids, _ := c.Children(ctx, "/"); len(kids) != 0 {
		t.Fatalf("nodes written: %q", kids)
	}
	_ = fmt.Sprint()
}
