// Command loadgen drives the counter workload (WORKLOAD.md) through the
// zerohop engine and proves how fast it goes and that nothing was lost.
//
//	go run ./cmd/loadgen                         # embedded 3-node cluster, 10 s
//	go run ./cmd/loadgen -duration 2s -json      # one JSON object on stdout
//	go run ./cmd/loadgen -contact 127.0.0.1:25520,127.0.0.1:25521 -system live
//	go run ./cmd/loadgen -out r1                 # keep the results (out.go)
//	go run ./cmd/loadgen compare r1 r2           # runs side by side (compare.go)
//	go run ./cmd/loadgen merge m1 m2             # concurrent processes as one (merge.go)
//	go run ./cmd/loadgen -slo p99=2ms            # knee search (slo.go)
//
// Without -contact it starts an embedded Go cluster (-nodes, default 3) in
// this process on free loopback ports, its nodes serving connections on
// the Go network poller (-node-transport net: with the client in the same
// process it measured 3.3x faster per round trip than gnet event loops;
// PERFORMANCE.md). With -contact it drives an external cluster: cmd/node
// processes or a real Casty v1 cluster.
//
// A run: optional raw loopback ceiling (-ceiling), warm-up (GetCount of
// every entity: resolves routes, starts the entities, records each
// counter's starting value), ResetStats to every node-stats service, a
// probe of the nodes' per-shard tallies (GetShardTally; Go nodes only), the
// load (tells of Increment{1} from -workers goroutines, at -rate or as fast
// as the client takes them, plus -ask-concurrency asks in flight, and the
// tallies polled every -tally-interval), drain (wait until the client has
// written everything it accepted), verification (GetCount of every entity
// again), a last round of tallies, node-stats, report.
//
// The report tells a loss (sent != delivered + failed) apart by cause:
// failed_on_client (accepted tells the client dropped later, per shard,
// from engine.Config.OnDrop) and, when the nodes serve tallies,
// state_lost (counters whose state ended, per node and shard),
// failed_on_node (dropped and counted by the nodes), in_flight_lost (in
// flight to a node that crashed), unexplained_lost (accounting.go);
// client_queue_dropped (frames of unknown shard the client discarded from
// its connection queues) is reported apart, with a hint when no crash
// explains it. An explained loss is printed prominently but does not fail
// the run.
//
// Exit status: 0 ok; 1 unexplained_lost != 0 (without tallies, e.g.
// against Casty: anything but failed_on_client lost), an entity that could
// not be verified, or a run that could not be done; 2 bad flags or
// configuration; 3 a -max-*/-min-* threshold broken; 130 interrupted. The
// first SIGINT or SIGTERM stops sending, then the run drains, verifies and
// reports the part that ran (interrupted: true; only a real loss counts as
// lost, and a loss still exits 1); a second one aborts at once, with no
// report.
//
// Progress lines go to stderr, the report to stdout, and with -series one
// JSON object per second of the load phase to a file: t (seconds since the
// start), tells_ok, tells_ok_by_shard, tell_errors by kind
// (owner_unavailable, buffer_full, abandoned, closed, no_route, no_quorum,
// shard_unavailable, other), asks_ok, ask_errors, interval_s,
// tells_per_sec, asks_per_sec, ask_p50_us, ask_p90_us, ask_p99_us,
// ask_max_us, buffered. Load shapes: -rate (constant or steps,
// schedule.go), -keys (keys.go), -clients (clients.go), -tells; pass/fail
// limits: threshold.go. See report for the accounting and load.go for the
// backpressure policy (a fault never stalls the workers: an unavailable
// owner fails a tell at once, and a shard refusing tells for 2 s is no
// longer retried until it takes one again).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	interrupt := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go onSignals(sig, interrupt, os.Stderr, os.Exit)
	os.Exit(runInterruptible(context.Background(), interrupt, os.Args[1:], os.Stdout, os.Stderr, openEngine))
}

// onSignals is main's signal handler: the first signal on sig (SIGINT or
// SIGTERM) closes interrupt, which ends the load and lets the run drain,
// verify and report; the second calls exit(exitInterrupted) whatever the
// run is doing (draining, verifying, writing the report), with no report.
func onSignals(sig <-chan os.Signal, interrupt chan<- struct{}, stderr io.Writer, exit func(code int)) {
	<-sig
	fmt.Fprintln(stderr, "loadgen: interrupted: stopping the load, then draining and verifying what was sent (interrupt again to abort)")
	close(interrupt)
	<-sig
	fmt.Fprintln(stderr, "loadgen: aborted: no report")
	exit(exitInterrupted)
}

// Exit statuses. When several apply, the first in this list wins: a loss
// (1) is reported even in an interrupted run, and an interrupted run is not
// judged against the thresholds (its figures cover part of the run).
const (
	exitOK          = 0
	exitLoss        = 1 // unexplained loss, an entity not verified, or a run that could not be done
	exitUsage       = 2 // bad flags or configuration
	exitThreshold   = 3 // a -max-*/-min-* threshold was broken
	exitInterrupted = 130
)

// clusterInfo describes what a target is connected to, for the report.
type clusterInfo struct {
	kind          string // "embedded" or "external"
	nodes         int
	nodeTransport string // embedded: the nodes' transport; external: ""
}

// opener connects a target as o says (starting an embedded cluster when
// o has no contacts). The target's Close also stops that cluster.
type opener func(ctx context.Context, o *options, stderr io.Writer) (target, clusterInfo, error)

// run is the whole command without interrupts; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, open opener) int {
	return runInterruptible(ctx, nil, args, stdout, stderr, open)
}

// configError is a bad setting found after the flags were parsed (a file
// that cannot be created): exit status 2.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// runInterruptible is the whole command. Closing interrupt (the first
// SIGINT or SIGTERM) ends the load early: the run then drains, verifies and
// reports what it sent, and exits 130 unless it found a loss. ctx ending
// aborts everything.
func runInterruptible(ctx context.Context, interrupt <-chan struct{}, args []string, stdout, stderr io.Writer, open opener) int {
	// The progress lines, the report and the embedded nodes' and the
	// client's loggers write from their own goroutines: one lock each for
	// stdout and stderr, whatever the writers are (a bytes.Buffer in tests
	// is not safe for concurrent use).
	stdout, stderr = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			return sub(args[1:], stdout, stderr)
		}
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if o.slo != nil {
		return runSLO(ctx, interrupt, o, stdout, stderr, open)
	}
	code := exitOK
	// The report is written as soon as it is complete, before the client
	// and the embedded cluster shut down, so a slow shutdown never hides it.
	err = execute(ctx, o, stderr, open, interrupt, func(rep *report) error {
		code = rep.exitCode()
		if o.out != "" {
			if err := rep.save(o.out); err != nil {
				return err
			}
		}
		if o.jsonOut {
			return rep.writeJSON(stdout)
		}
		return rep.writeTable(stdout, o.verbose)
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		var ce *configError
		if errors.As(err, &ce) {
			return exitUsage
		}
		return exitLoss
	}
	return code
}

// closeTarget shuts t down within closeTimeout. If Close itself does not
// return in time (a shutdown that ignores its context), closeTarget gives up
// waiting and reports it; the process is about to exit anyway.
func closeTarget(t target) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- t.Close(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("loadgen: close: %w", err)
		}
		return nil
	case <-time.After(closeTimeout + 5*time.Second):
		return fmt.Errorf("loadgen: close: still shutting down after %v; giving up", closeTimeout+5*time.Second)
	}
}

// lockedWriter serializes the writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
