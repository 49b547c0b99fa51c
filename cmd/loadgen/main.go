// Command loadgen drives the counter workload (WORKLOAD.md) through the
// zerohop engine and proves how fast it goes and that nothing was lost.
//
//	go run ./cmd/loadgen                         # embedded 3-node cluster, 10 s
//	go run ./cmd/loadgen -duration 2s -json      # one JSON object on stdout
//	go run ./cmd/loadgen -contact 127.0.0.1:25520,127.0.0.1:25521 -system live
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
// explains it. The exit status is 1 when unexplained_lost != 0 (without
// tallies, e.g. against Casty: when anything but failed_on_client was
// lost) or an entity could not be verified, 2 for bad flags; an explained
// loss is printed prominently but does not fail the run.
//
// Progress lines go to stderr, the report to stdout, and with -series one
// JSON object per second of the load phase to a file: t (seconds since the
// start), tells_ok, tells_ok_by_shard, tell_errors by kind
// (owner_unavailable, buffer_full, abandoned, closed, no_route, other),
// asks_ok, ask_errors. See report for the accounting and load.go for the
// backpressure policy (a fault never stalls the workers: an unavailable
// owner fails a tell at once, and a shard refusing tells for 2 s is no
// longer retried until it takes one again).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/zerohop/zerohop/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, openEngine)
	stop()
	os.Exit(code)
}

// clusterInfo describes what a target is connected to, for the report.
type clusterInfo struct {
	kind          string // "embedded" or "external"
	nodes         int
	nodeTransport string // embedded: the nodes' transport; external: ""
}

// opener connects a target as o says (starting an embedded cluster when
// o has no contacts). The target's Close also stops that cluster.
type opener func(ctx context.Context, o *options, stderr io.Writer) (target, clusterInfo, error)

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, open opener) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ok := false
	// The report is written as soon as it is complete, before the client
	// and the embedded cluster shut down, so a slow shutdown never hides it.
	err = execute(ctx, o, stderr, open, func(rep *report) error {
		ok = rep.OK
		if o.jsonOut {
			return rep.writeJSON(stdout)
		}
		return rep.writeTable(stdout)
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}

// closeTimeout bounds the shutdown of the client and the embedded cluster.
const closeTimeout = 30 * time.Second

// execute runs the whole load run and hands the finished report to emit,
// then shuts everything down. An error from emit or from the shutdown is
// returned.
func execute(ctx context.Context, o *options, stderr io.Writer, open opener, emit func(*report) error) (err error) {
	rep := &report{
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		System: o.system, EntityType: o.entityType, Shards: o.shards, Entities: o.entities,
		Workers: o.workers, AskConcurrency: o.askConcurrency, Rate: o.rate, AskRate: o.askRate,
	}
	logf := func(format string, a ...any) {
		if o.progress {
			fmt.Fprintf(stderr, "loadgen: "+format+"\n", a...)
		}
	}

	// The ceiling first, while nothing else of ours runs.
	if o.ceiling > 0 {
		c, err := bench.Ceiling(ctx, bench.CeilingConfig{Duration: o.ceiling})
		if err != nil {
			return fmt.Errorf("loadgen: ceiling: %w", err)
		}
		rep.CeilingFramesPerSec, rep.CeilingMBPerSec = c.FramesPerSec, c.MBPerSec
		logf("raw loopback ceiling: %.0f frames/s, %.0f MB/s", c.FramesPerSec, c.MBPerSec)
	}

	t, info, err := open(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeTarget(t); cerr != nil && err == nil {
			err = cerr
		}
	}()
	rep.Cluster, rep.Nodes, rep.Transport, rep.NodeTransport = info.kind, info.nodes, t.Transport(), info.nodeTransport
	logf("%s cluster, %d nodes, transport %s", info.kind, info.nodes, rep.Transport)

	prefix := o.entityPrefix
	if prefix == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("loadgen: entity prefix: %w", err)
		}
		prefix = "lg-" + hex.EncodeToString(b[:]) + "-"
	}
	ids := make([]string, o.entities)
	for i := range ids {
		ids[i] = prefix + strconv.Itoa(i)
	}

	baseline := make([]int64, len(ids))
	if o.warmup {
		t0 := time.Now()
		c := countAll(ctx, t, ids, o.verifyConcurrency, o.verifyRetries, o.askTimeout)
		if c.failures > 0 {
			return fmt.Errorf("loadgen: warm-up: %d of %d entities did not answer GetCount: %w", c.failures, len(ids), c.firstErr)
		}
		copy(baseline, c.values)
		logf("warm-up: %d entities answered in %v", len(ids), time.Since(t0).Round(time.Millisecond))
	}
	if o.resetStats {
		sctx, cancel := context.WithTimeout(ctx, o.askTimeout)
		n, err := t.ResetStats(sctx)
		cancel()
		if err != nil {
			logf("ResetStats: %v (cluster-side tallies may include earlier traffic)", err)
		} else {
			logf("ResetStats sent to %d node-stats services", n)
		}
	}

	var series *os.File
	var seriesW io.Writer // nil without -series (not a nil *os.File)
	if o.series != "" {
		if series, err = os.Create(o.series); err != nil {
			return fmt.Errorf("loadgen: -series: %w", err)
		}
		defer series.Close() // closed (and checked) after the load; this one is for early returns
		seriesW = series
	}

	// Per-shard tallies for the loss accounting: a probe round (each node
	// incarnation's base), then polling until after the verification.
	tallyWhy := "disabled (-tally-interval 0)"
	var tp *tallyPoller
	if o.tallyInterval > 0 {
		tp = newTallyPoller(t, o.tallyInterval, min(o.askTimeout, tallyProbeTimeout))
		if tallyWhy = tp.probe(ctx); tallyWhy != "" {
			logf("per-shard tallies unavailable, losses cannot be told apart by cause: %s", tallyWhy)
			tp = nil
		} else {
			tp.start(ctx)
			defer tp.stop()
		}
	}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("loadgen: -cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("loadgen: -cpuprofile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	u0, s0 := cpuTime()
	r := newRunner(o, t, ids, stderr, seriesW)
	lr := r.run(ctx)
	if series != nil {
		if cerr := series.Close(); cerr != nil && lr.seriesErr == nil {
			lr.seriesErr = fmt.Errorf("loadgen: -series: %w", cerr)
		}
		if lr.seriesErr != nil {
			rep.SeriesError = lr.seriesErr.Error()
			logf("%v", lr.seriesErr)
		}
	}

	dctx, cancel := context.WithTimeout(ctx, o.drainTimeout)
	t0 := time.Now()
	ferr := t.Flush(dctx)
	drain := time.Since(t0)
	cancel()
	if ferr != nil {
		logf("flush: %v (%d still buffered); verifying anyway", ferr, t.Buffered())
	}
	u1, s1 := cpuTime()
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	c := countAll(ctx, t, ids, o.verifyConcurrency, o.verifyRetries, o.askTimeout)
	var delivered int64
	in := accountInput{shards: o.shards, accepted: make([]int64, o.shards), delivered: make([]int64, o.shards), unavailable: tallyWhy}
	for i := range ids {
		s := r.shardOf[i]
		in.accepted[s] += lr.expected[i]
		if !c.ok[i] {
			continue
		}
		d := c.values[i] - baseline[i]
		delivered += d
		in.delivered[s] += d
		if d != lr.expected[i] {
			rep.MismatchedEntities++
		}
	}
	// What the client dropped after accepting it, after the verification
	// as well: a held tell dropped by then was not delivered.
	cd := t.ClientDrops()
	in.failedOnClient, in.queueDropped = cd.ByShard, cd.Queued
	// The end round comes after the verification: every Increment queued
	// before an entity's GetCount has then been applied or dropped, so the
	// tallies cover what the verification saw.
	if tp != nil {
		in.tallies, in.owned = tp.endRound(ctx, o.askTimeout, tallyEndAttempts)
		rep.TallyPolls, rep.TallyPollErrors = tp.counts()
		if ctx.Err() != nil {
			// No node answered the end round: every one would look gone.
			in.unavailable = "the run was interrupted"
		}
	}
	acct := account(in)
	rep.setAccounting(&acct)

	sctx, scancel := context.WithTimeout(ctx, o.askTimeout)
	stats, serr := t.NodeStats(sctx)
	scancel()
	if serr != nil {
		rep.StatsError = serr.Error()
	}
	if len(stats) > 0 {
		var incs int64
		var first, last float64
		for _, s := range stats {
			incs += s.Increments
			if s.FirstAt > 0 && (first == 0 || s.FirstAt < first) {
				first = s.FirstAt
			}
			last = max(last, s.LastAt)
		}
		rep.ClusterIncrements = &incs
		rep.StatsNodes = len(stats)
		if last > first {
			rep.ClusterTellsPerSec = float64(incs) / (last - first)
		}
	}

	if o.memProfile != "" {
		f, err := os.Create(o.memProfile)
		if err != nil {
			return fmt.Errorf("loadgen: -memprofile: %w", err)
		}
		runtime.GC()
		werr := pprof.WriteHeapProfile(f)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("loadgen: -memprofile: %w", werr)
		}
	}

	rep.CPUUserS, rep.CPUSysS = (u1 - u0).Seconds(), (s1 - s0).Seconds()
	if wall := (lr.sendElapsed + drain).Seconds(); wall > 0 {
		rep.CPUCores = (rep.CPUUserS + rep.CPUSysS) / wall
	}
	rep.DurationS = lr.sendElapsed.Seconds()
	rep.DrainS = drain.Seconds()
	rep.TellsSent = lr.sent
	rep.TellsFailed = lr.failed
	rep.TellsRetried = lr.retried
	rep.TellsAbandoned = lr.abandoned
	rep.TellsDelivered = delivered
	rep.Lost = lr.sent - delivered - lr.failed
	rep.UnverifiedEntities = c.failures
	rep.VerifyRetries = c.retries
	if el := rep.DurationS + rep.DrainS; el > 0 {
		rep.TellsPerSec = float64(delivered) / el
	}
	if rep.DurationS > 0 {
		rep.SendTellsPerSec = float64(lr.sent-lr.failed) / rep.DurationS
		rep.AsksPerSec = float64(lr.asksOK) / rep.DurationS
	}
	if lr.tellLag != nil {
		rep.TellLagP50US = quantileUS(lr.tellLag, 50)
		rep.TellLagP99US = quantileUS(lr.tellLag, 99)
		rep.TellLagP999US = quantileUS(lr.tellLag, 99.9)
		rep.TellLagMaxUS = float64(lr.tellLag.Max()) / 1e3
	}
	rep.Asks, rep.AskErrors, rep.AskRetries = lr.asksOK, lr.askErrs, lr.askRetries
	rep.AskP50US = quantileUS(lr.asks, 50)
	rep.AskP90US = quantileUS(lr.asks, 90)
	rep.AskP99US = quantileUS(lr.asks, 99)
	rep.AskP999US = quantileUS(lr.asks, 99.9)
	if lr.asks.TotalCount() > 0 {
		rep.AskMaxUS = float64(lr.asks.Max()) / 1e3
		rep.AskMeanUS = lr.asks.Mean() / 1e3
	}
	if rep.CeilingFramesPerSec > 0 {
		rep.RatioToCeiling = rep.TellsPerSec / rep.CeilingFramesPerSec
	}
	rep.Client = t.ClientStats()
	if lr.firstErr != nil {
		rep.FirstTellError = lr.firstErr.Error()
	}
	if lr.firstAskErr != nil {
		rep.FirstAskError = lr.firstAskErr.Error()
	}
	if c.firstErr != nil {
		rep.VerifyError = c.firstErr.Error()
	}
	for k, n := range lr.tellErrors {
		if n > 0 {
			if rep.TellErrors == nil {
				rep.TellErrors = map[string]int64{}
			}
			rep.TellErrors[errKindNames[k]] = n
		}
	}
	// Without tallies every loss is unexplained (unexplained_lost >= |lost|),
	// so this is the old rule (lost == 0) there.
	rep.OK = acct.explained() && rep.UnverifiedEntities == 0
	if rep.Lost != 0 && rep.OK {
		logf("%d tells lost, every one explained: failed_on_client %d, state_lost %d, failed_on_node %d, in_flight_lost %d",
			rep.Lost, rep.FailedOnClient, rep.StateLost, rep.FailedOnNode, rep.InFlightLost)
	}
	for _, h := range rep.Hints {
		logf("hint: %s", h)
	}
	return emit(rep)
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
