package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/zerohop/zerohop/bench"
)

// closeTimeout bounds the shutdown of the client and the embedded cluster.
const closeTimeout = 30 * time.Second

// session is one load run's state, handed from phase to phase by execute.
// Owned by the goroutine that runs execute.
type session struct {
	o         *options
	stderr    io.Writer
	interrupt <-chan struct{} // closed by the first SIGINT/SIGTERM; nil: never
	t         target
	rep       *report

	ids      []string
	baseline []int64      // each entity's count before the load (0 without -warmup)
	tallyWhy string       // why there are no per-shard tallies; "" when tp is set
	tp       *tallyPoller // nil without tallies
	series   *os.File     // -series, nil without
	results  *results     // -out, nil without
}

func (s *session) logf(format string, a ...any) {
	if s.o.progress {
		fmt.Fprintf(s.stderr, "loadgen: "+format+"\n", a...)
	}
}

// execute runs the whole load run and hands the finished report to emit,
// then shuts everything down. An error from emit or from the shutdown is
// returned.
func execute(ctx context.Context, o *options, stderr io.Writer, open opener, interrupt <-chan struct{}, emit func(*report) error) (err error) {
	s := &session{o: o, stderr: stderr, interrupt: interrupt, rep: newReport(o)}
	// The ceiling first, while nothing else of ours runs.
	if o.ceiling > 0 {
		c, err := bench.Ceiling(ctx, bench.CeilingConfig{Duration: o.ceiling})
		if err != nil {
			return fmt.Errorf("loadgen: ceiling: %w", err)
		}
		s.rep.CeilingFramesPerSec, s.rep.CeilingMBPerSec = c.FramesPerSec, c.MBPerSec
		s.logf("raw loopback ceiling: %.0f frames/s, %.0f MB/s", c.FramesPerSec, c.MBPerSec)
	}
	t, info, err := open(ctx, o, stderr)
	if err != nil {
		return err
	}
	s.t = t
	defer func() {
		if cerr := closeTarget(t); cerr != nil && err == nil {
			err = cerr
		}
	}()
	s.rep.Cluster, s.rep.Nodes, s.rep.Transport, s.rep.NodeTransport = info.kind, info.nodes, t.Transport(), info.nodeTransport
	if o.metrics != "" {
		srv, err := serveMetrics(o.metrics, t)
		if err != nil {
			return &configError{fmt.Errorf("loadgen: -metrics-addr: %w", err)}
		}
		defer srv.Close() // runs before the target closes
		// Printed even with -progress=false: the address is what a scraper needs.
		fmt.Fprintf(stderr, "loadgen: metrics at http://%s/metrics\n", srv.Addr())
	}
	s.logf("%s cluster, %d nodes, transport %s", info.kind, info.nodes, s.rep.Transport)

	if err := s.prepare(ctx); err != nil {
		return err
	}
	if s.series != nil {
		defer s.series.Close() // closed (and checked) after the load; this one is for early returns
	}
	if s.results != nil {
		defer s.results.close() // the same
	}
	if s.tp != nil {
		defer s.tp.stop()
	}
	if err := s.load(ctx); err != nil {
		return err
	}
	if err := writeMemProfile(o.memProfile); err != nil {
		return err
	}
	s.rep.judge(o.thresholds)
	if r := s.rep; r.Lost != 0 && r.OK {
		s.logf("%d tells lost, every one explained: failed_on_client %d, state_lost %d, failed_on_node %d, in_flight_lost %d",
			r.Lost, r.FailedOnClient, r.StateLost, r.FailedOnNode, r.InFlightLost)
	}
	for _, h := range s.rep.Hints {
		s.logf("hint: %s", h)
	}
	return emit(s.rep)
}

// prepare names the entities, warms them up, resets the node-stats
// services, opens -series and starts the tally poller.
func (s *session) prepare(ctx context.Context) error {
	o := s.o
	prefix := o.entityPrefix
	if prefix == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("loadgen: entity prefix: %w", err)
		}
		prefix = "lg-" + hex.EncodeToString(b[:]) + "-"
	}
	s.ids = make([]string, o.entities)
	for i := range s.ids {
		s.ids[i] = prefix + strconv.Itoa(i)
	}
	s.baseline = make([]int64, len(s.ids))
	if o.warmup {
		t0 := time.Now()
		c := countAll(ctx, s.t, s.ids, o.verifyConcurrency, o.verifyRetries, o.askTimeout)
		if c.failures > 0 {
			return fmt.Errorf("loadgen: warm-up: %d of %d entities did not answer GetCount: %w", c.failures, len(s.ids), c.firstErr)
		}
		copy(s.baseline, c.values)
		s.logf("warm-up: %d entities answered in %v", len(s.ids), time.Since(t0).Round(time.Millisecond))
	}
	if o.resetStats {
		sctx, cancel := context.WithTimeout(ctx, o.askTimeout)
		n, err := s.t.ResetStats(sctx)
		cancel()
		if err != nil {
			s.logf("ResetStats: %v (cluster-side tallies may include earlier traffic)", err)
		} else {
			s.logf("ResetStats sent to %d node-stats services", n)
		}
	}
	if o.series != "" {
		f, err := os.Create(o.series)
		if err != nil {
			return &configError{fmt.Errorf("loadgen: -series: %w", err)}
		}
		s.series = f
	}
	if o.out != "" {
		res, err := openResults(o.out)
		if err != nil {
			return err
		}
		s.results = res
	}
	// Per-shard tallies for the loss accounting: a probe round (each node
	// incarnation's base), then polling until after the verification.
	s.tallyWhy = "disabled (-tally-interval 0)"
	if o.tallyInterval > 0 {
		tp := newTallyPoller(s.t, o.tallyInterval, min(o.askTimeout, tallyProbeTimeout))
		if s.tallyWhy = tp.probe(ctx); s.tallyWhy != "" {
			s.logf("per-shard tallies unavailable, losses cannot be told apart by cause: %s", s.tallyWhy)
		} else {
			tp.start(ctx)
			s.tp = tp
		}
	}
	return nil
}

// load runs the load phase, drains the client, verifies every entity and
// fills the report.
func (s *session) load(ctx context.Context) error {
	o := s.o
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	u0, s0 := cpuTime()
	sched0 := schedLatencies()
	var sw []io.Writer // -series and -out's series.jsonl
	if s.series != nil {
		sw = append(sw, s.series)
	}
	if s.results != nil {
		sw = append(sw, s.results.series)
	}
	var seriesW io.Writer // nil without either (not a nil *os.File)
	if len(sw) > 0 {
		seriesW = io.MultiWriter(sw...)
	}
	r := newRunner(o, s.t, s.ids, s.stderr, seriesW)
	r.interrupt = s.interrupt
	if s.results != nil {
		r.keep, r.ivLog = true, s.results.interval
	}
	lr := r.run(ctx)
	if s.results != nil {
		if cerr := s.results.close(); cerr != nil && lr.seriesErr == nil {
			lr.seriesErr = cerr
		}
	}
	if lr.interrupted {
		s.logf("interrupted after %.2fs of load: draining and verifying what was sent", lr.sendElapsed.Seconds())
	}
	if s.series != nil {
		if cerr := s.series.Close(); cerr != nil && lr.seriesErr == nil {
			lr.seriesErr = fmt.Errorf("loadgen: -series: %w", cerr)
		}
		if lr.seriesErr != nil {
			s.rep.SeriesError = lr.seriesErr.Error()
			s.logf("%v", lr.seriesErr)
		}
	}

	dctx, cancel := context.WithTimeout(ctx, o.drainTimeout)
	t0 := time.Now()
	ferr := s.t.Flush(dctx)
	drain := time.Since(t0)
	cancel()
	if ferr != nil {
		s.logf("flush: %v (%d still buffered); verifying anyway", ferr, s.t.Buffered())
	}
	u1, s1 := cpuTime()
	sched1 := schedLatencies()
	stopProfile()

	delivered := s.verify(ctx, r, &lr)
	s.nodeStats(ctx)
	rep := s.rep
	rep.CPUUserS, rep.CPUSysS = (u1 - u0).Seconds(), (s1 - s0).Seconds()
	if wall := (lr.sendElapsed + drain).Seconds(); wall > 0 {
		rep.CPUCores = (rep.CPUUserS + rep.CPUSysS) / wall
	}
	rep.DrainS = drain.Seconds()
	p50, p99, p999, n := schedQuantiles(sched0, sched1)
	rep.SchedP50us, rep.SchedP99us, rep.SchedP999us, rep.SchedEvents = p50*1e6, p99*1e6, p999*1e6, n
	rep.setLoad(&lr, delivered)
	rep.Client = s.t.ClientStats()
	return nil
}

// verify asks every entity for its count, runs the loss accounting and
// returns the tells delivered.
func (s *session) verify(ctx context.Context, r *runner, lr *loadResult) int64 {
	o, rep := s.o, s.rep
	c := countAll(ctx, s.t, s.ids, o.verifyConcurrency, o.verifyRetries, o.askTimeout)
	var delivered int64
	in := accountInput{shards: o.shards, accepted: make([]int64, o.shards), delivered: make([]int64, o.shards), unavailable: s.tallyWhy}
	for i := range s.ids {
		sh := r.shardOf[i]
		in.accepted[sh] += lr.expected[i]
		if !c.ok[i] {
			continue
		}
		d := c.values[i] - s.baseline[i]
		delivered += d
		in.delivered[sh] += d
		if d != lr.expected[i] {
			rep.MismatchedEntities++
		}
	}
	// What the client dropped after accepting it, after the verification
	// as well: a held tell dropped by then was not delivered.
	cd := s.t.ClientDrops()
	in.failedOnClient, in.queueDropped, in.lostLinks = cd.ByShard, cd.Queued, cd.LostLinks
	// The end round comes after the verification: every Increment queued
	// before an entity's GetCount has then been applied or dropped, so the
	// tallies cover what the verification saw.
	if s.tp != nil {
		in.tallies, in.owned = s.tp.endRound(ctx, o.askTimeout, tallyEndAttempts)
		rep.TallyPolls, rep.TallyPollErrors = s.tp.counts()
		if ctx.Err() != nil {
			// No node answered the end round: every one would look gone.
			in.unavailable = "the run was aborted"
		}
	}
	acct := account(in)
	rep.setAccounting(&acct)
	rep.UnverifiedEntities = c.failures
	rep.VerifyRetries = c.retries
	if c.firstErr != nil {
		rep.VerifyError = c.firstErr.Error()
	}
	return delivered
}

// nodeStats asks the node-stats services for the cluster's own count.
func (s *session) nodeStats(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, s.o.askTimeout)
	stats, err := s.t.NodeStats(sctx)
	cancel()
	if err != nil {
		s.rep.StatsError = err.Error()
	}
	if len(stats) == 0 {
		return
	}
	var incs int64
	var first, last float64
	for _, st := range stats {
		incs += st.Increments
		if st.FirstAt > 0 && (first == 0 || st.FirstAt < first) {
			first = st.FirstAt
		}
		last = max(last, st.LastAt)
	}
	s.rep.ClusterIncrements = &incs
	s.rep.StatsNodes = len(stats)
	if last > first {
		s.rep.ClusterTellsPerSec = float64(incs) / (last - first)
	}
}

// startCPUProfile starts -cpuprofile (a no-op for ""); the returned stop is
// idempotent.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, &configError{fmt.Errorf("loadgen: -cpuprofile: %w", err)}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, &configError{fmt.Errorf("loadgen: -cpuprofile: %w", err)}
	}
	stopped := false
	return func() {
		if !stopped {
			stopped = true
			pprof.StopCPUProfile()
			f.Close()
		}
	}, nil
}

// writeMemProfile writes -memprofile (a no-op for "").
func writeMemProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return &configError{fmt.Errorf("loadgen: -memprofile: %w", err)}
	}
	runtime.GC()
	werr := pprof.WriteHeapProfile(f)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("loadgen: -memprofile: %w", werr)
	}
	return nil
}
