package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// scenario is one named fault and its checks.
type scenario struct {
	name  string
	about string
	nodes int  // default cluster size
	fixed bool // the size is part of the scenario (leader-kill-5): -nodes does not change it
	netns bool // needs the namespaced network
	// binary: a binary variant (binary.go): nodes -binary -binary-window,
	// loadgen -binary, and the zhbin checks after the load.
	binary bool
	run    func(ctx context.Context, s *run) error
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
	// binary: the scenario's binary variant runs (binary.go).
	binary bool
}

// scenarios: the JSON scenarios, then the binary variants (binary.go).
var scenarios = withBinaryVariants([]scenario{
	{name: "follower-kill", nodes: 3, about: "SIGKILL a follower that owns shards under load; its shards serve again within 3 s", run: runKill(victimFollower)},
	{name: "leader-kill", nodes: 3, about: "SIGKILL the leader under load; its shards serve again within 4 s", run: runKill(victimLeader)},
	{name: "leader-kill-5", nodes: 5, fixed: true, about: "leader-kill on 5 nodes", run: runKill(victimLeader)},
	{name: "contact-death", nodes: 3, about: "SIGKILL the node loadgen used as its first contact", run: runKill(victimContact)},
	{name: "pause-owner", nodes: 3, about: "SIGSTOP an owner for 15 s under a flood; tells to other shards back to 80% within 3 s", run: runPauseOwner(victimFollower)},
	{name: "pause-leader", nodes: 3, about: "pause-owner with the leader as the paused owner: the others elect another and take its shards", run: runPauseOwner(victimLeader)},
	{name: "partition", nodes: 3, netns: true, about: "cut one node off for 10 s (netns, blackhole routes); one leader and one table within 10 s of healing", run: runPartition(victimFollower)},
	{name: "partition-leader", nodes: 3, netns: true, about: "partition with the leader as the cut node: the majority elects another and takes its shards", run: runPartition(victimLeader)},
	{name: "client-cut", nodes: 3, netns: true, about: "blackhole the client's path to an owner for 12 s (netns, silent drops) while the nodes see each other: its tells fail fast, nothing unexplained lost, back within 5 s of healing", run: runClientCut},
	{name: "rolling-restart", nodes: 3, about: "SIGTERM (graceful leave, exit 0) and restart each node in turn under load", run: runRollingRestart},
	{name: "rogue-node", nodes: 3, about: "a node without the gossip key tries to join a keyed cluster: no membership, no shards, no entities", run: runRogueNode},
	{name: "rogue-client", nodes: 3, about: "a client claiming role node sends envelopes to a non-owner: no entity runs there", run: runRogueClient},
	{name: "hostile-frames", nodes: 3, about: "partial 15 MiB frames x40, a trickled frame, a connection flood, 1 MiB entity ids, under load", run: runHostileFrames},
}, binaryScenarios...)

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
	// A scenario run again by the same harness keeps the earlier run's
	// logs: name, name.2, name.3, ...
	h.runs[name]++
	dir := name
	if k := h.runs[name]; k > 1 {
		dir = fmt.Sprintf("%s.%d", name, k)
	}
	h.logDir = filepath.Join(h.logRoot, dir)
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
	if def.binary {
		if err := h.requireBinary(); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	h.logf("%s: starting %d nodes (%s)", name, n, res.Network)
	r := &run{h: h, res: res, typ: workload.DefaultEntityType, binary: def.binary}
	// rogue-node needs one more address slot for the rogue.
	slots := n
	if name == "rogue-node" {
		slots++
	}
	c, err := h.newCluster(ctx, slots, def.netns)
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
		// Optional: passed only when cmd/node has them (else the node's
		// defaults, MaxConnections 4096 and FrameTimeout 10 s, apply).
		c.Extra = append(c.Extra, Arg{"max-connections", fmt.Sprint(FloodLimit)}, Arg{"frame-timeout", HostileFrameTimeout.String()})
	}
	if def.binary {
		c.Extra = append(c.Extra, binaryNodeArgs()...)
	}
	if err := c.Start(ctx); err != nil {
		res.Error = err.Error()
		return res
	}
	if len(c.Skipped) > 0 {
		res.Note("optional node flags not passed (this cmd/node has none of them; its defaults apply): -%s", strings.Join(c.Skipped, ", -"))
	}
	v, err := c.WaitStable(ctx, StableWait, false)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Fig("cluster", "%d nodes up, leader %s, key-authenticated (-gossip-key), -lease %v, -drain-window %v", n, v.Leader, NodeLease, NodeDrainWindow)
	if def.binary {
		res.Fig("links", "zhbin: nodes -binary -binary-window %d (heads: the default, %d), loadgen -binary", BinaryWindow, wire.MaxHeads)
	}
	if spare != nil {
		c.spare = spare
	}
	if err := def.run(ctx, r); err != nil {
		res.Error = err.Error()
	}
	r.ownershipFigures()
	if err := r.writeClaims(filepath.Join(h.logDir, "claims.tsv")); err != nil {
		res.Note("claims.tsv: %v", err)
	}
	if err := r.writeTallies(filepath.Join(h.logDir, "tallies.tsv")); err != nil {
		res.Note("tallies.tsv: %v", err)
	}
	return res
}

// writeTallies writes every tally poll the watcher made (applied +
// retired per shard), for the diagnosis of a failed check.
func (r *run) writeTallies(path string) error {
	var b strings.Builder
	b.WriteString("node\tsent_ms\trecv_ms\tincarnation\tfinal\tapplied_by_shard\n")
	for i, v := range r.c.W.Views() {
		for _, o := range r.c.W.Tallies(i) {
			fmt.Fprintf(&b, "%s\t%.3f\t%.3f\t%x\t%v\t", v.Target.Addr, float64(o.Sent)/1e6, float64(o.Recv)/1e6, uint64(o.Incarnation), o.Final)
			for k, a := range o.Applied {
				if k > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.FormatInt(a, 10))
			}
			b.WriteByte('\n')
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeClaims writes every claim interval the watcher saw (CLOCK_MONOTONIC
// ms, the clock of events.txt), for the diagnosis of a failed check.
func (r *run) writeClaims(path string) error {
	var b strings.Builder
	b.WriteString("node\tincarnation\ttype\tshard\tepoch\tsince_ms\tuntil_ms\texact\n")
	for _, iv := range r.c.W.Ledger().All() {
		fmt.Fprintf(&b, "%s\t%x\t%s\t%d\t%d\t%.3f\t%.3f\t%v\n", iv.Key.Node, uint64(iv.Key.Incarnation), iv.Key.Type, iv.Key.Shard,
			iv.Key.Epoch, float64(iv.Key.Since)/1e6, float64(iv.Until)/1e6, iv.Exact)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
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
		Contacts: contacts, Duration: d, Rate: rate, Workers: 2, Netns: r.c.ClientNetns(), Binary: r.binary,
	}, "loadgen")
	if err != nil {
		return nil, err
	}
	if rate > 0 {
		r.res.Fig("load", "loadgen -rate %.0f for %v against %d contacts", rate, d, len(contacts))
	} else {
		r.res.Fig("load", "loadgen flood (no -rate) for %v against %d contacts", d, len(contacts))
	}
	return lr, nil
}

// waitFlowing waits until loadgen's series shows tells accepted (its
// warm-up is over) and every shard is claimed by a live member, then for
// PreFault more (the reference rate).
func (r *run) waitFlowing(ctx context.Context, lr *LoadRun) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if d, _, ok := lr.Series(); ok && slices.ContainsFunc(d.Lines, func(l SeriesLine) bool { return l.TellsOK > 0 }) {
			break
		}
		if !lr.Running() {
			return fmt.Errorf("chaos: loadgen exited (code %d) before the load flowed: %s", lr.proc.ExitCode(), tail(lr.proc.Log, 400))
		}
		if time.Now().After(deadline) {
			return errors.New("chaos: loadgen accepted no tell in 60 s")
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
// records its figures, and in a binary variant the zhbin checks.
func (r *run) finishLoad(ctx context.Context, lr *LoadRun) *LoadReport {
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	rep := lr.Wait(wctx)
	rep.figures(r.res)
	if r.binary {
		r.checkBinary(ctx, rep)
	}
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
// ledger: no two node incarnations ever claimed one shard at one instant.
func (r *run) checkOverlaps() {
	l := r.c.W.Ledger()
	if l.States() == 0 {
		r.res.Check("no-overlapping-claims", Violation, "no node answered GetNodeState (%d polls unanswered): no claims to compare", r.unanswered())
		return
	}
	ivs := l.Intervals()
	ov := Overlaps(ivs)
	exact := 0
	for _, iv := range ivs {
		if iv.Exact {
			exact++
		}
	}
	r.res.Fig("watcher", "%d NodeStates, %d claim intervals (%d ended by a Released entry; %d more released before they began, never served), %d overlaps",
		l.States(), len(ivs), exact, len(l.All())-len(ivs), len(ov))
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

// checkApplied records the applied-while-claimed check: no node's tally
// grew for a shard while it claimed none of it (an entity run by a
// non-owner, or a stale one run after its lease or shard was gone).
// frozen lists, per member address, the spans its process was stopped.
// Blind spot: an increase between two polls around a stop is attributed
// to the part before the stop, when the node still claimed the shard.
func (r *run) checkApplied(frozen map[string][]Span) {
	ivs := r.c.W.Ledger().Intervals()
	views := r.c.W.Views()
	var bad []Unclaimed
	polls := 0
	for i, v := range views {
		obs := r.c.W.Tallies(i)
		polls += len(obs)
		bad = append(bad, AppliedWithoutClaim(v.Target.Addr, r.typ, obs, ivs, frozen[v.Target.Addr])...)
	}
	if polls == 0 {
		r.res.Check("applied-only-while-claimed", Violation, "no node answered GetShardTally")
		return
	}
	var amount int64
	detail := ""
	for i, u := range bad {
		amount += u.Amount
		if i < 3 {
			detail += "; " + u.String()
		}
	}
	if len(bad) > 3 {
		detail += fmt.Sprintf("; ... %d more", len(bad)-3)
	}
	r.res.Expect("applied-only-while-claimed", len(bad) == 0, "%d tally increases (%d increments) on shards the node did not claim, over %d tally polls%s",
		len(bad), amount, polls, detail)
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
		parts = append(parts, fmt.Sprintf("%s: %d states/%d unanswered, %d tallies", v.Target.Name, v.Answered, v.Unanswered, v.TallyOK))
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

// claimedAt returns the shards node claimed at instant at, by the ledger:
// its claims whose interval holds at (their until is the lease it last
// announced, so a shard it could still serve counts).
func (r *run) claimedAt(node string, at int64) []int {
	var out []int
	for _, iv := range r.c.W.Ledger().Intervals() {
		if iv.Key.Node == node && iv.Key.Type == r.typ && iv.Key.Since <= at && at < iv.Until && !slices.Contains(out, iv.Key.Shard) {
			out = append(out, iv.Key.Shard)
		}
	}
	slices.Sort(out)
	return out
}

// failover measures how long after at (a fault, CLOCK_MONOTONIC) every
// shard of shards was claimed by a node other than gone, from the claims
// the watcher collected (FailoverTime). It polls until they all are, or
// until within+5 s after at; -1 when some never were (missing lists them).
func (r *run) failover(ctx context.Context, gone string, shards []int, at int64, within time.Duration) (d time.Duration, missing []int) {
	return r.failoverWhile(ctx, gone, shards, at, within, nil)
}

// failoverWhile is failover calling also (when not nil) at every poll,
// with the instant of the poll.
func (r *run) failoverWhile(ctx context.Context, gone string, shards []int, at int64, within time.Duration, also func(now int64)) (d time.Duration, missing []int) {
	deadline := at + int64(within+5*time.Second)
	for {
		if also != nil {
			also(monoNow())
		}
		ns, miss, ok := FailoverTime(r.c.W.Ledger().Intervals(), r.typ, shards, gone, at)
		if ok {
			return time.Duration(ns), nil
		}
		if monoNow() > deadline || !sleepCtx(ctx, 20*time.Millisecond) {
			return -1, miss
		}
	}
}
