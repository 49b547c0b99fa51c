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
// client's side: failed_on_client[s], the accepted tells the client itself
// dropped later, never sent (engine.Config.OnDrop: held for an unknown
// location and expired, failed by ShardUnavailable, their owner down when
// the location came). From the
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
//   - rem[s] = lost[s] - failed_on_client[s] - state_lost[s] -
//     failed_on_node[s]. (Every tell is Increment{Amount: 1}: tells and
//     amounts are the same unit. A tell the client dropped never reached a
//     node, so no node-side figure counts it too.)
//   - rem[s] > 0 on a shard that a crashed (gone, not final) incarnation
//     touched (the client's topology named its node the owner, or its
//     tally shows anything for s) is in_flight_lost: tells the crash took
//     with it, in the kernel, in the client's or the node's queues, and
//     what the node applied after its last answered poll (at most one
//     -tally-interval of its work: the poll cannot see it).
//   - rem[s] > 0 on a shard whose owner (by the client's topology) is a
//     node the client lost a link to (clientDrops.LostLinks: a connection
//     that failed while open, reset or closed by the node or the network)
//     is in_flight_lost too: tells written into that link (the kernel's
//     socket buffers, the segments on the wire) and never received; the
//     engine cannot count them, a stream socket does not say which bytes
//     its peer read. A node closes a connection whose frame stays
//     unfinished for its FrameTimeout, which a partition of the client's
//     path longer than that causes when it cuts a frame in the middle
//     (chaos client-cut at 200k tells/s).
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
// Without tallies (a Casty cluster, -tally-interval 0) nothing on the node
// side is explained: unexplained_lost = sum over shards of
// |lost[s] - failed_on_client[s]|.
//
// client_queue_dropped is the frames the client discarded from its
// connection queues (a connection failed, or the client closed). The
// client does not know their kind (tells, asks, control messages) or
// shard, so they are not subtracted anywhere: tells among them show as
// in_flight_lost on a crashed node's shards or a lost link's, else as
// unexplained_lost. When there are any and neither a crash nor a lost link
// can explain them, the accounting says so in a hint.

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
	shards         int
	accepted       []int64  // per shard
	delivered      []int64  // per shard
	failedOnClient []int64  // per shard: accepted tells the client dropped (clientDrops.ByShard)
	queueDropped   int64    // frames the client discarded from connection queues (clientDrops.Queued)
	lostLinks      []string // nodes the client lost a link to (clientDrops.LostLinks)
	// unavailable, when not "", says why there are no tallies; tallies
	// and owned are then ignored.
	unavailable string
	tallies     []incTally
	owned       map[string][]bool // node -> shards the client's topology named it owner of
}

// accounting is the loss accounting of one run.
type accounting struct {
	method string // accountingTallies, or accountingUnavailable + why

	lost, failedOnClient, stateLost, failedOnNode, inFlightLost, unexplainedLost int64
	queueDropped                                                                 int64 // not attributed (see above)

	lostByShard, failedOnClientByShard []int64 // per shard, always
	// Per shard (nil without tallies).
	stateLostByShard, failedByShard, inFlightByShard, unexplainedByShard []int64
	stateLostByNode                                                      map[string]int64

	incarnations int      // node incarnations seen
	crashes      int      // gone incarnations that were not final
	lostLinks    []string // nodes the client lost a link to, from the input
	gone         []string // "node#incarnation" of gone incarnations; "(final)" when they left gracefully
	hints        []string // what the figures cannot say by themselves
}

// account computes the accounting of in. Pure: no I/O, no clock.
func account(in accountInput) accounting {
	a := figures(in)
	a.hint()
	return a
}

// figures computes the figures of the accounting of in.
func figures(in accountInput) accounting {
	a := accounting{lostByShard: make([]int64, in.shards), failedOnClientByShard: make([]int64, in.shards), queueDropped: in.queueDropped, lostLinks: in.lostLinks}
	for s := range in.shards {
		a.lostByShard[s] = at(in.accepted, s) - at(in.delivered, s)
		a.lost += a.lostByShard[s]
		a.failedOnClientByShard[s] = at(in.failedOnClient, s)
		a.failedOnClient += a.failedOnClientByShard[s]
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
		for s, l := range a.lostByShard {
			a.unexplainedLost += abs(l - a.failedOnClientByShard[s])
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
	inFlightOn := make([]bool, in.shards)
	for _, n := range in.lostLinks {
		for s, o := range in.owned[n] {
			if o && s < in.shards {
				inFlightOn[s] = true // in flight on a lost link: like a crash, for these tells
			}
		}
	}
	var zero workload.ShardTally
	for i := range in.tallies {
		t := &in.tallies[i]
		base := t.base
		if base == nil {
			base = &zero
		}
		crashed := t.crashed()
		if crashed {
			a.crashes++
		}
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
				inFlightOn[s] = true
			}
		}
	}
	for s := range in.shards {
		a.stateLost += a.stateLostByShard[s]
		a.failedOnNode += a.failedByShard[s]
		rem := a.lostByShard[s] - a.failedOnClientByShard[s] - a.stateLostByShard[s] - a.failedByShard[s]
		switch {
		case rem > 0 && inFlightOn[s]:
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

// hint adds the hints a's figures call for.
func (a *accounting) hint() {
	if a.queueDropped > 0 && (a.crashes == 0 && len(a.lostLinks) == 0 || !a.available()) {
		why := "no node crashed and no link was lost"
		if !a.available() {
			why = "no tallies say whether a node crashed"
		}
		a.hints = append(a.hints, fmt.Sprintf("the client dropped %d frames from its connection queues (client_queue_dropped: a connection failed, "+
			"or the client closed) and %s: the client cannot tell their kind (tells, asks, control messages) or shard, "+
			"so tells among them are counted in unexplained_lost", a.queueDropped, why))
	}
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
