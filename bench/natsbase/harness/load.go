package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// Config configures Run; a plain value, copied by Run. The zero value of
// each field means its documented default, except Workers and AskConcurrency, where 0 means none (as with
// loadgen's -workers 0 and -ask-concurrency 0); NewConfig gives loadgen's
// defaults.
type Config struct {
	Duration       time.Duration // send phase; default 5s; ignored for the tells when Tells > 0
	Tells          int64         // > 0: the workers send exactly this many tells in all, then stop (the asks stop with them)
	Workers        int           // publishing goroutines
	AskConcurrency int           // requests in flight, one per goroutine
	Entities       int           // entity ids cycled over; default 1000
	TellBytes      int           // default DefaultTellBytes
	AskBytes       int           // default DefaultAskBytes
	AskTimeout     time.Duration // default 5s
	// Settle: once sending ended, how long the service's count may stay
	// unchanged before the tells it has not counted are declared lost.
	// Default 2s.
	Settle time.Duration
	Prefix string // entity id prefix; default "lg-<8 random hex>-", as loadgen
}

// NewConfig returns loadgen's defaults: 5 s, GOMAXPROCS workers, one ask in
// flight alongside, 1000 entities.
func NewConfig() Config {
	return Config{Duration: 5 * time.Second, Workers: runtime.GOMAXPROCS(0), AskConcurrency: 1, Entities: 1000}
}

func (c Config) withDefaults() (Config, error) {
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Entities == 0 {
		c.Entities = 1000
	}
	if c.TellBytes == 0 {
		c.TellBytes = DefaultTellBytes
	}
	if c.AskBytes == 0 {
		c.AskBytes = DefaultAskBytes
	}
	if c.AskTimeout == 0 {
		c.AskTimeout = 5 * time.Second
	}
	if c.Settle == 0 {
		c.Settle = 2 * time.Second
	}
	if c.Prefix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		c.Prefix = "lg-" + hex.EncodeToString(b[:]) + "-"
	}
	var bad []error
	if c.Duration < 0 || c.Tells < 0 || c.Workers < 0 || c.AskConcurrency < 0 || c.Entities < 0 ||
		c.TellBytes < 0 || c.AskBytes < 0 || c.AskTimeout < 0 || c.Settle < 0 {
		bad = append(bad, fmt.Errorf("harness: negative field in %+v", c))
	}
	if c.Workers == 0 && c.AskConcurrency == 0 {
		bad = append(bad, errors.New("harness: Workers and AskConcurrency are both 0: nothing to send"))
	}
	if c.Tells > 0 && c.Workers == 0 {
		bad = append(bad, fmt.Errorf("harness: Tells %d with Workers 0", c.Tells))
	}
	return c, errors.Join(bad...)
}

// run is one Run's shared state: the first block is immutable once Run
// starts the goroutines; the atomics are written by the workers and askers
// and read by Run after they stopped.
type run struct {
	cfg      Config
	nc       *nats.Conn
	tellSubj []string // TellPrefix + id, per entity index
	askSubj  []string // AskPrefix + id
	tell     []byte   // the tell payload, shared read-only by every Publish
	ask      []byte

	stopped  atomic.Bool  // set by Run when the send phase ends
	claimed  atomic.Int64 // tells claimed, with cfg.Tells > 0
	sent     atomic.Int64 // Publish calls
	failed   atomic.Int64 // of which returned an error
	askErrs  atomic.Int64
	tellErr1 atomic.Pointer[error] // the first of each, kept for the report
	askErr1  atomic.Pointer[error]
}

// Run drives one load against a Service reachable on nc and returns its
// report. It returns an error only when the run could not be made (bad
// config, no service answering StatsSubject before the load); losses and
// failures during the run are in the report (OK false).
func Run(ctx context.Context, nc *nats.Conn, cfg Config) (Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Report{}, err
	}
	r := &run{cfg: cfg, nc: nc, tell: payload(cfg.TellBytes), ask: payload(cfg.AskBytes),
		tellSubj: make([]string, cfg.Entities), askSubj: make([]string, cfg.Entities)}
	for i := range cfg.Entities {
		id := cfg.Prefix + strconv.Itoa(i)
		r.tellSubj[i], r.askSubj[i] = TellPrefix+id, AskPrefix+id
	}
	before, err := fetchStats(ctx, nc, cfg.AskTimeout)
	if err != nil {
		return Report{}, fmt.Errorf("harness: stats before the load: %w", err)
	}
	rep := newReport(nc, cfg)
	cpu0, start := processCPUSplit(), time.Now()

	var tellWG, askWG sync.WaitGroup
	for w := range cfg.Workers {
		tellWG.Go(func() { r.publish(w) })
	}
	lats := make([][]time.Duration, cfg.AskConcurrency)
	for slot := range cfg.AskConcurrency {
		askWG.Go(func() { lats[slot] = r.asker(slot, start) })
	}
	r.wait(ctx, &tellWG)
	r.stopped.Store(true)
	tellWG.Wait()
	askWG.Wait()
	sendEnd := time.Now()
	sendElapsed := sendEnd.Sub(start)

	rep.TellsSent, rep.TellsFailed, rep.AskErrors = r.sent.Load(), r.failed.Load(), r.askErrs.Load()
	after, statsErr := r.settle(ctx, before, rep.TellsSent-rep.TellsFailed)
	drain := time.Since(sendEnd)
	cpu1 := processCPUSplit()

	rep.DurationS, rep.DrainS = sendElapsed.Seconds(), drain.Seconds()
	wall := sendElapsed + drain
	rep.CPUUserS, rep.CPUSysS = (cpu1.user - cpu0.user).Seconds(), (cpu1.sys - cpu0.sys).Seconds()
	rep.CPUCores = (rep.CPUUserS + rep.CPUSysS) / wall.Seconds()
	if statsErr == nil {
		rep.TellsDelivered = after.Tells - before.Tells
		rep.SubscriberDropped = after.Dropped - before.Dropped
		rep.NodeCPUCores = float64(after.CPUNs-before.CPUNs) / float64(wall)
	} else {
		rep.StatsError = statsErr.Error()
	}
	rep.Lost = rep.TellsSent - rep.TellsDelivered - rep.TellsFailed
	rep.TellsPerSec = float64(rep.TellsDelivered) / wall.Seconds()
	rep.SendTellsPerSec = float64(rep.TellsSent) / sendElapsed.Seconds()
	rep.setLatencies(joinLatencies(lats), sendElapsed)
	if e := r.tellErr1.Load(); e != nil {
		rep.FirstTellError = (*e).Error()
	}
	if e := r.askErr1.Load(); e != nil {
		rep.FirstAskError = (*e).Error()
	}
	rep.OK = statsErr == nil && rep.Lost == 0 && rep.TellsFailed == 0 && rep.AskErrors == 0 && rep.SubscriberDropped == 0
	return rep, nil
}

// wait returns when the send phase is over: Duration passed, or ctx ended,
// or (Tells > 0) the workers sent every tell.
func (r *run) wait(ctx context.Context, tellWG *sync.WaitGroup) {
	if r.cfg.Tells > 0 {
		done := make(chan struct{})
		go func() { tellWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
		return
	}
	t := time.NewTimer(r.cfg.Duration)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// publish sends tells as fast as the connection takes them, cycling over
// the entities from a per-worker offset (loadgen's flat worker).
func (r *run) publish(w int) {
	n := len(r.tellSubj)
	idx := w * n / r.cfg.Workers
	for !r.stopped.Load() {
		if r.cfg.Tells > 0 && r.claimed.Add(1) > r.cfg.Tells {
			return
		}
		r.sent.Add(1)
		if err := r.nc.Publish(r.tellSubj[idx], r.tell); err != nil {
			r.failed.Add(1)
			r.tellErr1.CompareAndSwap(nil, &err)
		}
		if idx++; idx == n {
			idx = 0
		}
	}
}

// asker keeps one request in flight against random entities until the
// load stops and returns each answered request's latency.
func (r *run) asker(slot int, start time.Time) []time.Duration {
	rnd := mrand.New(mrand.NewPCG(uint64(slot)+1, uint64(start.UnixNano())))
	lat := make([]time.Duration, 0, 1024)
	for !r.stopped.Load() {
		subj := r.askSubj[rnd.IntN(len(r.askSubj))]
		t0 := time.Now()
		_, err := r.nc.Request(subj, r.ask, r.cfg.AskTimeout)
		d := time.Since(t0)
		if err != nil {
			if errors.Is(err, nats.ErrConnectionClosed) && r.stopped.Load() {
				return lat
			}
			r.askErrs.Add(1)
			r.askErr1.CompareAndSwap(nil, &err)
			continue
		}
		lat = append(lat, d)
	}
	return lat
}

// settle flushes the publisher's connection (the server has then read
// every tell) and polls the service until it has counted want tells since
// before, or its count stayed unchanged for Settle.
func (r *run) settle(ctx context.Context, before Stats, want int64) (Stats, error) {
	fctx, cancel := context.WithTimeout(ctx, r.cfg.AskTimeout)
	err := r.nc.FlushWithContext(fctx)
	cancel()
	if err != nil {
		return Stats{}, fmt.Errorf("flush: %w", err)
	}
	var last Stats
	lastChange := time.Now()
	for first := true; ; first = false {
		st, err := fetchStats(ctx, r.nc, r.cfg.AskTimeout)
		if err != nil {
			return Stats{}, err
		}
		if st.Tells-before.Tells >= want {
			return st, nil
		}
		if first || st.Tells != last.Tells {
			last, lastChange = st, time.Now()
		} else if time.Since(lastChange) >= r.cfg.Settle {
			return st, nil
		}
		select {
		case <-time.After(2 * time.Millisecond):
		case <-ctx.Done():
			return Stats{}, ctx.Err()
		}
	}
}

// fetchStats asks the service for its counters.
func fetchStats(ctx context.Context, nc *nats.Conn, timeout time.Duration) (Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, StatsSubject, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("harness: %s: %w", StatsSubject, err)
	}
	var st Stats
	if err := json.Unmarshal(m.Data, &st); err != nil {
		return Stats{}, fmt.Errorf("harness: %s reply %q: %w", StatsSubject, m.Data, err)
	}
	return st, nil
}

func joinLatencies(per [][]time.Duration) []time.Duration {
	var n int
	for _, l := range per {
		n += len(l)
	}
	out := make([]time.Duration, 0, n)
	for _, l := range per {
		out = append(out, l...)
	}
	return out
}

type cpuSplit struct{ user, sys time.Duration }

func processCPUSplit() cpuSplit {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuSplit{}
	}
	return cpuSplit{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}
