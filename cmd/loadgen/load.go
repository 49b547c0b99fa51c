package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/ring"
)

// Backpressure policy. A full client buffer is flow control, not a
// failure; the load settles at what the cluster takes and per-entity order
// is kept. A full queue toward the owner node makes Tell wait for room
// (engine.EntityRef.TellContext). A refusal that still surfaces as a
// backpressure error (the bounded buffer of a shard whose location is being
// resolved) makes the worker wait (retryBackoffMin doubling up to
// retryBackoffMax) and send the same message again; every such retry is
// counted (tells_retried). A tell still waiting or refused -drain-timeout
// after the load stopped is given up and counted as failed
// (tells_abandoned is the part of tells_failed that this policy caused).
// Any other Tell error counts as failed at once, without retry: an owner
// that is down (engine.ErrOwnerUnavailable) costs the worker one failed
// tell, never a wait.
//
// A fault must not stall the load generator: a shard whose location stays
// unknown (its owner died and the cluster has not re-allocated it yet)
// refuses every tell, and a worker retrying it would stop sending to the
// other shards too. So a tell refused for retryGiveUp is failed, and its
// shard is marked refusing: from then on a refusal of that shard fails at
// once, without retries, until a tell to it is accepted again. A refused
// tell is never counted as accepted.
const (
	retryBackoffMin = 20 * time.Microsecond
	retryBackoffMax = time.Millisecond
	retryGiveUp     = 2 * time.Second
)

// Kinds of failed tells (tell_errors in the report and in -series lines),
// told apart with errors.Is against the engine's sentinels.
const (
	errKindOwnerUnavailable = iota // engine.ErrOwnerUnavailable: the owner has no live connection
	errKindBufferFull              // a backpressure refusal given up (see retryGiveUp)
	errKindAbandoned               // still waiting or refused -drain-timeout after the load stopped
	errKindClosed                  // engine.ErrClosed
	errKindNoRoute                 // engine.ErrNoRoute
	errKindNoQuorum                // engine.ErrNoQuorum: the node asked has no quorum
	errKindUnavailable             // engine.ErrShardUnavailable: no member can own the shard now
	errKindOther
	numErrKinds
)

var errKindNames = [numErrKinds]string{"owner_unavailable", "buffer_full", "abandoned", "closed", "no_route", "no_quorum", "shard_unavailable", "other"}

// errKind classifies a failed tell.
func (r *runner) errKind(err error, abandoned bool) int {
	switch {
	case abandoned:
		return errKindAbandoned
	case errors.Is(err, engine.ErrOwnerUnavailable):
		return errKindOwnerUnavailable
	case r.t.Backpressure(err):
		return errKindBufferFull
	case errors.Is(err, engine.ErrClosed):
		return errKindClosed
	case errors.Is(err, engine.ErrNoRoute):
		return errKindNoRoute
	case errors.Is(err, engine.ErrNoQuorum):
		return errKindNoQuorum
	case errors.Is(err, engine.ErrShardUnavailable):
		return errKindUnavailable
	default:
		return errKindOther
	}
}

// worker is one tell-sending goroutine's state. Counters are written only by
// the worker and read by the progress reporter (atomics); perEntity and lag
// are owned by the worker until the runner's WaitGroup says it exited.
type worker struct {
	sent      atomic.Int64              // tells attempted (each message once, retries not counted)
	failed    atomic.Int64              // tells that ended with an error
	retried   atomic.Int64              // backpressure retries
	abandoned atomic.Int64              // backpressure refusals given up after the load (also in failed)
	errKinds  [numErrKinds]atomic.Int64 // failed tells by kind
	// okByShard (-series only) counts accepted tells per shard: one
	// uncontended atomic add per tell on the worker's own slice, read by
	// the progress reporter once a second.
	okByShard []atomic.Int64

	perEntity []int64                 // owned by the worker: accepted tells per entity index
	lag       *hdrhistogram.Histogram // owned by the worker; rate mode only
	firstErr  error                   // owned by the worker
	_         [64]byte
}

// runner drives one load phase against a target.
type runner struct {
	o      *options
	t      target
	ids    []string
	stderr io.Writer

	shardOf  []int32       // shard of each entity index (-shard-hash's); immutable
	refusing []atomic.Bool // per shard: refused for retryGiveUp, refusals fail at once (see retryGiveUp)
	// retryGiveUp is the constant retryGiveUp (tests shorten it).
	retryGiveUp time.Duration
	series      io.Writer // -series/-out: one JSON line per second, written by progressLoop; nil without
	// keep (-out): progressLoop also keeps each point in points, owned by
	// progressLoop until run returns it.
	keep   bool
	points []seriesPoint
	// ivLog (-out), if set, gets each interval's ask latencies and its
	// bounds, from progressLoop.
	ivLog func(h *hdrhistogram.Histogram, from, to time.Time) error

	// interrupt, when closed, ends the load early (the first SIGINT or
	// SIGTERM); nil never does. Set before run.
	interrupt <-chan struct{}

	// left is the tells still to send with -tells (claim); budgetDone is
	// closed when the last one is claimed.
	left       atomic.Int64
	budgetDone chan struct{}
	budgetOnce sync.Once

	start time.Time // set before any goroutine starts
	// elapsed and pause are paced's clock: the time since start, and a
	// wait that reports whether the load still runs. newRunner sets the
	// wall clock (time.Since(start), sleep); tests set a virtual one.
	elapsed func() time.Duration
	pause   func(d time.Duration) bool
	tellCtx context.Context // ends -drain-timeout after the load stops (or with run's ctx)
	stopped atomic.Bool
	stopAt  atomic.Int64 // ns since start when the load stopped
	done    chan struct{}

	workers    []*worker
	asks       *recorder
	asksOK     atomic.Int64
	askErrs    atomic.Int64
	askRetries atomic.Int64
	askErr1    atomic.Pointer[error] // first ask error, for the report
}

// newRunner prepares a load phase; series, if not nil, gets the -series
// lines.
func newRunner(o *options, t target, ids []string, stderr, series io.Writer) *runner {
	r := &runner{o: o, t: t, ids: ids, stderr: stderr, series: series, done: make(chan struct{}),
		shardOf: shardsOf(ids, o.shards, o.shardHash), refusing: make([]atomic.Bool, o.shards), retryGiveUp: retryGiveUp}
	r.workers = make([]*worker, o.workers)
	for i := range r.workers {
		w := &worker{perEntity: make([]int64, len(ids))}
		if o.rate > 0 {
			w.lag = newHist()
		}
		if series != nil {
			w.okByShard = make([]atomic.Int64, o.shards)
		}
		r.workers[i] = w
	}
	r.elapsed = func() time.Duration { return time.Since(r.start) }
	r.pause = r.sleep
	r.budgetDone = make(chan struct{})
	r.left.Store(o.tells)
	shards := o.askConcurrency / 8
	r.asks = newRecorder(max(shards, 1))
	return r
}

// loadResult is what the load phase measured (before drain and verify).
type loadResult struct {
	sendElapsed time.Duration
	sent        int64
	failed      int64
	retried     int64
	abandoned   int64
	expected    []int64 // accepted tells per entity index
	tellLag     *hdrhistogram.Histogram
	asks        *hdrhistogram.Histogram
	asksOK      int64
	askErrs     int64
	askRetries  int64
	firstErr    error // first tell error, if any
	firstAskErr error
	tellErrors  [numErrKinds]int64 // failed tells by kind
	seriesErr   error              // first -series write error
	points      []seriesPoint      // the -series points, with -out
	interrupted bool               // the load ended early: interrupt was closed
}

// run sends for o.duration and returns when every worker and asker exited.
func (r *runner) run(ctx context.Context) loadResult {
	var wg sync.WaitGroup
	r.start = time.Now()
	tellCtx, cancelTells := context.WithCancel(ctx)
	defer cancelTells()
	r.tellCtx = tellCtx
	for i, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.o.rate > 0 {
				r.paced(i, w)
			} else {
				r.flat(i, w)
			}
		}()
	}
	for slot := range r.o.askConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.asker(ctx, slot)
		}()
	}
	var pwg sync.WaitGroup
	progressDone := make(chan struct{})
	var seriesErr error
	if r.o.progress || r.series != nil || r.ivLog != nil {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			seriesErr = r.progressLoop(progressDone)
		}()
	}

	var timeUp <-chan time.Time // nil: no time limit (-tells without -duration)
	if r.o.duration > 0 {
		timer := time.NewTimer(r.o.duration)
		defer timer.Stop()
		timeUp = timer.C
	}
	interrupted := false
	select {
	case <-timeUp:
	case <-r.budgetDone:
	case <-r.interrupt:
		interrupted = true
	case <-ctx.Done():
	}
	r.stopAt.Store(int64(time.Since(r.start)))
	r.stopped.Store(true)
	close(r.done)
	abandon := time.AfterFunc(r.o.drainTimeout, cancelTells)
	wg.Wait()
	abandon.Stop()
	sendElapsed := time.Since(r.start)
	close(progressDone)
	pwg.Wait()

	res := loadResult{sendElapsed: sendElapsed, expected: make([]int64, len(r.ids)), seriesErr: seriesErr, interrupted: interrupted, points: r.points}
	if r.o.rate > 0 {
		res.tellLag = newHist()
	}
	for _, w := range r.workers {
		res.sent += w.sent.Load()
		res.failed += w.failed.Load()
		res.retried += w.retried.Load()
		res.abandoned += w.abandoned.Load()
		for k := range w.errKinds {
			res.tellErrors[k] += w.errKinds[k].Load()
		}
		for i, n := range w.perEntity {
			res.expected[i] += n
		}
		if w.lag != nil {
			res.tellLag.Merge(w.lag)
		}
		if res.firstErr == nil {
			res.firstErr = w.firstErr
		}
	}
	res.asks = r.asks.final()
	res.asksOK = r.asksOK.Load()
	res.askErrs = r.askErrs.Load()
	res.askRetries = r.askRetries.Load()
	if e := r.askErr1.Load(); e != nil {
		res.firstAskErr = *e
	}
	return res
}

// flat sends as fast as the target accepts, to the entities -keys picks.
func (r *runner) flat(wi int, w *worker) {
	keys := newKeyPicker(r.o.keys, len(r.ids), wi, len(r.workers), r.start.UnixNano()+int64(wi))
	for {
		if r.stopped.Load() || !r.claim() {
			return
		}
		r.tellOne(w, keys.next())
	}
}

// paced sends this worker's share of the -rate schedule: with W workers,
// its tell k is due when W*k tells of the schedule are due (for a constant
// rate R: at k*W/R). A worker that falls behind sends the overdue tells
// back to back (it never skips one), and each tell's lag - from its
// intended send time to the moment the client accepted it - goes into the
// worker's histogram, so a stall is charged to every tell it delayed
// (no coordinated omission).
func (r *runner) paced(wi int, w *worker) {
	keys := newKeyPicker(r.o.keys, len(r.ids), wi, len(r.workers), r.start.UnixNano()+int64(wi))
	nw := float64(len(r.workers))
	due, when := scheduleCursor{s: r.o.schedule}, scheduleCursor{s: r.o.schedule}
	var k int64
	for !r.stopped.Load() {
		now := float64(r.elapsed())
		dueK := int64(due.at(now)/nw) + 1 // tells due by now: 0..dueK-1
		if k >= dueK {
			if !r.pause(time.Duration(when.inverse(float64(k)*nw) - now)) {
				return
			}
			continue
		}
		for ; k < dueK; k++ {
			if r.stopped.Load() || !r.claim() {
				return
			}
			intended := time.Duration(when.inverse(float64(k) * nw))
			r.tellOne(w, keys.next())
			lag := r.elapsed() - intended
			_ = w.lag.RecordValue(clampHist(lag))
		}
	}
}

// claim takes one tell of the -tells budget; false when it is spent. The
// one who takes the last tell ends the load.
func (r *runner) claim() bool {
	if r.o.tells == 0 {
		return true
	}
	n := r.left.Add(-1)
	if n == 0 {
		r.budgetOnce.Do(func() { close(r.budgetDone) })
	}
	return n >= 0
}

func clampHist(d time.Duration) int64 {
	v := int64(d)
	if v < histLowest {
		return histLowest
	}
	if v > histHighest {
		return histHighest
	}
	return v
}

// sleep waits d or until the load stops; it reports whether the load is
// still running.
func (r *runner) sleep(d time.Duration) bool {
	if d <= 0 {
		return !r.stopped.Load()
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
		return !r.stopped.Load()
	case <-r.done:
		t.Stop()
		return false
	}
}

// tellOne sends one Increment to r.ids[idx] under the backpressure policy
// documented at retryBackoffMin.
func (r *runner) tellOne(w *worker, idx int) {
	shard := r.shardOf[idx]
	err := r.t.Tell(r.tellCtx, r.ids[idx])
	if err != nil && r.t.Backpressure(err) {
		err = r.retry(w, idx, shard, err)
	}
	abandoned := false
	if err != nil && r.tellCtx.Err() != nil && r.stopped.Load() {
		abandoned = true
		w.abandoned.Add(1)
		err = fmt.Errorf("loadgen: tell abandoned %v after the load stopped: %w", r.o.drainTimeout, err)
	}
	w.sent.Add(1)
	if err != nil {
		w.failed.Add(1)
		w.errKinds[r.errKind(err, abandoned)].Add(1)
		if w.firstErr == nil {
			w.firstErr = err
		}
		return
	}
	w.perEntity[idx]++
	if w.okByShard != nil {
		w.okByShard[shard].Add(1)
	}
	if r.refusing[shard].Load() {
		r.refusing[shard].Store(false)
	}
}

// retry sends a tell refused with err (backpressure) again until it is
// accepted, fails otherwise, or has been refused for retryGiveUp; a shard
// marked refusing is not retried (see retryGiveUp).
func (r *runner) retry(w *worker, idx int, shard int32, err error) error {
	if r.refusing[shard].Load() {
		return err
	}
	backoff := retryBackoffMin
	giveUp := time.Now().Add(r.retryGiveUp)
	for {
		if cerr := r.tellCtx.Err(); cerr != nil {
			return cerr
		}
		if time.Now().After(giveUp) {
			r.refusing[shard].Store(true)
			return fmt.Errorf("loadgen: shard %d refused tells for %v (retries stopped until it takes one): %w", shard, r.retryGiveUp, err)
		}
		w.retried.Add(1)
		time.Sleep(backoff)
		backoff = min(2*backoff, retryBackoffMax)
		err = r.t.Tell(r.tellCtx, r.ids[idx])
		if err == nil || !r.t.Backpressure(err) {
			return err
		}
	}
}

// shardsOf returns the shard of each id under hash (-shard-hash, the
// cluster's rule for the type).
func shardsOf(ids []string, shards int, hash ring.Hash) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(hash.Shard(id, shards))
	}
	return out
}

// asker keeps one GetCount in flight at a time against random entities.
// Closed loop (o.askRate == 0): latency is from send to reply. Paced
// (o.askRate > 0): ask k of this slot is due at start + k*interval and its
// latency is measured from that intended time, so a slow reply delays and
// charges the following asks too.
func (r *runner) asker(ctx context.Context, slot int) {
	rnd := rand.New(rand.NewPCG(uint64(slot)+1, uint64(r.start.UnixNano())))
	var intervalNs float64
	if r.o.askRate > 0 {
		intervalNs = float64(r.o.askConcurrency) / r.o.askRate * 1e9
	}
	for k := int64(0); !r.stopped.Load(); k++ {
		var t0 time.Duration
		if intervalNs > 0 {
			t0 = time.Duration(float64(k) * intervalNs)
			if !r.sleep(t0 - time.Since(r.start)) {
				return
			}
		} else {
			t0 = time.Since(r.start)
		}
		id := r.ids[rnd.IntN(len(r.ids))]
		err := r.askOnce(ctx, id)
		lat := time.Since(r.start) - t0
		if err != nil {
			if errors.Is(err, errAskNotSent) || (errors.Is(err, context.Canceled) && ctx.Err() != nil) {
				return
			}
			r.askErrs.Add(1)
			if r.askErr1.Load() == nil {
				first := err // a copy: taking err's address made every ask allocate
				r.askErr1.CompareAndSwap(nil, &first)
			}
			continue
		}
		r.asksOK.Add(1)
		r.asks.record(slot, lat)
	}
}

// errAskNotSent: an ask still refused by a full buffer when the load
// stopped; it was never sent, so it is neither an ask nor an error.
var errAskNotSent = errors.New("loadgen: ask not sent before the load stopped")

// askOnce sends one GetCount. A refusal by a full client buffer is flow
// control, as for tells: the ask is sent again after a backoff (counted in
// ask_retries; the wait is part of its latency) until the load stops.
func (r *runner) askOnce(ctx context.Context, id string) error {
	backoff := retryBackoffMin
	for {
		// No per-ask context.WithTimeout: the target bounds the ask by
		// -ask-timeout itself (engine.Config.AskTimeout, a pooled timer
		// per call); a context timer per ask cost 12 % of the CPU at 256
		// asks in flight.
		_, err := r.t.GetCount(ctx, id)
		if err == nil || !r.t.Backpressure(err) {
			return err
		}
		if r.stopped.Load() {
			return errAskNotSent
		}
		r.askRetries.Add(1)
		time.Sleep(backoff)
		backoff = min(2*backoff, retryBackoffMax)
	}
}
