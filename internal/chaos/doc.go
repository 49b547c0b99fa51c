// Package chaos is zerohop's chaos harness: it starts real cmd/node
// processes (on loopback, or each in its own network namespace), drives
// them with cmd/loadgen, injects a fault (SIGKILL, SIGSTOP, SIGTERM, a
// partition between nodes, the client's path to one node blackholed, a
// rogue peer, hostile frames), watches who serves which
// shard, and checks the result against the acceptance criteria of issue 9.
// cmd/chaos is its command line; `make chaos` runs every scenario,
// `make chaos-ci` the CI subset (TestChaosCI).
//
// Cheat sheet:
//
//	h, err := chaos.NewHarness(ctx, chaos.Config{NodeBin: ..., LoadgenBin: ...})
//	defer h.Close()                       // stops every process, deletes every namespace
//	res := h.Run(ctx, "follower-kill")    // one scenario; res.Checks, res.Figures
//	chaos.Scenarios()                     // the stable scenario names
//
// Every scenario runs authenticated members (a fresh random 32-byte
// -gossip-key per cluster), each with its -raft port (listen port + 2000
// on loopback; explicit in namespaces), a -data-dir, -lease NodeLease and a
// short -drain-window (NodeDrainWindow). NewHarness refuses binaries that
// lack a flag the harness needs (requiredNodeFlags, requiredLoadgenFlags).
//
// Binary variants (binary.go): pause-owner-binary, rolling-restart-binary,
// partition-binary and client-cut-binary run their scenario again over
// zhbin links, the
// negotiated binary fast path: every node with -binary -binary-window
// BinaryWindow (1024; compact heads at their default, 64), loadgen with
// -binary. Fault, load, checks and thresholds are the scenario's own; two
// checks more fail the variant when the fast path was not in use:
// zhbin-links (every client connection, reconnects included, negotiated
// zhbin with compact heads: loadgen's -json "client" counters) and
// zhbin-offered (every live member answers a zhbin offer with heads 64
// and window 1024). They are in "all" (make chaos), not in CI's subset.
//
// Pieces, one file each:
//
//   - overlap.go: the ownership ledger. Claims from NodeState (keyed by node,
//     incarnation, type, shard, epoch and since) become intervals on the
//     machine's CLOCK_MONOTONIC timeline, ended exactly by the node's
//     Released entries; Overlaps lists two different node incarnations
//     serving one shard at one instant; FailoverTime says when a dead
//     node's shards were claimed again; AppliedWithoutClaim compares a
//     node's tally polls with its claims (an entity run by a non-owner, or
//     a stale one after its shard or lease was gone). Pure.
//   - watcher.go: polls GetNodeState every 50 ms and GetShardTally every
//     100 ms on every node, one goroutine per poll and node with its own
//     deadline, so a paused or dead node never delays the others; records
//     the claims, the tallies and every members list.
//   - rawconn.go: a minimal Casty v1 connection (handshake with the zerohop
//     extension, message frames, replies by path) for the watcher and the
//     hostile scenarios.
//   - proc.go, harness.go: node processes in their own process groups, logs
//     per node, READY detection, signals, restart at the same addresses.
//   - netns.go: the namespace plan (hub bridge, one namespace per node, a
//     client namespace, 10.213.0.0/24), partitions by blackhole routes,
//     the client's path to one node cut by policy rules that drop what
//     arrives from the other side (CutClient: silent both ways, the nodes'
//     paths untouched), and teardown, including stale namespaces of dead
//     runs (prefix "zhc-").
//   - flags.go: which flags the node and loadgen binaries support (from
//     their -h output).
//   - series.go: loadgen's -series lines (t, tells_ok_by_shard,
//     tell_errors) placed on the monotonic timeline, the nodes' tallies as
//     a finer series, and the rate-recovery measures. Pure.
//   - loadgen.go: one loadgen run: its -json report (the loss accounting:
//     lost, state_lost by node and shard, failed_on_node, in_flight_lost,
//     unexplained_lost) and its -series file, read while it is written.
//   - scenario*.go: the scenarios and their checks; thresholds are the
//     named constants in thresholds.go. scenario_cut.go is client-cut:
//     the client cut off from an owner the cluster still trusts (its
//     tells fail fast, nothing accepted into the dead link, asks fail
//     rather than wait, no shard moved, everything lost counted, rate
//     back within ClientCutRecoveryMax of the heal).
//   - binary.go: the binary variants (a scenario's binary option), the
//     zhbin checks (zhbinLinks, zhbinOffered: pure) and the zhbin
//     handshake probe.
//
// Measures:
//
//   - Failover: from the fault (kill, pause, cut) until a node other than
//     the victim claims every shard the victim claimed at the fault, from
//     the watcher's ledger.
//   - Rate recovery (pause-owner, pause-leader): tells to the shards the victim did not
//     own, (a) applied by the nodes (tallies, 300 ms windows): when they
//     are back to 80% of the rate before the pause; (b) accepted by the
//     client (loadgen -series, 1 s samples): every sample from some point
//     to the end of the load at 80%. Both within 3 s.
//   - Loss: loadgen's accounting; unexplained_lost must be 0 everywhere,
//     and nothing may be lost on the nodes a fault did not hit.
//   - Stale execution: no two claims of one shard overlap, and no node's
//     tally grows for a shard it does not claim.
//
// Clocks: fault times are taken with CLOCK_MONOTONIC (monoNow), the clock
// of NodeState, so watcher intervals and fault instants share one
// timeline on one machine. loadgen's series counts seconds from its own
// start: the harness reads the file as it is written and places that
// start from when each line appeared (EstimateStart). events.txt,
// claims.tsv and tallies.tsv in a scenario's log directory hold the
// timeline for a diagnosis.
//
// Results: every check ends as passed or violated (or unchecked: the data
// it needs was not available in this run; a failure in strict mode). A
// scenario fails on a violation or when it could not run to its end.
//
// Concurrency: a Harness is used by one goroutine (the driver); it owns
// the watcher's goroutines and each loadgen run's series reader, and Close
// waits for all of them. Close is idempotent and safe to call from a
// signal handler's goroutine while a scenario runs (it kills the processes
// the scenario waits on).
package chaos
