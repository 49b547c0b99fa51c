package main

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/zerohop/zerohop/workload"
)

// Loss accounting by cause (spec/DESIGN.md, "Loss accounting").
//
// Per shard s, from the load generator's side: accepted[s] (tells the
// client accepted), delivered[s] (the counters' growth read by the
// verification's GetCount), lost[s] = accepted[s] - delivered[s]. From the
// nodes' side, the per-shard tallies of every node incarnation
// (workload.ShardTally) that the tally poller kept: the answer of the
// round before the load (the base, when the incarnation answered it), the
// last answer, and whether the incarnation answered the end round (if
// not, it is gone).
//
//   - state_lost[s]: amounts the run's counters held when their state
//     ended: what incarnations retired during the run, plus what a gone,
//     not final incarnation still held (a crash: its entities died with
//     it), less what those entities held before the run (see below).
//   - failed_on_node[s]: amounts the nodes dropped and counted during the
//     run (dead letters).
//   - rem[s] = lost[s] - state_lost[s] - failed_on_node[s].
//   - rem[s] > 0 on a shard that a crashed (gone, not final) incarnation
//     touched (the client's topology named its node the owner, or its
//     tally shows anything for s) is in_flight_lost: tells the crash took
//     with it, in the kernel, in the client's or the node's queues, and
//     what the node applied after its last answered poll (at most one
//     -tally-interval of its work: the poll cannot see it).
//   - every other rem[s] != 0 is unexplained_lost, by its size (a negative
//     rem is a duplicate or a double count, no better than a loss). The
//     run fails when it is not 0.
//
// Tallies are cumulative per incarnation and the cluster may hold other
// counters (earlier runs), so an incarnation's sums are taken relative to
// its base: retired and dead minus their base values, and the state that
// died less base.applied[s], which is what the shard's counters held
// before the load: a stop or a crash ends every counter of a shard on a
// node at once, so that older state is part of any death the run sees.
// With the default fresh entity prefix the run's own counters hold 0 at the
// base. With -entity-prefix reusing counters that hold values, their
// starting values are both in lost and in that base, so a state loss on
// them shows as unexplained: use a fresh prefix for runs with faults.
//
// Without tallies (a Casty cluster, -tally-interval 0) nothing is
// explained: unexplained_lost = sum over shards of |lost[s]|.

// Accounting methods (report.accounting).
const (
	accountingTallies     = "per-shard tallies"
	accountingUnavailable = "unavailable: "
)

// incTally is what the tally poller kept of one node incarnation.
type incTally struct {
	base *workload.ShardTally // the answer to the round before the load; nil if it first answered later
	last workload.ShardTally  // the last answer
	gone bool                 // did not answer the end round
}

func (t *incTally) key() string { return incKey(t.last.Node, t.last.Incarnation) }

// crashed reports whether the incarnation went away without saying it
// had handed everything over.
func (t *incTally) crashed() bool { return t.gone && !t.last.Final }

func incKey(node string, inc int64) string { return node + "#" + strconv.FormatInt(inc, 10) }

// accountInput is everything the accounting needs (a plain value).
type accountInput struct {
	shards    int
	accepted  []int64 // per shard
	delivered []int64 // per shard
	// unavailable, when not "", says why there are no tallies; tallies
	// and owned are then ignored.
	unavailable string
	tallies     []incTally
	owned       map[string][]bool // node -> shards the client's topology named it owner of
}

// accounting is the loss accounting of one run.
type accounting struct {
	method string // accountingTallies, or accountingUnavailable + why

	lost, stateLost, failedOnNode, inFlightLost, unexplainedLost int64

	// Per shard (nil without tallies).
	lostByShard, stateLostByShard, failedByShard, inFlightByShard, unexplainedByShard []int64
	stateLostByNode                                                                   map[string]int64

	incarnations int      // node incarnations seen
	gone         []string // "node#incarnation" of gone incarnations; "(final)" when they left gracefully
}

// account computes the accounting of in. Pure: no I/O, no clock.
func account(in accountInput) accounting {
	a := accounting{lostByShard: make([]int64, in.shards)}
	for s := range in.shards {
		a.lostByShard[s] = at(in.accepted, s) - at(in.delivered, s)
		a.lost += a.lostByShard[s]
	}
	if in.unavailable == "" {
		for _, t := range in.tallies {
			if n := len(t.last.Applied); n != in.shards || len(t.last.Retired) != n || len(t.last.Dead) != n {
				in.unavailable = fmt.Sprintf("node %s reports %d shards, this run uses %d", t.last.Node, n, in.shards)
				break
			}
		}
	}
	if in.unavailable != "" {
		a.method = accountingUnavailable + in.unavailable
		for _, l := range a.lostByShard {
			a.unexplainedLost += abs(l)
		}
		return a
	}

	a.method = accountingTallies
	a.stateLostByShard = make([]int64, in.shards)
	a.failedByShard = make([]int64, in.shards)
	a.inFlightByShard = make([]int64, in.shards)
	a.unexplainedByShard = make([]int64, in.shards)
	a.stateLostByNode = map[string]int64{}
	a.incarnations = len(in.tallies)
	crashedOn := make([]bool, in.shards)
	var zero workload.ShardTally
	for i := range in.tallies {
		t := &in.tallies[i]
		base := t.base
		if base == nil {
			base = &zero
		}
		crashed := t.crashed()
		if t.gone {
			g := t.key()
			if !crashed {
				g += " (final)"
			}
			a.gone = append(a.gone, g)
		}
		owned := in.owned[t.last.Node]
		for s := range in.shards {
			pre := at(base.Applied, s)
			retired := t.last.Retired[s] - at(base.Retired, s)
			dead := t.last.Dead[s] - at(base.Dead, s)
			died := retired
			if crashed {
				died += t.last.Applied[s]
			}
			if sl := died - pre; died != 0 && sl > 0 {
				a.stateLostByShard[s] += sl
				a.stateLostByNode[t.last.Node] += sl
			}
			a.failedByShard[s] += dead
			if crashed && (s < len(owned) && owned[s] || t.last.Applied[s] != 0 || retired != 0 || dead != 0 || pre != 0) {
				crashedOn[s] = true
			}
		}
	}
	for s := range in.shards {
		a.stateLost += a.stateLostByShard[s]
		a.failedOnNode += a.failedByShard[s]
		rem := a.lostByShard[s] - a.stateLostByShard[s] - a.failedByShard[s]
		switch {
		case rem > 0 && crashedOn[s]:
			a.inFlightByShard[s] = rem
			a.inFlightLost += rem
		case rem != 0:
			a.unexplainedByShard[s] = rem
			a.unexplainedLost += abs(rem)
		}
	}
	for n, v := range a.stateLostByNode {
		if v == 0 {
			delete(a.stateLostByNode, n)
		}
	}
	slices.Sort(a.gone)
	return a
}

// explained reports whether every loss has a cause.
func (a *accounting) explained() bool { return a.unexplainedLost == 0 }

// available reports whether the accounting used tallies.
func (a *accounting) available() bool { return a.method == accountingTallies }

func at(s []int64, i int) int64 {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
