package chaos

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/zerohop/zerohop/workload"
)

// runKill: SIGKILL one node under load (follower-kill, leader-kill,
// leader-kill-5, contact-death), measure the failover of its shards: from
// the kill until another node claims every shard the victim claimed at
// the kill.
func runKill(rule victimRule) func(context.Context, *run) error {
	return func(ctx context.Context, r *run) error {
		if rule == victimContact {
			// loadgen's first contact: a follower, so that the contact's
			// death is not also the leader's (leader-kill covers that).
			v := r.c.View(r.typ)
			for i := len(r.c.Members) - 1; i >= 0; i-- {
				if m := r.c.Members[i]; m.Listen != v.Leader {
					r.contacts = append([]string{m.Listen}, slices.DeleteFunc(r.c.Contacts(), func(a string) bool { return a == m.Listen })...)
					break
				}
			}
			r.res.Fig("contacts", "loadgen -contact %s", strings.Join(r.contacts, ","))
		}
		lr, err := r.startLoad(r.loadDuration(PreFault + LeaderFailoverMax + PostFault + 4*time.Second))
		if err != nil {
			return err
		}
		defer lr.Kill()
		if err := r.waitFlowing(ctx, lr); err != nil {
			return err
		}
		v := r.c.View(r.typ)
		victim, err := r.pickVictim(v, rule)
		if err != nil {
			return err
		}
		wasLeader := victim.Listen == v.Leader
		limit := FollowerFailoverMax
		if wasLeader {
			limit = LeaderFailoverMax
		}
		at := monoNow()
		if err := victim.Proc.Signal(syscall.SIGKILL); err != nil {
			return err
		}
		r.h.logf("%s: SIGKILL n%d", r.res.Scenario, victim.Index)
		shards := r.claimedAt(victim.Listen, at)
		survivors := map[string][]int{}
		for _, m := range r.c.Members {
			if m != victim {
				survivors[m.Listen] = r.claimedAt(m.Listen, at)
			}
		}
		r.res.Fig("victim", "n%d %s (leader: %v), claimed %d shards at the kill %v", victim.Index, victim.Listen, wasLeader, len(shards), shards)
		// The failover and the new leader, watched together (the leader is
		// usually known first; measured one after the other, a slow
		// failover would delay the leader's figure).
		lead := time.Duration(-1)
		fo, missing := r.failoverWhile(ctx, victim.Listen, shards, at, limit, func(now int64) {
			if l := r.agreement(at, victim.Listen).leader(); lead < 0 && l != "" && l != victim.Listen {
				lead = time.Duration(now - at)
			}
		})
		if wasLeader && lead < 0 {
			lead = r.newLeader(ctx, victim.Listen, at, limit)
		}
		after := r.c.View(r.typ)
		r.res.Fig("failover", "%s from the kill until every shard of n%d was claimed by another node (threshold %v)", fmtDur(fo), victim.Index, limit)
		if wasLeader {
			r.res.Fig("new leader", "%s after the kill (every live node names it, one says leader)", fmtDur(lead))
		}
		r.res.Fig("after", "leader %s, epoch %d, %d shards claimed", after.Leader, after.Epoch, len(after.Owners))
		if len(shards) == 0 {
			r.res.Check("failover", Violation, "the victim claimed no shard at the kill (the watcher saw none)")
		} else {
			r.res.Expect("failover", fo >= 0 && fo <= limit, "shards of n%d claimed again after %s (max %v)%s", victim.Index, fmtDur(fo), limit, missingNote(missing))
		}
		if !sleepCtx(ctx, PostFault) {
			return ctx.Err()
		}
		// The survivors kept every shard they claimed at the kill.
		var moved []string
		for addr, had := range survivors {
			now := r.claimedAt(addr, monoNow())
			for _, s := range had {
				if !slices.Contains(now, s) {
					moved = append(moved, fmt.Sprintf("%s/%d", addr, s))
				}
			}
		}
		slices.Sort(moved)
		r.res.Fig("survivors' shards", "%d moved away from a survivor %v", len(moved), moved)
		rep := r.finishLoad(ctx, lr)
		rep.checkLoss(r.res, false)
		rep.checkOthersLossless(r.res, victim.Listen, shards)
		r.checkOverlaps()
		r.checkApplied(nil)
		return nil
	}
}

func missingNote(missing []int) string {
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("; never claimed: %v", missing)
}

// newLeader returns how long after at every live member (but gone) named
// one leader other than gone, and that leader said so itself; -1 when not
// within+5 s.
func (r *run) newLeader(ctx context.Context, gone string, at int64, within time.Duration) time.Duration {
	deadline := at + int64(within+5*time.Second)
	for {
		a := r.agreement(at, gone)
		if l := a.leader(); l != "" && l != gone {
			return time.Duration(monoNow() - at)
		}
		if monoNow() > deadline || !sleepCtx(ctx, 20*time.Millisecond) {
			return -1
		}
	}
}

// runPauseOwner: SIGSTOP an owner for PauseFor under a flood, SIGCONT;
// tells to the other nodes' shards must recover within PauseRecoveryMax
// and stay there, and nothing may run on a stale entity. The owner is a
// follower, or the leader.
func runPauseOwner(rule victimRule) func(ctx context.Context, r *run) error {
	return func(ctx context.Context, r *run) error { return pauseOwner(ctx, r, rule) }
}

// loadThenVictim starts a load of about d at rate, waits until it flows,
// and picks the victim by rule from the cluster's view then. On success
// the caller kills the load; on an error it is already killed.
func (r *run) loadThenVictim(ctx context.Context, d time.Duration, rate float64, rule victimRule) (*LoadRun, *Member, error) {
	lr, err := r.startLoadAt(r.loadDuration(d), rate)
	if err != nil {
		return nil, nil, err
	}
	if err := r.waitFlowing(ctx, lr); err != nil {
		lr.Kill()
		return nil, nil, err
	}
	v := r.c.View(r.typ)
	victim, err := r.pickVictim(v, rule)
	if err != nil {
		lr.Kill()
		return nil, nil, err
	}
	return lr, victim, nil
}

func pauseOwner(ctx context.Context, r *run, rule victimRule) error {
	// A flood for the paused node, as in the issue (a paused owner's full
	// queue is what stalls a client that waits on it), at a fixed rate
	// (PauseRate says why).
	lr, victim, err := r.loadThenVictim(ctx, PreFault+PauseFor+PostFault+4*time.Second, PauseRate, rule)
	if err != nil {
		return err
	}
	defer lr.Kill()
	before := r.stateOf(victim)
	pauseAt := monoNow()
	if err := victim.Proc.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	r.h.logf("%s: SIGSTOP n%d for %v", r.res.Scenario, victim.Index, PauseFor)
	shards := r.claimedAt(victim.Listen, pauseAt)
	r.res.Fig("victim", "n%d %s, claimed %d shards at the pause %v", victim.Index, victim.Listen, len(shards), shards)
	fo, missing := r.failover(ctx, victim.Listen, shards, pauseAt, PauseFor-5*time.Second)
	r.res.Fig("shards moved", "%s after the pause, every shard of n%d claimed by another node%s", fmtDur(fo), victim.Index, missingNote(missing))
	sleepCtx(ctx, time.Duration(pauseAt+int64(PauseFor)-monoNow()))
	resumeAt := monoNow()
	if err := victim.Proc.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	r.h.logf("%s: SIGCONT n%d", r.res.Scenario, victim.Index)
	if !sleepCtx(ctx, PostFault) {
		return ctx.Err()
	}
	after := r.stateOf(victim)
	rep := r.finishLoad(ctx, lr)

	// Rate of tells to the other nodes' shards, from loadgen's series.
	d, why, ok := lr.Series()
	if !ok {
		r.res.Check("rate-recovery", Violation, "no loadgen series: %s", why)
	} else {
		other := func(k int) bool { return !slices.Contains(shards, k) }
		s := &d.Series
		_, end := s.Span()
		rec := s.RecoveryAfter(other, pauseAt, end, PreFault, PauseRecoveryFraction)
		paused := s.RecoveryAfter(other, pauseAt, resumeAt, PreFault, PauseRecoveryFraction)
		resumed := s.RecoveryAfter(other, resumeAt, end, 0, PauseRecoveryFraction) // only its samples: its reference is rec's
		r.res.Fig("series", "%d lines, the load's start placed %.3fs before the pause (from when each line was first seen), %d unparsable", len(d.Lines), float64(pauseAt-d.Start)/1e9, d.Bad)
		r.res.Fig("rate before pause", "%.0f tells/s to the %d other shards (loadgen -series: the 1 s samples that ended in the %v before the pause)", rec.PreRate, workload.DefaultShards-len(shards), PreFault)
		r.res.Fig("recovered", "every 1 s sample >= %.0f%% (%.0f/s) from %s after the pause to the end of the load (+%s); the stall itself ended about %s after the pause (estimate); %d of %d samples below",
			100*PauseRecoveryFraction, rec.Target, fmtDur(rec.After), fmtDur(rec.Evaluate), fmtDur(rec.Estimate), rec.Low, rec.Samples)
		r.res.Fig("while paused", "%d of %d samples below %.0f/s, recovered %s after the pause, then lowest %.0f/s (%.0f%%) at +%s",
			paused.Low, paused.Samples, rec.Target, fmtDur(paused.After), paused.MinRate, 100*paused.MinRate/max(rec.PreRate, 1), fmtDur(paused.MinAt))
		lowAfter, minAfter := 0, -1.0
		for _, x := range s.Samples {
			if x.End <= resumeAt || x.End > end || x.End-x.Start < int64(MinSample) {
				continue
			}
			var c float64
			for k, v := range x.Counts {
				if other(k) {
					c += v
				}
			}
			rate := c / (float64(x.End-x.Start) / 1e9)
			if rate < rec.Target {
				lowAfter++
			}
			if minAfter < 0 || rate < minAfter {
				minAfter = rate
			}
		}
		r.res.Fig("after SIGCONT", "%d of %d samples below %.0f/s, lowest %.0f/s (%.0f%% of the rate before the pause)", lowAfter, resumed.Samples, rec.Target, minAfter, 100*minAfter/max(rec.PreRate, 1))
		r.res.Fig("tell errors", "while paused %v; after SIGCONT %v", ErrorsBetween(d.Lines, d.Start, pauseAt, resumeAt), ErrorsBetween(d.Lines, d.Start, resumeAt, end))
		// The same from the nodes' side, at the tallies' 100 ms: what the
		// nodes applied to the other shards. Loadgen's 1 s samples cannot
		// place a stall's end within a second, and at a fixed rate the
		// client catches up its backlog right after it, which can fill the
		// sample that holds the end of the stall.
		var tallies [][]TallyObs
		for i := range r.c.W.Views() {
			tallies = append(tallies, r.c.W.Tallies(i))
		}
		ns := TallySeries(tallies)
		nodePre := ns.Rate(other, pauseAt-int64(PreFault), pauseAt)
		loadEnd := end
		for i := len(s.Samples) - 1; i >= 0; i-- {
			if x := s.Samples[i]; x.End-x.Start >= int64(MinSample) {
				loadEnd = x.End
				break
			}
		}
		back, stalled := ns.FirstRecovery(other, pauseAt, loadEnd, NodeRateWindow, NodeRateStep, PauseRecoveryFraction*nodePre)
		r.res.Fig("applied by the nodes", "%.0f/s to the other shards before the pause; below %.0f%% for %s, back %s after the pause (%v windows, tallies every %v)",
			nodePre, 100*PauseRecoveryFraction, fmtDur(stalled), fmtDur(back), NodeRateWindow, TallyInterval)
		switch {
		case rec.PreRate <= 0 || rec.Samples == 0 || nodePre <= 0:
			r.res.Check("rate-recovery", Violation, "no rate before the pause (%.0f/s sent, %.0f/s applied) or no samples after it (%d)", rec.PreRate, nodePre, rec.Samples)
		default:
			r.res.Expect("rate-recovery", back >= 0 && back <= PauseRecoveryMax && rec.After >= 0 && rec.After <= PauseRecoveryMax,
				"tells to other shards back to >= %.0f%% of their rate before the pause %s after it (applied by the nodes, %v windows), and every 1 s sample of loadgen's series at that rate from %s after it to the end of the load, SIGCONT included (max %v)",
				100*PauseRecoveryFraction, fmtDur(back), NodeRateWindow, fmtDur(rec.After), PauseRecoveryMax)
		}
	}
	r.counterDelta(victim, before, after, "redirected", "forwarded", "dead_letters", "hop_limited", "entities_stopped", "mailbox_waits", "stalls", "renewals")
	rep.checkLoss(r.res, false)
	rep.checkOthersLossless(r.res, victim.Listen, shards)
	r.checkOverlaps()
	r.checkApplied(map[string][]Span{victim.Listen: {{pauseAt, resumeAt}}})
	return nil
}

// stateOf returns the watcher's latest NodeState of m (nil when none).
func (r *run) stateOf(m *Member) map[string]int64 {
	for _, v := range r.c.W.Views() {
		if v.Target.Addr == m.Listen && v.State != nil {
			return maps.Clone(v.State.Counters)
		}
	}
	return nil
}

// counterDelta prints how the named NodeState counters of m changed
// between two snapshots (and every dead_* reason).
func (r *run) counterDelta(m *Member, before, after map[string]int64, names ...string) {
	if before == nil || after == nil {
		r.res.Fig(fmt.Sprintf("n%d counters", m.Index), "not available (no NodeState before or after)")
		return
	}
	for k := range after {
		if strings.HasPrefix(k, "dead_") && k != "dead_letters" && !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s +%d", k, after[k]-before[k]))
	}
	r.res.Fig(fmt.Sprintf("n%d counters", m.Index), "from the fault to the end: %s", strings.Join(parts, ", "))
}

// runPartition: cut one node (a follower that owns shards, or the leader)
// off for PartitionFor, heal, check that one leader, one table and one
// membership come back.
func runPartition(rule victimRule) func(ctx context.Context, r *run) error {
	return func(ctx context.Context, r *run) error { return partition(ctx, r, rule) }
}

func partition(ctx context.Context, r *run, rule victimRule) error {
	lr, err := r.startLoad(r.loadDuration(PreFault + PartitionFor + HealConvergeMax + PostFault))
	if err != nil {
		return err
	}
	defer lr.Kill()
	if err := r.waitFlowing(ctx, lr); err != nil {
		return err
	}
	v := r.c.View(r.typ)
	victim, err := r.pickVictim(v, rule)
	if err != nil {
		return err
	}
	if err := r.c.Partition(ctx, victim.Index); err != nil {
		return err
	}
	partAt := monoNow()
	r.h.logf("%s: n%d partitioned for %v", r.res.Scenario, victim.Index, PartitionFor)
	shards := r.claimedAt(victim.Listen, partAt)
	r.res.Fig("victim", "n%d %s, claimed %d shards at the cut %v", victim.Index, victim.Listen, len(shards), shards)
	fo, missing := r.failover(ctx, victim.Listen, shards, partAt, PartitionFor-5*time.Second)
	r.res.Fig("shards moved", "%s after the cut, every shard of n%d claimed by the majority%s", fmtDur(fo), victim.Index, missingNote(missing))
	sleepCtx(ctx, time.Duration(partAt+int64(PartitionFor-500*time.Millisecond)-monoNow()))
	r.res.Fig("during partition", "%s", r.agreement(partAt, "").String())
	sleepCtx(ctx, time.Duration(partAt+int64(PartitionFor)-monoNow()))
	if err := r.c.Heal(ctx, victim.Index); err != nil {
		return err
	}
	healAt := monoNow()
	r.h.logf("%s: healed", r.res.Scenario)
	conv, merged := time.Duration(-1), time.Duration(-1)
	var last agreement
	for monoNow() < healAt+int64(HealConvergeMax+5*time.Second) && (conv < 0 || merged < 0) {
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
		last = r.agreement(healAt, "")
		if conv < 0 && last.one() {
			conv = time.Duration(monoNow() - healAt)
		}
		if merged < 0 && last.merged(len(r.c.Members)) {
			merged = time.Duration(monoNow() - healAt)
		}
	}
	r.res.Fig("after heal", "%s", last.String())
	r.res.Fig("converged", "one leader and one epoch %s after healing, every node lists every member up %s after (max %v)", fmtDur(conv), fmtDur(merged), HealConvergeMax)
	r.res.Expect("one-leader-one-table", conv >= 0 && conv <= HealConvergeMax,
		"every node names one leader (which says so) and reports one epoch %s after healing (max %v)", fmtDur(conv), HealConvergeMax)
	r.res.Expect("membership-merged", merged >= 0 && merged <= HealConvergeMax,
		"every node lists all %d members up %s after healing (max %v)", len(r.c.Members), fmtDur(merged), HealConvergeMax)
	if !sleepCtx(ctx, PostFault) {
		return ctx.Err()
	}
	rep := r.finishLoad(ctx, lr)
	rep.checkLoss(r.res, false)
	r.checkOverlaps()
	r.checkApplied(nil)
	return nil
}

// agreement is what the live members report about leadership, the table
// and the membership, each from its latest NodeState.
type agreement struct {
	leaders  map[string]int // leader named -> how many nodes name it ("" none)
	roles    []string       // nodes that say they are the leader
	epochs   map[int64]int
	upCounts []int // members listed as up, per reporting node
	missing  int   // live members with no NodeState since the instant asked
	reported int
}

// leader returns the one leader every reporting node names and that says
// it leads, "" when there is none or members are missing.
func (a agreement) leader() string {
	if a.missing > 0 || a.reported == 0 || len(a.leaders) != 1 || len(a.roles) != 1 {
		return ""
	}
	for l := range a.leaders {
		if l == a.roles[0] {
			return l
		}
	}
	return ""
}

// one reports one leader and one table (one epoch: epochs name tables).
func (a agreement) one() bool { return a.leader() != "" && len(a.epochs) == 1 }

// merged reports whether every reporting node lists n members up.
func (a agreement) merged(n int) bool {
	if a.missing > 0 || a.reported == 0 {
		return false
	}
	for _, c := range a.upCounts {
		if c != n {
			return false
		}
	}
	return true
}

func (a agreement) String() string {
	var ls []string
	for l, n := range a.leaders {
		if l == "" {
			l = "none"
		}
		ls = append(ls, fmt.Sprintf("%s x%d", l, n))
	}
	slices.Sort(ls)
	var es []string
	for e, n := range a.epochs {
		es = append(es, fmt.Sprintf("%d x%d", e, n))
	}
	slices.Sort(es)
	s := fmt.Sprintf("leaders named [%s], say leader %v, epochs [%s], members up per node %v", strings.Join(ls, ", "), a.roles, strings.Join(es, ", "), a.upCounts)
	if a.missing > 0 {
		s += fmt.Sprintf(", %d nodes silent", a.missing)
	}
	return s
}

// agreement collects every live member's (but skip's) latest NodeState
// received after since.
func (r *run) agreement(since int64, skip string) agreement {
	views := r.c.W.Views()
	a := agreement{leaders: map[string]int{}, epochs: map[int64]int{}}
	for _, m := range r.c.Members {
		if m.Listen == skip || m.Proc == nil || m.Proc.Exited() {
			continue
		}
		var st *NodeView
		for i := range views {
			if views[i].Target.Addr == m.Listen {
				st = &views[i]
			}
		}
		if st == nil || st.State == nil || st.StateAt < since {
			a.missing++
			continue
		}
		a.reported++
		l := ""
		if st.State.Leader != nil {
			l = st.State.Leader.String()
		}
		a.leaders[l]++
		a.epochs[st.State.Epoch]++
		if st.State.Role == "leader" {
			a.roles = append(a.roles, st.State.Node.String())
		}
		a.upCounts = append(a.upCounts, upMembers(st.State.Members))
	}
	return a
}

// runRollingRestart: SIGTERM each node in turn (followers first, the
// leader last), expect exit 0, restart it at the same addresses and data
// directory.
func runRollingRestart(ctx context.Context, r *run) error {
	n := len(r.c.Members)
	lr, err := r.startLoad(r.loadDuration(PreFault + time.Duration(n)*10*time.Second + PostFault))
	if err != nil {
		return err
	}
	defer lr.Kill()
	if err := r.waitFlowing(ctx, lr); err != nil {
		return err
	}
	v := r.c.View(r.typ)
	order := slices.Clone(r.c.Members)
	slices.SortStableFunc(order, func(a, b *Member) int {
		switch {
		case a.Listen == v.Leader && b.Listen != v.Leader:
			return 1
		case b.Listen == v.Leader && a.Listen != v.Leader:
			return -1
		}
		return 0
	})
	for _, m := range order {
		start := time.Now()
		at := monoNow()
		shards := r.claimedAt(m.Listen, at)
		if err := m.Proc.Signal(syscall.SIGTERM); err != nil {
			return err
		}
		r.h.logf("%s: SIGTERM n%d", r.res.Scenario, m.Index)
		wctx, cancel := context.WithTimeout(ctx, LeaveExitWithin)
		code, err := m.Proc.WaitExit(wctx)
		cancel()
		left := time.Since(start)
		if err != nil {
			m.Proc.Kill()
			r.res.Check(fmt.Sprintf("n%d-leave", m.Index), Violation, "still running %v after SIGTERM (killed)", LeaveExitWithin)
		} else {
			r.res.Expect(fmt.Sprintf("n%d-leave", m.Index), code == 0, "exit %d after %.2fs", code, left.Seconds())
		}
		ho, missing := r.failover(ctx, m.Listen, shards, at, 0)
		if err := r.c.Restart(ctx, m); err != nil {
			return err
		}
		sv, err := r.c.WaitStable(ctx, StableWait, true)
		r.res.Fig(fmt.Sprintf("n%d restart", m.Index), "%d shards handed over in %s%s; exited after %.2fs; back, table stable after %.2fs (%d shards, leader %s)",
			len(shards), fmtDur(ho), missingNote(missing), left.Seconds(), time.Since(start).Seconds(), len(sv.Owners), sv.Leader)
		if err != nil {
			return err
		}
	}
	if !lr.Running() {
		r.res.Note("the load ended before the last restart was over")
	}
	rep := r.finishLoad(ctx, lr)
	rep.checkLoss(r.res, true)
	r.checkOverlaps()
	r.checkApplied(nil)
	return nil
}
