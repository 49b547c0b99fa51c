package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

// runKill: SIGKILL one node under load (follower-kill, leader-kill,
// leader-kill-5, contact-death), measure the failover of its shards.
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
		shards := v.ShardsOf(victim.Listen)
		limit := FollowerFailoverMax
		if wasLeader {
			limit = LeaderFailoverMax
		}
		r.res.Fig("victim", "n%d %s (leader: %v), owned %d shards %v (from %s)", victim.Index, victim.Listen, wasLeader, len(shards), shards, v.Source)
		at := monoNow()
		if err := victim.Proc.Signal(syscall.SIGKILL); err != nil {
			return err
		}
		h := r.h
		h.logf("%s: SIGKILL n%d", r.res.Scenario, victim.Index)
		fo, src := r.failover(ctx, victim, shards, at, limit)
		after := r.c.View(r.typ)
		r.res.Fig("failover", "%s (threshold %v, from %s)", fmtDur(fo), limit, src)
		r.res.Fig("after", "leader %s, epoch %d, %d shards owned (from %s)", after.Leader, after.Epoch, len(after.Owners), after.Source)
		if len(shards) == 0 {
			r.res.Check("failover", Unchecked, "the victim owned no shard")
		} else {
			r.res.Expect("failover", fo >= 0 && fo <= limit, "shards of n%d owned again after %s (max %v, %s)", victim.Index, fmtDur(fo), limit, src)
		}
		if !sleepCtx(ctx, PostFault) {
			return ctx.Err()
		}
		rep := r.finishLoad(ctx, lr)
		rep.checkLoss(r.res, false)
		r.checkOverlaps()
		return nil
	}
}

// runPauseOwner: SIGSTOP an owner for PauseFor under a flood, SIGCONT,
// check that tells to other nodes' shards recover.
func runPauseOwner(ctx context.Context, r *run) error {
	// A flood, as in the issue: a paused owner's full queue is what stalls
	// a client that waits on it.
	lr, err := r.startLoadAt(r.loadDuration(PreFault+PauseFor+PostFault+4*time.Second), 0)
	if err != nil {
		return err
	}
	defer lr.Kill()
	if err := r.waitFlowing(ctx, lr); err != nil {
		return err
	}
	v := r.c.View(r.typ)
	victim, err := r.pickVictim(v, victimFollower)
	if err != nil {
		return err
	}
	shards := v.ShardsOf(victim.Listen)
	r.res.Fig("victim", "n%d %s, owned %d shards %v (from %s)", victim.Index, victim.Listen, len(shards), shards, v.Source)
	pauseAt := monoNow()
	if err := victim.Proc.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	r.h.logf("%s: SIGSTOP n%d for %v", r.res.Scenario, victim.Index, PauseFor)
	fo, src := r.failover(ctx, victim, shards, pauseAt, PauseFor-5*time.Second)
	r.res.Fig("shards moved", "%s after the pause (from %s)", fmtDur(fo), src)
	sleepCtx(ctx, time.Duration(pauseAt+int64(PauseFor)-monoNow()))
	resumeAt := monoNow()
	if err := victim.Proc.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	r.h.logf("%s: SIGCONT n%d", r.res.Scenario, victim.Index)
	if !sleepCtx(ctx, PostFault) {
		return ctx.Err()
	}
	rep := r.finishLoad(ctx, lr)

	// Rate of tells to the other nodes' shards: loadgen's per-shard series
	// when it writes one, else the increments the other nodes applied.
	series, why, ok := lr.Series()
	var want func(int) bool
	if ok {
		victimShard := make(map[int]bool)
		for _, s := range shards {
			victimShard[s] = true
		}
		want = func(k int) bool { return !victimShard[k] }
	} else {
		r.res.Note("rate from the node-stats poll (%s): increments applied by the other nodes, including shards moved to them", why)
		series = r.c.W.StatsSeries()
		want = func(k int) bool { return k != victim.Index }
	}
	rec := series.RecoveryAfter(want, pauseAt, resumeAt, PreFault, RateWindow, RateStep, PauseRecoveryFraction)
	r.res.Fig("rate before pause", "%.0f tells/s to other shards (%s)", rec.PreRate, series.Source)
	r.res.Fig("recovered", "%s after the pause to >= %.0f%% (%.0f/s); lowest window %.0f/s at +%s; %d windows over %s",
		fmtDur(rec.After), 100*PauseRecoveryFraction, rec.Target, rec.MinRate, fmtDur(rec.MinAt), rec.Windows, fmtDur(rec.Evaluate))
	switch {
	case rec.PreRate <= 0 || rec.Windows == 0:
		r.res.Check("rate-recovery", Unchecked, "no rate before the pause or no samples during it (%s)", series.Source)
	default:
		r.res.Expect("rate-recovery", rec.After >= 0 && rec.After <= PauseRecoveryMax,
			"back to >= %.0f%% of %.0f/s after %s and stayed (max %v)", 100*PauseRecoveryFraction, rec.PreRate, fmtDur(rec.After), PauseRecoveryMax)
	}
	r.victimCounters(victim)
	rep.checkLoss(r.res, false)
	r.checkOverlaps()
	return nil
}

// victimCounters prints the NodeState counters of m that speak of dead
// letters, forwards or stale deliveries.
func (r *run) victimCounters(m *Member) {
	views := r.c.W.Views()
	if m.Index >= len(views) || views[m.Index].State == nil {
		return
	}
	var parts []string
	for k, v := range views[m.Index].State.Counters {
		if strings.Contains(k, "dead") || strings.Contains(k, "stale") || strings.Contains(k, "forward") {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
	}
	slices.Sort(parts)
	if len(parts) > 0 {
		r.res.Fig(fmt.Sprintf("n%d counters", m.Index), "%s", strings.Join(parts, ", "))
	}
}

// runPartition: cut one node off for PartitionFor, heal, check that one
// leader and one table come back.
func runPartition(ctx context.Context, r *run) error {
	lr, err := r.startLoad(r.loadDuration(PreFault + PartitionFor + HealConvergeMax + PostFault))
	if err != nil {
		return err
	}
	defer lr.Kill()
	if err := r.waitFlowing(ctx, lr); err != nil {
		return err
	}
	v := r.c.View(r.typ)
	victim, err := r.pickVictim(v, victimFollower)
	if err != nil {
		return err
	}
	r.res.Fig("victim", "n%d %s, owned %d shards (from %s)", victim.Index, victim.Listen, len(v.ShardsOf(victim.Listen)), v.Source)
	if err := r.c.Partition(ctx, victim.Index); err != nil {
		return err
	}
	partAt := monoNow()
	r.h.logf("%s: n%d partitioned for %v", r.res.Scenario, victim.Index, PartitionFor)
	sleepCtx(ctx, PartitionFor-500*time.Millisecond)
	split := r.agreement(partAt)
	r.res.Fig("during partition", "%s", split.String())
	sleepCtx(ctx, time.Duration(partAt+int64(PartitionFor)-monoNow()))
	if err := r.c.Heal(ctx, victim.Index); err != nil {
		return err
	}
	healAt := monoNow()
	r.h.logf("%s: healed", r.res.Scenario)
	conv := time.Duration(-1)
	var last agreement
	for monoNow() < healAt+int64(HealConvergeMax+5*time.Second) {
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
		last = r.agreement(healAt)
		if last.one() {
			conv = time.Duration(monoNow() - healAt)
			break
		}
	}
	r.res.Fig("after heal", "%s", last.String())
	r.res.Fig("converged", "%s after healing (max %v, from %s)", fmtDur(conv), HealConvergeMax, last.source)
	r.res.Expect("one-leader-one-table", conv >= 0 && conv <= HealConvergeMax,
		"one leader and one epoch on every node %s after healing (max %v, from %s)", fmtDur(conv), HealConvergeMax, last.source)
	if !sleepCtx(ctx, PostFault) {
		return ctx.Err()
	}
	rep := r.finishLoad(ctx, lr)
	rep.checkLoss(r.res, false)
	r.checkOverlaps()
	return nil
}

// agreement is what every member reports about leadership and the table.
type agreement struct {
	source   string
	leaders  map[string]int // leader named -> how many nodes name it
	roles    int            // nodes that say they are the leader (NodeState only)
	epochs   map[int64]int
	tables   map[string]int // distinct allocation tables (topology only)
	missing  int            // members with no fresh report
	double   int            // shards two members' tables give to different owners
	reported int
}

func (a agreement) one() bool {
	if a.missing > 0 || a.reported == 0 || len(a.leaders) != 1 || len(a.epochs) != 1 {
		return false
	}
	if _, ok := a.leaders[""]; ok {
		return false
	}
	if a.source == "node-state" && a.roles != 1 {
		return false
	}
	return len(a.tables) <= 1
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
	s := fmt.Sprintf("leaders [%s], epochs [%s]", strings.Join(ls, ", "), strings.Join(es, ", "))
	if a.source == "node-state" {
		s += fmt.Sprintf(", %d nodes say leader", a.roles)
	} else {
		s += fmt.Sprintf(", %d distinct tables, %d shards with two owners", len(a.tables), a.double)
	}
	if a.missing > 0 {
		s += fmt.Sprintf(", %d nodes silent", a.missing)
	}
	return s + " (" + a.source + ")"
}

// agreement collects every member's report newer than since: NodeState
// when the nodes answer it, else their latest topology snapshots.
func (r *run) agreement(since int64) agreement {
	views := r.c.W.Views()
	a := agreement{leaders: map[string]int{}, epochs: map[int64]int{}, tables: map[string]int{}}
	useState := r.c.W.Ledger().States() > 0
	a.source = "topology"
	if useState {
		a.source = "node-state"
	}
	owners := map[int]string{}
	for i, m := range r.c.Members {
		if i >= len(views) || m.Proc.Exited() {
			continue
		}
		v := views[i]
		if useState {
			if v.State == nil || v.StateAt < since {
				a.missing++
				continue
			}
			a.reported++
			l := ""
			if v.State.Leader != nil {
				l = v.State.Leader.String()
			}
			a.leaders[l]++
			a.epochs[v.State.Epoch]++
			if v.State.Role == "leader" {
				a.roles++
			}
			continue
		}
		if v.Snap == nil {
			a.missing++
			continue
		}
		a.reported++
		l := ""
		if v.Snap.Leader != nil {
			l = v.Snap.Leader.String()
		}
		a.leaders[l]++
		a.epochs[v.Snap.AllocationEpoch]++
		alloc := v.Snap.ShardAllocations[r.typ]
		keys := make([]int, 0, len(alloc))
		for s := range alloc {
			keys = append(keys, s)
		}
		slices.Sort(keys)
		var b strings.Builder
		for _, s := range keys {
			o := alloc[s].Primary.String()
			fmt.Fprintf(&b, "%d=%s ", s, o)
			if prev, ok := owners[s]; ok && prev != o {
				a.double++
				owners[s] = o + "+" // count each shard once
			} else if !ok {
				owners[s] = o
			}
		}
		a.tables[b.String()]++
	}
	return a
}

// runRollingRestart: SIGTERM each node in turn (followers first, the
// leader last), expect exit 0, restart it at the same addresses.
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
		if err := r.c.Restart(ctx, m); err != nil {
			return err
		}
		sv, err := r.c.WaitStable(ctx, StableWait, true)
		r.res.Fig(fmt.Sprintf("n%d restart", m.Index), "left in %.2fs, back and table stable after %.2fs (%d shards, leader %s)",
			left.Seconds(), time.Since(start).Seconds(), len(sv.Owners), sv.Leader)
		if err != nil {
			return err
		}
	}
	if lr.proc.Exited() {
		r.res.Note("the load ended before the last restart was over")
	}
	rep := r.finishLoad(ctx, lr)
	rep.checkLoss(r.res, true)
	r.checkOverlaps()
	return nil
}
