// Package chaos is zerohop's chaos harness: it starts real cmd/node
// processes (on loopback, or each in its own network namespace), drives
// them with cmd/loadgen, injects a fault (SIGKILL, SIGSTOP, SIGTERM, a
// partition, a rogue peer, hostile frames), watches who serves which
// shard, and checks the result against the acceptance criteria of issue 9.
// cmd/chaos is its command line; `make chaos` runs every scenario.
//
// Cheat sheet:
//
//	h, err := chaos.NewHarness(ctx, chaos.Config{Bin: dir, NodeBin: ..., LoadgenBin: ...})
//	defer h.Close()                       // stops every process, deletes every namespace
//	res := h.Run(ctx, "follower-kill")    // one scenario; res.Violations, res.Figures
//	chaos.Scenarios()                     // the stable scenario names
//
// Pieces, one file each:
//
//   - overlap.go: the ownership ledger. Claims from NodeState (keyed by node,
//     incarnation, type, shard, epoch and since) become intervals on the
//     machine's CLOCK_MONOTONIC timeline; Overlaps lists two different node
//     incarnations serving one shard at one instant. Pure.
//   - watcher.go: polls GetNodeState (and subscribes to the topology) on
//     every node, one goroutine per node with its own deadline, so a paused
//     or dead node never delays the others.
//   - rawconn.go: a minimal Casty v1 connection (handshake with the zerohop
//     extension, message frames, replies by path) for the watcher and the
//     hostile scenarios.
//   - proc.go, cluster.go: node processes in their own process groups, logs
//     per node, READY detection, signals, restart at the same addresses.
//   - netns.go: the namespace plan (hub bridge, one namespace per node, a
//     client namespace, 10.213.0.0/24), partitions by blackhole routes, and
//     teardown, including stale namespaces of dead runs (prefix "zhc-").
//   - flags.go: which flags the node and loadgen binaries support (from
//     their -h output), so the harness passes only those.
//   - series.go: per-shard tell counts over time (loadgen -series, or the
//     node-stats poller) and the rate-recovery computation. Pure.
//   - loadgen.go: one loadgen run and its JSON report, read defensively:
//     a field loadgen does not report yet is "not available", never 0.
//   - scenario*.go: the scenarios and their checks; thresholds are the
//     named constants in thresholds.go.
//
// Results: every check ends as passed, violated, or unchecked (the data
// it needs is not available from today's binaries). A violation fails the
// scenario; an unchecked check fails it only in strict mode.
//
// Clocks: fault times are taken with CLOCK_MONOTONIC (monoNow), the clock
// of NodeState, so watcher intervals and fault instants share one
// timeline on one machine.
//
// Concurrency: a Harness is used by one goroutine (the driver); it owns
// the watcher's and pollers' goroutines, and Close waits for all of them.
// Close is idempotent and safe to call from a signal handler's goroutine
// while a scenario runs (it kills the processes the scenario waits on).
package chaos
