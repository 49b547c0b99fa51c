package chaos

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// client-cut: the client's path to one owner is blackholed (NetPlan.
// CutClient: silent drops both ways, no reset, no ICMP) while the nodes
// still see each other, so the cluster keeps the owner's shards where they
// are: the cluster thinks the node is fine, the client cannot reach it.
// What the client must do (engine/doc.go, "Suspect connections"; the
// invariant "A shard whose owner is suspect or down fails fast"):
//
//   - declare the link suspect within SuspectAfter (2 s by default: the
//     node's topology pushes stop arriving), then fail tells to the
//     owner's shards fast (*OwnerUnavailableError, counted by loadgen as
//     owner_unavailable), accept none into the dead link, and fail the
//     asks bound to it (*ConnError) rather than let them wait;
//   - keep serving every other node's shards at their rate, asks
//     included;
//   - never move a shard on its own (only the cluster moves shards: it
//     did not, so the shards stay unavailable to this client);
//   - after the heal, hear from the node again (or reconnect) and send
//     to its shards at their rate again;
//   - account for everything: tells written into the link before it was
//     declared dead and never delivered are counted loss (loadgen's
//     in_flight_lost, failed_on_client, ...), never unexplained_lost.
//
// The load is ClientCutRate, a flood for the cut node (its queue and
// socket buffers fill within the detection) at a fixed rate: at 20k
// tells/s the cut usually falls between two frames, the node keeps the
// link and TCP's retransmissions deliver everything after the heal (no
// loss at all); at ClientCutRate writes span segments, the cut leaves a
// frame unfinished at the node, which closes the link after its
// FrameTimeout (10 s), and what the client had written into it is lost
// when it is reset after the heal: the case the accounting must explain
// (loadgen's lost_links, in_flight_lost). Either way the checks are the
// same; the "cut link" figure says which happened.
//
// The watcher runs in the client namespace too, so it does not hear the
// cut node during the cut either: its claims resume after the heal (the
// ledger extends an unchanged claim over the gap; the other nodes' claims
// show that no shard moved).

// runClientCut blackholes the client's path to a follower that owns
// shards for ClientCutFor under load, heals it, and checks the client's
// behaviour (above).
func runClientCut(ctx context.Context, r *run) error {
	lr, victim, err := r.loadThenVictim(ctx, PreFault+ClientCutFor+ClientCutRecoveryMax+PostFault, ClientCutRate, victimFollower)
	if err != nil {
		return err
	}
	defer lr.Kill()
	before := r.stateOf(victim)
	cutAt := monoNow()
	if err := r.c.CutClient(ctx, victim.Index); err != nil {
		return err
	}
	r.h.logf("%s: client cut off from n%d for %v", r.res.Scenario, victim.Index, ClientCutFor)
	shards := r.claimedAt(victim.Listen, cutAt)
	r.res.Fig("victim", "n%d %s, claimed %d shards at the cut %v; the client's path to it blackholed both ways (policy rules, silent drops), the nodes' paths untouched", victim.Index, victim.Listen, len(shards), shards)
	sleepCtx(ctx, time.Duration(cutAt+int64(ClientCutFor)-monoNow()))
	if err := r.c.HealClient(ctx, victim.Index); err != nil {
		return err
	}
	healAt := monoNow()
	r.h.logf("%s: client path to n%d healed", r.res.Scenario, victim.Index)
	if !sleepCtx(ctx, ClientCutRecoveryMax+PostFault) {
		return ctx.Err()
	}
	after := r.stateOf(victim)
	rep := r.finishLoad(ctx, lr)
	r.checkCut(lr, rep, victim, shards, cutAt, healAt)
	r.counterDelta(victim, before, after, "redirected", "forwarded", "dead_letters", "connections_open")
	rep.checkLoss(r.res, false)
	rep.checkOthersLossless(r.res, victim.Listen, shards)
	r.checkOverlaps()
	r.checkApplied(nil)
	return nil
}

// checkCut records client-cut's own checks (see above).
func (r *run) checkCut(lr *LoadRun, rep *LoadReport, victim *Member, shards []int, cutAt, healAt int64) {
	moved := MovedAway(r.c.W.Ledger().Intervals(), r.typ, shards, victim.Listen, cutAt)
	r.res.Expect("cluster-kept-shards", len(shards) > 0 && len(moved) == 0,
		"no other node claimed a shard of n%d from the cut to the end (the nodes saw no fault): %d of its %d shards moved %v", victim.Index, len(moved), len(shards), moved)
	if rep.Err == "" {
		r.res.Fig("client", "suspects %d (cleared %d), reconnects %d, asks timed out %d, failed %d, dropped: conn_lost %d, owner_unavailable %d",
			rep.Client["suspects"], rep.Client["suspects_cleared"], rep.Client["reconnects"], rep.Client["asks_timed_out"], rep.Client["asks_failed"],
			rep.Client["drop_conn_lost"], rep.Client["drop_owner_unavailable"])
		link := "kept: the node heard from again on the same connection, which TCP's retransmissions carried over the cut"
		if slices.Contains(rep.LostLinks, victim.Listen) {
			link = fmt.Sprintf("lost (failed after the heal: the node had closed it), what it held counted: in_flight_lost %d", rep.InFlightLost)
		}
		r.res.Fig("cut link", "%s", link)
		r.res.Fig("asks", "first error %q", rep.FirstAskError)
		others := slices.DeleteFunc(slices.Clone(rep.LostLinks), func(n string) bool { return n == victim.Listen })
		r.res.Expect("no-other-link-lost", len(others) == 0, "links the client lost besides n%d's: %v", victim.Index, others)
	}
	d, why, ok := lr.Series()
	if !ok {
		for _, c := range []string{"victim-tells-fail-fast", "others-unaffected", "victim-recovery", "asks-flow"} {
			r.res.Check(c, Violation, "no loadgen series: %s", why)
		}
		return
	}
	s := &d.Series
	_, end := s.Span()
	cut := func(k int) bool { return slices.Contains(shards, k) }
	other := func(k int) bool { return !cut(k) }
	dead := healAt - int64(ClientCutDetectMax) - cutAt // how long the link was known dead
	accepted, n := AcceptedWithin(s, cut, cutAt+int64(ClientCutDetectMax), healAt)
	errs := ErrorsBetween(d.Lines, d.Start, cutAt, healAt)
	r.res.Fig("tell errors", "during the cut %v; after the heal %v", errs, ErrorsBetween(d.Lines, d.Start, healAt, end))
	r.res.Expect("victim-tells-fail-fast", n > 0 && accepted == 0 && errs["owner_unavailable"] > 0,
		"tells to n%d's shards accepted in the %d whole 1 s samples from %v after the cut to the heal (%s): %.0f (want 0: the link is declared dead, tells fail fast); owner_unavailable during the cut: %d (want > 0)",
		victim.Index, n, ClientCutDetectMax, fmtDur(time.Duration(dead)), accepted, errs["owner_unavailable"])
	oth := s.RecoveryAfter(other, cutAt, end, PreFault, PauseRecoveryFraction)
	r.res.Fig("other shards", "%.0f tells/s before the cut; %d of %d samples below %.0f%% after it, lowest %.0f/s", oth.PreRate, oth.Low, oth.Samples, 100*PauseRecoveryFraction, oth.MinRate)
	r.res.Expect("others-unaffected", oth.PreRate > 0 && oth.After >= 0 && oth.After <= PauseRecoveryMax,
		"tells to the other nodes' shards at >= %.0f%% of their rate before the cut from %s after it to the end of the load (max %v)", 100*PauseRecoveryFraction, fmtDur(oth.After), PauseRecoveryMax)
	vic := s.RecoveryAfter(cut, cutAt, end, PreFault, PauseRecoveryFraction)
	back := time.Duration(-1)
	if vic.After >= 0 {
		back = max(0, vic.After-time.Duration(healAt-cutAt))
	}
	r.res.Fig("victim's shards", "%.0f tells/s before the cut; every 1 s sample >= %.0f%% from %s after the heal (estimate %s) to the end of the load (+%s)",
		vic.PreRate, 100*PauseRecoveryFraction, fmtDur(back), fmtDur(vic.Estimate-time.Duration(healAt-cutAt)), fmtDur(vic.Evaluate-time.Duration(healAt-cutAt)))
	r.res.Expect("victim-recovery", vic.PreRate > 0 && back >= 0 && back <= ClientCutRecoveryMax,
		"tells to n%d's shards back to >= %.0f%% of their rate before the cut %s after the heal, and every 1 s sample from then to the end of the load (max %v)",
		victim.Index, 100*PauseRecoveryFraction, fmtDur(back), ClientCutRecoveryMax)
	a := AsksWithin(d.Lines, d.Start, cutAt+int64(ClientCutDetectMax), healAt)
	all := AsksWithin(d.Lines, d.Start, cutAt, healAt)
	r.res.Expect("asks-flow", a.Lines > 0 && a.Dry == 0 && all.Errors > 0,
		"during the cut: %d asks answered, %d failed (want > 0: those bound to n%d fail); %d of the %d samples from %v after the cut to the heal answered no ask (want 0: no ask waits on the dead link past its timeout)",
		all.OK, all.Errors, victim.Index, a.Dry, a.Lines, ClientCutDetectMax)
}

// AcceptedWithin sums the counts of the wanted keys over the samples that
// lie wholly inside [from, to], and says how many there were.
func AcceptedWithin(s *Series, want func(int) bool, from, to int64) (count float64, samples int) {
	for _, x := range s.Samples {
		if x.Start < from || x.End > to || x.Start <= 0 || x.Start >= x.End {
			continue
		}
		samples++
		for k, v := range x.Counts {
			if want(k) {
				count += v
			}
		}
	}
	return count, samples
}

// AskCounts sums loadgen's ask figures over some of its -series lines.
type AskCounts struct {
	OK, Errors int64
	Lines      int // lines counted
	Dry        int // of them, lines that answered no ask
}

// AsksWithin sums the asks of the lines whose interval lies wholly inside
// [from, to] (CLOCK_MONOTONIC, start as in SeriesFromLines).
func AsksWithin(lines []SeriesLine, start, from, to int64) AskCounts {
	var a AskCounts
	prev := 0.0
	for _, l := range lines {
		lo, hi := start+int64(prev*1e9), start+int64(l.T*1e9)
		prev = l.T
		if lo < from || hi > to {
			continue
		}
		a.Lines++
		a.OK += l.AsksOK
		a.Errors += l.AskErrors
		if l.AsksOK == 0 {
			a.Dry++
		}
	}
	return a
}

// MovedAway returns the shards of shards (of type typ) that a node other
// than node claimed at some instant after from, in ascending order.
func MovedAway(ivs []Interval, typ string, shards []int, node string, from int64) []int {
	var out []int
	for _, iv := range ivs {
		if iv.Key.Type == typ && iv.Key.Node != node && iv.Until > from && slices.Contains(shards, iv.Key.Shard) && !slices.Contains(out, iv.Key.Shard) {
			out = append(out, iv.Key.Shard)
		}
	}
	slices.Sort(out)
	return out
}
