package election_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/election"
	"github.com/keeper-go/keeper/recipe/internal/interop"
)

// curatorSelectorSource is a Java program that runs one Curator
// LeaderSelector with autoRequeue, driven by commands on stdin: "start PATH
// ID"; "release", which ends the current takeLeadership; "participants",
// answered "participants id:leader,..."; "close"; "quit". It prints
// "leading" when takeLeadership begins and "ended" when it returns.
const curatorSelectorSource = `
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class SelectorDriver {
    static synchronized void out(String s) {
        System.out.println(s);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder()
            .connectString(args[0])
            .sessionTimeoutMs(10000)
            .connectionTimeoutMs(15000)
            .retryPolicy(new ExponentialBackoffRetry(100, 10));
        if (args.length > 1 && !args[1].isEmpty()) {
            b = b.namespace(args[1]);
        }
        CuratorFramework c = b.build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
            out("error not connected");
            return;
        }
        out("ready");
        final Semaphore release = new Semaphore(0);
        LeaderSelector sel = null;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split(" ");
            try {
                switch (f[0]) {
                case "start":
                    sel = new LeaderSelector(c, f[1], new LeaderSelectorListenerAdapter() {
                        public void takeLeadership(CuratorFramework cf) throws Exception {
                            out("leading");
                            try { release.acquire(); } finally { out("ended"); }
                        }
                    });
                    sel.setId(f[2]);
                    sel.autoRequeue();
                    sel.start();
                    out("started");
                    break;
                case "release":
                    release.release();
                    break;
                case "participants": {
                    List<String> ps = new ArrayList<>();
                    for (Participant p : sel.getParticipants()) {
                        ps.add(p.getId() + ":" + p.isLeader());
                    }
                    out("participants " + String.join(",", ps));
                    break;
                }
                case "close":
                    sel.close();
                    out("closed");
                    break;
                case "quit":
                    c.close();
                    out("bye");
                    return;
                default:
                    out("error unknown command " + f[0]);
                }
            } catch (Exception e) {
                out("error " + e);
            }
        }
    }
}
`

// TestCuratorLeaderSelector runs a Keeper LeaderSelector against Curator's
// on the same path, both with autoRequeue: they take turns, never lead at
// once, and list the same participants.
func TestCuratorLeaderSelector(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorLeaderSelector)
}

func testCuratorLeaderSelector(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	j := startJava(t, curator, srv.Servers()+c.Chroot(), "SelectorDriver", curatorSelectorSource)
	javaParticipants := func() string {
		j.send(t, "participants")
		return strings.TrimPrefix(j.await(t, "participants "), "participants ")
	}

	// Curator's leads first.
	j.send(t, "start /sel java")
	j.await(t, "started")
	j.await(t, "leading")
	leading := make(chan struct{}, 4)
	release := make(chan struct{}, 4)
	s := election.NewLeaderSelector(c, "/sel", "go", func(ctx context.Context) {
		leading <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
	}, election.AutoRequeue())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "ours queued behind Curator's", func() bool {
		ps, err := s.Participants(ctx)
		return err == nil && slices.Equal(ps, []election.Participant{{ID: "java", Leader: true}, {ID: "go"}})
	})
	if ps := javaParticipants(); ps != "java:true,go:false" {
		t.Fatalf("Curator's participants %q", ps)
	}
	testutil.WaitFor(t, 30*time.Second, "ours watching Curator's node", func() bool { return len(testutil.ChrootWatches(ctx, t, srv.Addr(0), c)) > 0 })
	if s.HasLeadership() {
		t.Fatal("ours leads while Curator's does")
	}

	// Curator's term ends: ours leads, Curator's requeues behind it.
	j.send(t, "release")
	j.await(t, "ended")
	<-leading
	testutil.WaitFor(t, 30*time.Second, "Curator's requeued", func() bool { return javaParticipants() == "go:true,java:false" })
	if j.seen("leading") {
		t.Fatal("Curator's leads while ours does")
	}

	// Ours returns: Curator's leads again, ours requeues.
	release <- struct{}{}
	j.await(t, "leading")
	testutil.WaitFor(t, 30*time.Second, "ours requeued", func() bool {
		ps, err := s.Participants(ctx)
		return err == nil && slices.Equal(ps, []election.Participant{{ID: "java", Leader: true}, {ID: "go"}})
	})
	if s.HasLeadership() {
		t.Fatal("ours leads while Curator's does")
	}
	// Closing Curator's interrupts its term and hands leadership to ours.
	j.send(t, "close")
	j.await(t, "closed")
	<-leading
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/sel", c)
}
