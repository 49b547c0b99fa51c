package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/zerohop/zerohop/workload"
)

// tallySource is the part of a target the tally poller uses. Safe for
// concurrent use.
type tallySource interface {
	// StatsNodes lists the nodes whose node-stats service the client's
	// registry lists now (no network).
	StatsNodes() []string
	// ShardTally asks node's node-stats service for its per-shard tally
	// (workload.GetShardTally), bounded by ctx. A node that StatsNodes
	// listed once stays askable after it leaves the listing (a leaving
	// node lingers and still answers).
	ShardTally(ctx context.Context, node string) (workload.ShardTally, error)
	// ShardOwners returns the owner node of each shard of the workload's
	// entity type in the client's current topology ("" when it names
	// none), reusing dst.
	ShardOwners(dst []string) []string
}

const (
	// tallyProbeTimeout bounds the probe round before the load: a cluster
	// none of whose nodes answers GetShardTally within it (Casty v1 drops
	// the unknown type) has no per-shard accounting, and is not polled.
	tallyProbeTimeout = 2 * time.Second
	// tallyGiveUp: a node that left the registry's listing is polled until
	// its asks have failed for this long (a leaving node lingers for its
	// drain window and may say final meanwhile).
	tallyGiveUp = 2 * time.Second
	// tallyEndAttempts: asks per node in the end round (each bounded by
	// -ask-timeout), so that a slow moment of a live node does not make
	// it look gone; a dead node fails them fast.
	tallyEndAttempts = 3
)

// tallyPoller keeps the last ShardTally of every node incarnation
// (spec/DESIGN.md, "Loss accounting"): a probe round before the load (the
// base of each incarnation, and whether the cluster serves tallies at all),
// then one goroutine per node asking every interval, then, once stopped,
// an end round that says which incarnations are gone.
//
// Goroutines: discover (lists nodes every interval, samples the topology's
// shard owners, starts one poll goroutine per node) and the poll
// goroutines; all owned by the poller, stopped and waited for by stop. A
// handful of asks per interval: it does not slow the load.
type tallyPoller struct {
	src      tallySource
	interval time.Duration
	timeout  time.Duration // one periodic ask; immutable

	mu      sync.Mutex
	book    map[string]*incTally // by incKey; guarded by mu
	owned   map[string][]bool    // node -> shards the topology named it owner of; guarded by mu
	listed  map[string]bool      // the last listing; guarded by mu
	running map[string]bool      // nodes with a poll goroutine; guarded by mu
	polls   int64                // asks answered; guarded by mu
	errs    int64                // asks failed; guarded by mu

	cancel context.CancelFunc // set by start
	wg     sync.WaitGroup
}

func newTallyPoller(src tallySource, interval, timeout time.Duration) *tallyPoller {
	return &tallyPoller{src: src, interval: interval, timeout: timeout,
		book: map[string]*incTally{}, owned: map[string][]bool{}, listed: map[string]bool{}, running: map[string]bool{}}
}

// probe asks every listed node once (waiting up to tallyProbeTimeout for a
// listing) and keeps the answers as the incarnations' bases. It returns ""
// when at least one node answered, else why there are no tallies.
func (p *tallyPoller) probe(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, tallyProbeTimeout)
	defer cancel()
	var nodes []string
	for {
		if nodes = p.src.StatsNodes(); len(nodes) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Sprintf("no %s service listed", workload.StatsKey)
		case <-time.After(20 * time.Millisecond):
		}
	}
	errs := p.round(ctx, nodes, 1, tallyProbeTimeout, true, nil)
	if n := len(errs); n < len(nodes) {
		return ""
	}
	return fmt.Sprintf("no node answered GetShardTally within %v (a Casty cluster does not know it): %v", tallyProbeTimeout, errs[0])
}

// round asks each of nodes (concurrently, up to attempts times each, a
// short growing pause between attempts, each ask bounded by ctx and
// timeout) and records the answers; answered, if not nil, gets the
// incarnation keys that answered. It returns the error of each node that
// did not answer.
func (p *tallyPoller) round(ctx context.Context, nodes []string, attempts int, timeout time.Duration, base bool, answered map[string]bool) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards errs and answered
		errs []error
	)
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			for a := range attempts {
				if a > 0 {
					select {
					case <-time.After(time.Duration(a) * 100 * time.Millisecond):
					case <-ctx.Done():
					}
				}
				var st workload.ShardTally
				if st, err = p.ask(ctx, n, timeout); err == nil {
					p.record(st, base)
					if answered != nil {
						mu.Lock()
						answered[incKey(st.Node, st.Incarnation)] = true
						mu.Unlock()
					}
					return
				}
				if ctx.Err() != nil {
					break
				}
			}
			mu.Lock()
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errs
}

func (p *tallyPoller) ask(ctx context.Context, node string, timeout time.Duration) (workload.ShardTally, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := p.src.ShardTally(actx, node)
	p.mu.Lock()
	if err != nil {
		p.errs++
	} else {
		p.polls++
	}
	p.mu.Unlock()
	return st, err
}

// record keeps st as its incarnation's last answer (and as its base when
// base is set).
func (p *tallyPoller) record(st workload.ShardTally, base bool) {
	k := incKey(st.Node, st.Incarnation)
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.book[k]
	if t == nil {
		t = &incTally{}
		p.book[k] = t
	}
	t.last = st
	if base {
		b := st
		t.base = &b
	}
}

// start starts polling every interval until stop.
func (p *tallyPoller) start(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	p.wg.Add(1)
	go p.discover(ctx)
}

// stop stops the polling goroutines and waits for them. Idempotent.
func (p *tallyPoller) stop() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}

// discover lists the nodes and samples the shard owners every interval,
// and starts a poll goroutine for each listed node that has none.
func (p *tallyPoller) discover(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTicker(p.interval)
	defer t.Stop()
	var owners []string
	for {
		nodes := p.src.StatsNodes()
		owners = p.src.ShardOwners(owners[:0])
		p.mu.Lock()
		clear(p.listed)
		for _, n := range nodes {
			p.listed[n] = true
			if !p.running[n] {
				p.running[n] = true
				p.wg.Add(1) // inside a goroutine the WaitGroup counts: never races stop's Wait
				go p.poll(ctx, n)
			}
		}
		for s, n := range owners {
			if n == "" {
				continue
			}
			o := p.owned[n]
			if o == nil {
				o = make([]bool, len(owners))
				p.owned[n] = o
			}
			if s < len(o) {
				o[s] = true
			}
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll asks node every interval until ctx ends or the node, no longer
// listed, has failed every ask for tallyGiveUp.
func (p *tallyPoller) poll(ctx context.Context, node string) {
	defer p.wg.Done()
	t := time.NewTicker(p.interval)
	defer t.Stop()
	var failingSince time.Time
	for {
		st, err := p.ask(ctx, node, p.timeout)
		now := time.Now()
		switch {
		case err == nil:
			p.record(st, false)
			failingSince = time.Time{}
		case failingSince.IsZero():
			failingSince = now
		case now.Sub(failingSince) >= tallyGiveUp:
			p.mu.Lock()
			give := !p.listed[node]
			if give {
				p.running[node] = false
			}
			p.mu.Unlock()
			if give {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// endRound stops the polling, asks every node ever seen once more (up to
// attempts times each, each ask bounded by timeout) and marks the
// incarnations that did not answer as gone. It returns the tallies kept,
// sorted by node and incarnation, and the owners seen.
func (p *tallyPoller) endRound(ctx context.Context, timeout time.Duration, attempts int) ([]incTally, map[string][]bool) {
	p.stop()
	p.mu.Lock()
	seen := map[string]bool{}
	for _, t := range p.book {
		seen[t.last.Node] = true
	}
	for n := range p.running {
		seen[n] = true
	}
	p.mu.Unlock()
	for _, n := range p.src.StatsNodes() {
		seen[n] = true
	}
	nodes := make([]string, 0, len(seen))
	for n := range seen {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	answered := map[string]bool{}
	p.round(ctx, nodes, attempts, timeout, false, answered)

	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]incTally, 0, len(p.book))
	for k, t := range p.book {
		c := *t
		c.gone = !answered[k]
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b incTally) int {
		return cmp.Or(cmp.Compare(a.last.Node, b.last.Node), cmp.Compare(a.last.Incarnation, b.last.Incarnation))
	})
	owned := make(map[string][]bool, len(p.owned))
	for n, o := range p.owned {
		owned[n] = slices.Clone(o)
	}
	return out, owned
}

// lastOf returns the last tally kept of node's incarnation inc (zero if
// none).
func (p *tallyPoller) lastOf(node string, inc int64) workload.ShardTally {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.book[incKey(node, inc)]; t != nil {
		return t.last
	}
	return workload.ShardTally{}
}

// counts returns the asks answered and failed so far.
func (p *tallyPoller) counts() (polls, errs int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.polls, p.errs
}

// errNoStatsRef: ShardTally for a node never listed.
var errNoStatsRef = errors.New("loadgen: no node-stats instance known on that node")
