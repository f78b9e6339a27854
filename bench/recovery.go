package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/discovery"
	"github.com/keeper-go/keeper/recipe/persistent"
	"github.com/keeper-go/keeper/zktest"
)

// recoveryTimeout is the session timeout of the client whose session
// measurement 9 expires.
const recoveryTimeout = 4 * time.Second

// recipeLatency is measurement 9 (Keeper only): how fast two of Curator's
// recipes react. (a) persistent.Node, ephemeral: from the server deleting
// the node of an expired session (an observer's watch fires) to the node
// existing again for the new session (the observer's next watch fires);
// the client goes through a proxy that is paused while the session is
// expired, as a client cut off would be. (b) discovery: from Register on
// one client to a ServiceCache on another client reporting the instance.
func (e *env) recipeLatency(string) error {
	quick := e.sizes == quickSizes
	expiries, registrations := 20, 300
	if quick {
		expiries, registrations = 5, 50
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	back, err := e.nodeRecovery(ctx, expiries)
	if err != nil {
		return fmt.Errorf("persistent node: %w", err)
	}
	seen, err := e.discoveryLatency(ctx, registrations)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	terms := 30
	if quick {
		terms = 5
	}
	cutoff, clean, err := e.leaderFailover(ctx, terms)
	if err != nil {
		return fmt.Errorf("leader failover: %w", err)
	}
	jcut, jclean, jerr := e.curatorFailover(ctx, terms)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	label := fmt.Sprintf("9 · PersistentNode back after a session expiry (session %v)", recoveryTimeout)
	fig(label+" p50", "ms").add(nameKeeper, ms(percentile(back, 50))).
		goal("≤ session timeout", atMost(0, 0, ms(recoveryTimeout)))
	fig(label+" p99", "ms").add(nameKeeper, ms(percentile(back, 99))).
		goal("≤ session timeout", atMost(0, 0, ms(recoveryTimeout)))
	label = fmt.Sprintf("9 · LeaderSelector: leader cut off to the next leading (session %v)", recoveryTimeout)
	fig(label+" p50", "ms").add(nameKeeper, ms(percentile(cutoff, 50))).
		goal("≤ session timeout + 1s", atMost(0, 0, ms(recoveryTimeout+time.Second)))
	fig(label+" p99", "ms").add(nameKeeper, ms(percentile(cutoff, 99))).
		goal("≤ session timeout + 1s", atMost(0, 0, ms(recoveryTimeout+time.Second)))
	fig("9 · LeaderSelector: clean hand-over to the next leading p50", "ms").add(nameKeeper, ms(percentile(clean, 50)))
	fig("9 · LeaderSelector: clean hand-over to the next leading p99", "ms").add(nameKeeper, ms(percentile(clean, 99)))
	if jerr != nil {
		fmt.Println("  Curator's LeaderSelector not measured:", jerr)
	} else {
		// Curator's figures sit in their own rows (the table's columns
		// are Go clients).
		fig("9 · Curator 5.4 LeaderSelector: leader cut off to the next leading p50", "ms").add(nameKeeper, ms(percentile(jcut, 50)))
		fig("9 · Curator 5.4 LeaderSelector: leader cut off to the next leading p99", "ms").add(nameKeeper, ms(percentile(jcut, 99)))
		fig("9 · Curator 5.4 LeaderSelector: clean hand-over to the next leading p50", "ms").add(nameKeeper, ms(percentile(jclean, 50)))
		fig("9 · Curator 5.4 LeaderSelector: clean hand-over to the next leading p99", "ms").add(nameKeeper, ms(percentile(jclean, 99)))
	}
	fig("9 · Discovery: Register to another client's ServiceCache p50", "ms").add(nameKeeper, ms(percentile(seen, 50)))
	fig("9 · Discovery: Register to another client's ServiceCache p99", "ms").add(nameKeeper, ms(percentile(seen, 99)))
	return nil
}

// nodeRecovery expires the session of a client holding an ephemeral
// persistent.Node n times and returns the sorted recovery times.
func (e *env) nodeRecovery(ctx context.Context, n int) ([]time.Duration, error) {
	p, err := zktest.NewProxy(e.addr)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	via := keeper.WithDialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, p.Addr())
	})
	c, err := keeper.Connect(ctx, e.servers, keeper.WithSessionTimeout(recoveryTimeout), via)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	obs, err := keeper.Connect(ctx, e.servers)
	if err != nil {
		return nil, err
	}
	defer obs.Close()
	path := e.unique("pnode")
	node, err := persistent.NewNode(c, path, nil, persistent.Ephemeral())
	if err != nil {
		return nil, err
	}
	defer node.Close(context.Background())
	if err := node.WaitForInitialCreate(ctx); err != nil {
		return nil, err
	}
	var out []time.Duration
	for range n {
		st, ch, err := obs.ExistsW(ctx, path)
		if err != nil {
			return nil, err
		}
		if st == nil || st.EphemeralOwner != c.SessionID() {
			return nil, fmt.Errorf("node %s not held by 0x%x: %+v", path, c.SessionID(), st)
		}
		p.Pause()
		err = zktest.ExpireSession(ctx, c)
		p.Resume()
		if err != nil {
			return nil, err
		}
		var gone time.Time
		select {
		case ev := <-ch:
			gone = time.Now()
			if ev.Type != keeper.EventNodeDeleted {
				return nil, fmt.Errorf("observer saw %v, want the node deleted", ev.Type)
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		st, back, err := obs.ExistsW(ctx, path)
		if err != nil {
			return nil, err
		}
		if st == nil {
			select {
			case <-back:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		out = append(out, time.Since(gone))
	}
	slices.Sort(out)
	return out, nil
}

// discoveryLatency registers n instances one after another on one client
// and returns the sorted times until a ServiceCache on another client
// reported each.
func (e *env) discoveryLatency(ctx context.Context, n int) ([]time.Duration, error) {
	a, err := keeper.Connect(ctx, e.servers)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	b, err := keeper.Connect(ctx, e.servers)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	base := e.unique("disc")
	da, err := discovery.New[json.RawMessage](a, base)
	if err != nil {
		return nil, err
	}
	defer da.Close(context.Background())
	db, err := discovery.New[json.RawMessage](b, base)
	if err != nil {
		return nil, err
	}
	sc, err := db.NewCache(ctx, "svc")
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	select {
	case <-sc.Ready():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var out []time.Duration
	for i := range n {
		id := "i" + strconv.Itoa(i)
		t0 := time.Now()
		if err := da.Register(ctx, discovery.Instance[json.RawMessage]{Name: "svc", ID: id, Address: "10.0.0.1", Port: 8080}); err != nil {
			return nil, err
		}
		for seen := false; !seen; {
			select {
			case ev, ok := <-sc.Events():
				if !ok {
					return nil, fmt.Errorf("cache ended: %v", sc.Err())
				}
				seen = ev.Type == discovery.InstanceAdded && ev.ID == id
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		out = append(out, time.Since(t0))
	}
	slices.Sort(out)
	return out, nil
}
