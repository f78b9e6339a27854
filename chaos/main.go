// Command chaos runs Keeper against a 3-member ZooKeeper ensemble while a
// seeded scheduler injects faults, and checks that the client kept its
// promises: a linearizable history of versioned writes, acknowledged writes
// present exactly once, mutual exclusion under the lock recipe, observers
// that end with the server's tree, and nothing left behind by Close.
//
//	go run . -duration 10m -seed 42
//
// The run prints its seed first, a table of checks at the end, and exits 1
// on any violation; running again with the same -seed replays the same
// sequence of faults (their timing relative to the workload varies).
//
// -break makes the workload misbehave on purpose, to show that the checks
// catch it: "lost" acts as the lock's holder through Suspended and Lost (as
// a lock recipe that never reported them would), "replay" sends a create
// again after a lost reply (as a client that replays writes would).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 2*time.Minute, "how long the workload runs under faults")
	flag.Uint64Var(&cfg.seed, "seed", 0, "seed of the fault scheduler and the workload (0: pick one)")
	flag.StringVar(&cfg.broken, "break", "", `misbehave on purpose: "lost" or "replay"`)
	flag.DurationVar(&cfg.sessionTimeout, "session-timeout", 4*time.Second, "the clients' session timeout")
	flag.BoolVar(&cfg.verbose, "v", false, "log every fault")
	flag.Parse()
	writeVisualizations = true
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())%1_000_000 + 1
	}
	switch cfg.broken {
	case "", "lost", "replay":
	default:
		fmt.Fprintf(os.Stderr, "chaos: -break %q: want lost or replay\n", cfg.broken)
		os.Exit(2)
	}
	fmt.Printf("chaos: seed %d, duration %v, session timeout %v\n", cfg.seed, cfg.duration, cfg.sessionTimeout)
	rep, err := run(cfg)
	if rep != nil {
		rep.print(os.Stdout)
	}
	replay := fmt.Sprintf("make chaos SEED=%d DURATION=%v", cfg.seed, cfg.duration)
	if err != nil {
		fmt.Printf("chaos: FAIL (seed %d): %v\nreplay: %s\n", cfg.seed, err, replay)
		os.Exit(1)
	}
	if rep.failed() {
		fmt.Printf("chaos: FAIL (seed %d): %d violation(s)\nreplay: %s\n", cfg.seed, rep.violationCount(), replay)
		os.Exit(1)
	}
	fmt.Printf("chaos: PASS (seed %d)\n", cfg.seed)
}
