package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zerohop/zerohop/workload"
)

// scenario is one named fault and its checks.
type scenario struct {
	name  string
	about string
	nodes int  // default cluster size
	fixed bool // the size is part of the scenario (leader-kill-5): -nodes does not change it
	netns bool // needs the namespaced network
	run   func(ctx context.Context, s *run) error
}

// run is one scenario's state while it runs.
type run struct {
	h   *Harness
	res *Result
	c   *Cluster
	// typ is the workload's entity type.
	typ string
	// contacts overrides loadgen's contact order (nil: every member in
	// index order).
	contacts []string
}

var scenarios = []scenario{
	{name: "follower-kill", nodes: 3, about: "SIGKILL a follower that owns shards under load; its shards serve again within 3 s", run: runKill(victimFollower)},
	{name: "leader-kill", nodes: 3, about: "SIGKILL the leader under load; its shards serve again within 4 s", run: runKill(victimLeader)},
	{name: "leader-kill-5", nodes: 5, fixed: true, about: "leader-kill on 5 nodes", run: runKill(victimLeader)},
	{name: "contact-death", nodes: 3, about: "SIGKILL the node loadgen used as its first contact", run: runKill(victimContact)},
	{name: "pause-owner", nodes: 3, about: "SIGSTOP an owner for 15 s under a flood; tells to other shards back to 80% within 3 s", run: runPauseOwner},
	{name: "partition", nodes: 3, netns: true, about: "cut one node off for 10 s (netns, blackhole routes); one leader and one table within 10 s of healing", run: runPartition},
	{name: "rolling-restart", nodes: 3, about: "SIGTERM (graceful leave, exit 0) and restart each node in turn under load", run: runRollingRestart},
	{name: "rogue-node", nodes: 3, about: "a node without the gossip key tries to join a keyed cluster: no membership, no shards, no entities", run: runRogueNode},
	{name: "rogue-client", nodes: 3, about: "a client claiming role node sends envelopes to a non-owner: no entity runs there", run: runRogueClient},
	{name: "hostile-frames", nodes: 3, about: "partial 15 MiB frames x40, a trickled frame, a connection flood, 1 MiB entity ids, under load", run: runHostileFrames},
}

// ScenarioInfo describes one scenario for -list.
type ScenarioInfo struct {
	Name  string
	Nodes int
	Netns bool
	About string
}

// Scenarios returns every scenario, in the order `make chaos` runs them.
func Scenarios() []ScenarioInfo {
	out := make([]ScenarioInfo, len(scenarios))
	for i, s := range scenarios {
		out[i] = ScenarioInfo{Name: s.name, Nodes: s.nodes, Netns: s.netns, About: s.about}
	}
	return out
}

// NeedsNetns reports whether the named scenario needs network namespaces.
func NeedsNetns(name string) bool {
	for _, s := range scenarios {
		if s.name == name {
			return s.netns
		}
	}
	return false
}

// ParseScenarios splits a comma-separated list ("all" = every scenario)
// and reports every unknown name at once.
func ParseScenarios(list string) ([]string, error) {
	var out, bad []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case n == "all":
			for _, s := range scenarios {
				out = append(out, s.name)
			}
		case slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == n }):
			out = append(out, n)
		default:
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("chaos: unknown scenario %s (see -list)", strings.Join(bad, ", "))
	}
	if len(out) == 0 {
		return nil, errors.New("chaos: no scenario given")
	}
	return out, nil
}

// Run runs one scenario and returns its result. Everything it started is
// stopped and removed before it returns.
func (h *Harness) Run(ctx context.Context, name string) *Result {
	res := &Result{Scenario: name, Strict: h.cfg.Strict, Network: "loopback"}
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == name })
	if i < 0 {
		res.Error = "unknown scenario"
		return res
	}
	def := scenarios[i]
	n := def.nodes
	if h.cfg.Nodes > 0 && !def.fixed {
		n = h.cfg.Nodes
	}
	res.Nodes = n
	if def.netns {
		res.Network = "netns"
	}
	h.logDir = filepath.Join(h.logRoot, name)
	_ = os.RemoveAll(h.logDir)
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		res.Error = err.Error()
		return res
	}
	res.Logs = h.logDir
	defer func() {
		if err := h.cleanupScenario(); err != nil {
			res.Note("cleanup: %v", err)
		}
		if res.Failed() {
			h.mu.Lock()
			h.keepLogs = true
			h.mu.Unlock()
		}
	}()
	if h.isClosed() {
		res.Error = "harness closed"
		return res
	}
	if def.netns {
		if err := CheckNetns(ctx); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	h.logf("%s: starting %d nodes (%s)", name, n, res.Network)
	r := &run{h: h, res: res, typ: workload.DefaultEntityType}
	// rogue-node needs one more address slot for the rogue.
	slots := n
	if name == "rogue-node" {
		slots++
	}
	c, err := h.newCluster(ctx, slots, def.netns, true)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	var spare *Member
	if slots > n {
		spare = c.Members[n]
		c.Members = c.Members[:n]
	}
	r.c = c
	if name == "hostile-frames" {
		c.Extra = append(c.Extra, Arg{"max-connections", fmt.Sprint(FloodLimit)}, Arg{"frame-timeout", "5s"})
	}
	if err := c.Start(ctx); err != nil {
		res.Error = err.Error()
		return res
	}
	if len(c.Skipped) > 0 {
		res.Note("node flags not passed (this cmd/node has none of them): -%s", strings.Join(c.Skipped, ", -"))
	}
	v, err := c.WaitStable(ctx, StableWait, false)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Fig("cluster", "%d nodes up, leader %s (from %s)", n, v.Leader, v.Source)
	if spare != nil {
		c.spare = spare
	}
	if err := def.run(ctx, r); err != nil {
		res.Error = err.Error()
	}
	r.ownershipFigures()
	return res
}

// loadDuration is the load a scenario needs: at least cfg.Duration.
func (r *run) loadDuration(need time.Duration) time.Duration {
	return max(r.h.cfg.Duration, need)
}

// startLoad starts loadgen against every member from the client side, at
// the configured rate.
func (r *run) startLoad(d time.Duration) (*LoadRun, error) { return r.startLoadAt(d, r.h.cfg.Rate) }

// startLoadAt starts loadgen at rate tells/s (0: a flood, as fast as the
// client accepts them).
func (r *run) startLoadAt(d time.Duration, rate float64) (*LoadRun, error) {
	contacts := r.contacts
	if contacts == nil {
		contacts = r.c.Contacts()
	}
	lr, err := r.h.StartLoad(LoadSpec{
		Contacts: contacts, Duration: d, Rate: rate, Workers: 2, Netns: r.c.ClientNetns(),
	}, "loadgen")
	if err != nil {
		return nil, err
	}
	if len(lr.Skipped) > 0 {
		r.res.Note("loadgen flags not passed (this loadgen has none of them): -%s", strings.Join(lr.Skipped, ", -"))
	}
	if rate > 0 {
		r.res.Fig("load", "loadgen -rate %.0f for %v against %d contacts", rate, d, len(r.c.Members))
	} else {
		r.res.Fig("load", "loadgen flood (no -rate) for %v against %d contacts", d, len(r.c.Members))
	}
	return lr, nil
}

// waitFlowing waits until the nodes' tallies show increments arriving
// (loadgen's warm-up is over), then for PreFault more (the reference
// rate).
func (r *run) waitFlowing(ctx context.Context, lr *LoadRun) error {
	deadline := time.Now().Add(60 * time.Second)
	var first int64 = -1
	for {
		var inc int64
		for _, v := range r.c.W.Views() {
			if v.Stats != nil {
				inc += v.Stats.Increments
			}
		}
		if first < 0 {
			first = inc
		} else if inc > first+1000 {
			break
		}
		if lr.proc.Exited() {
			return fmt.Errorf("chaos: loadgen exited (code %d) before the load flowed: %s", lr.proc.ExitCode(), tail(lr.proc.Log, 400))
		}
		if time.Now().After(deadline) {
			return errors.New("chaos: the load never reached the nodes (no increments in 60 s)")
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	if _, err := r.c.WaitStable(ctx, StableWait, true); err != nil {
		return err
	}
	if !sleepCtx(ctx, PreFault) {
		return ctx.Err()
	}
	return nil
}

// finishLoad waits for loadgen (its load, drain and verification) and
// records its figures.
func (r *run) finishLoad(ctx context.Context, lr *LoadRun) *LoadReport {
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	rep := lr.Wait(wctx)
	rep.figures(r.res)
	return rep
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// checkOverlaps records the no-two-owners check from the watcher's
// ledger (unchecked when no node answered GetNodeState).
func (r *run) checkOverlaps() {
	l := r.c.W.Ledger()
	if l.States() == 0 {
		r.res.Check("no-overlapping-claims", Unchecked, "no node answered GetNodeState (%d polls unanswered): no claims to compare", r.unanswered())
		return
	}
	ivs := l.Intervals()
	ov := Overlaps(ivs)
	r.res.Fig("watcher", "%d NodeStates, %d claim intervals, %d overlaps", l.States(), len(ivs), len(ov))
	detail := fmt.Sprintf("%d overlapping claims", len(ov))
	for i, o := range ov {
		if i == 3 {
			detail += fmt.Sprintf("; ... %d more", len(ov)-3)
			break
		}
		detail += "; " + o.String()
	}
	r.res.Expect("no-overlapping-claims", len(ov) == 0, "%s", detail)
}

func (r *run) unanswered() int64 {
	var n int64
	for _, v := range r.c.W.Views() {
		n += v.Unanswered
	}
	return n
}

// ownershipFigures prints what the watcher saw of each node.
func (r *run) ownershipFigures() {
	if r.c == nil || r.c.W == nil {
		return
	}
	var parts []string
	for _, v := range r.c.W.Views() {
		parts = append(parts, fmt.Sprintf("%s: %d states/%d unanswered, %d stats", v.Target.Name, v.Answered, v.Unanswered, v.StatsOK))
	}
	r.res.Fig("watcher polls", "%s", strings.Join(parts, "; "))
}

// pickVictim chooses the node a fault hits.
type victimRule int

const (
	victimFollower victimRule = iota // a non-leader that owns shards (the highest index)
	victimLeader                     // the leader
	victimContact                    // loadgen's first contact (a follower: leader-kill covers the leader)
)

func (r *run) pickVictim(v ClusterView, rule victimRule) (*Member, error) {
	switch rule {
	case victimLeader:
		if m := r.c.ByAddr(v.Leader); m != nil {
			return m, nil
		}
		return nil, fmt.Errorf("chaos: leader %q is not a member", v.Leader)
	case victimContact:
		if m := r.c.ByAddr(r.firstContact()); m != nil {
			return m, nil
		}
		return nil, errors.New("chaos: loadgen's first contact is not a member")
	}
	for i := len(r.c.Members) - 1; i >= 0; i-- {
		m := r.c.Members[i]
		if m.Listen != v.Leader && len(v.ShardsOf(m.Listen)) > 0 && !m.Proc.Exited() {
			return m, nil
		}
	}
	return nil, errors.New("chaos: no follower owns a shard")
}

func (r *run) firstContact() string {
	if len(r.contacts) > 0 {
		return r.contacts[0]
	}
	return r.c.Members[0].Listen
}

// failover measures how long after at the shards of gone were owned by
// live members again: from the claims (exact) when nodes answer
// GetNodeState, otherwise from the topology snapshots the live members
// pushed (the announced table). It polls until within+5 s after at.
func (r *run) failover(ctx context.Context, gone *Member, shards []int, at int64, within time.Duration) (time.Duration, string) {
	deadline := at + int64(within+5*time.Second)
	topo := time.Duration(-1)
	for monoNow() < deadline && topo < 0 {
		if !sleepCtx(ctx, 20*time.Millisecond) {
			break
		}
		topo = r.topologyFailover(gone, shards, at)
	}
	if r.c.W.Ledger().States() > 0 {
		ns, missing, ok := FailoverTime(r.c.W.Ledger().Intervals(), r.typ, shards, gone.Listen, at)
		if !ok {
			return -1, fmt.Sprintf("claims (shards never claimed again: %v)", missing)
		}
		return time.Duration(ns), "claims"
	}
	return topo, "topology snapshots (NodeState not served)"
}

// topologyFailover returns the time from at until every live member's
// topology snapshot put every shard of shards on a live member other than
// gone (-1 while some does not).
func (r *run) topologyFailover(gone *Member, shards []int, at int64) time.Duration {
	var latest int64
	views := r.c.W.Views()
	live := 0
	for i, v := range views {
		if i >= len(r.c.Members) {
			break
		}
		m := r.c.Members[i]
		if m == gone || m.Proc.Exited() {
			continue
		}
		live++
		if v.Snap == nil || v.SnapAt < at {
			return -1
		}
		alloc := v.Snap.ShardAllocations[r.typ]
		for _, s := range shards {
			a, ok := alloc[s]
			if !ok {
				return -1
			}
			o := r.c.ByAddr(a.Primary.String())
			if o == nil || o == gone || o.Proc.Exited() {
				return -1
			}
		}
		latest = max(latest, v.SnapAt)
	}
	if live == 0 {
		return -1
	}
	return time.Duration(latest - at)
}
