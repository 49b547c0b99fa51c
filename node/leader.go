package node

import (
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	"github.com/zerohop/zerohop/wire"
)

// The leader's duties, run only while this node is the raft leader and its
// barrier has applied (consensus.ready):
//
//   - answer control requests (renewals, allocations, leaves);
//   - re-allocate the shards of nodes whose lease has certainly expired
//     (lease.go says when that is), in one move command per tick;
//   - keep the consensus configuration in step with the membership: alive
//     members join as non-voters, become voters once they have renewed a
//     lease (they have caught up with the log), and members that left
//     gracefully are removed. Members that died stay voters: they may come
//     back, and removing them would not make the quorum any easier to reach
//     for the survivors.
//
// Every change to the table is a compare-and-set move (fsm.go): a decision
// made on a view the log has since overtaken does not apply.

// leaderTick is the period of the leader's checks.
const leaderTick = 100 * time.Millisecond

func (n *Node) leaderLoop(cancel <-chan struct{}) {
	t := time.NewTicker(leaderTick)
	defer t.Stop()
	lc := newLeaderClock(n.mono(), n.cfg.Consensus.LeaseDuration, n.stallThreshold())
	lastReconcile := time.Duration(0)
	for {
		reconcile := false
		select {
		case <-cancel:
			return
		case <-n.stop:
			return
		case <-t.C:
		case <-n.cons.Load().reconcile:
			reconcile = true
		}
		if !n.gate.wait(n.stop) {
			return
		}
		now := n.mono()
		stalled, judge := lc.tick(now)
		if stalled > 0 {
			n.cons.Load().expiryFloor.Store(int64(now))
			n.log.Warn("leader stalled; lease clocks restarted", "gap", stalled.Round(time.Millisecond))
		}
		if judge {
			n.expireLeases(now)
		}
		if reconcile || now-lastReconcile >= 500*time.Millisecond {
			lastReconcile = now
			n.reconcileVoters()
		}
	}
}

// leaderClock decides, at each tick of a leader's loop, whether it may
// judge leases and whether it stalled since the last tick. A plain value
// owned by the loop.
type leaderClock struct {
	last      time.Duration // the previous tick
	judgeFrom time.Duration // no lease is judged before this
	stall     time.Duration // a gap between ticks longer than this is a stall
}

// newLeaderClock starts the clock of a leader that took office at now.
// Nobody could renew while there was no leader: the live members get half
// a lease to renew with the new leader before it judges anyone's lease (a
// node that renews every fifth of one has done so by then; one that has
// not is judged from its last renewal as usual). Judging later is the safe
// direction; it delays a dead leader's shards by at most this.
func newLeaderClock(now, lease, stall time.Duration) leaderClock {
	return leaderClock{last: now, judgeFrom: now + lease/2, stall: stall}
}

// tick advances the clock to now. stalled is the gap since the previous
// tick when it was a stall (0 otherwise): nobody could renew with the
// leader while it was stopped, so it restarts every lease clock from now
// (the expiry floor) rather than take shards; only the expiry judgement
// moves, the renewal times stay true for the rest (forwarding,
// candidates). judge says whether leases may be judged at now.
func (c *leaderClock) tick(now time.Duration) (stalled time.Duration, judge bool) {
	if gap := now - c.last; gap > c.stall {
		stalled = gap
	}
	c.last = now
	return stalled, now >= c.judgeFrom
}

// leaseGrace is what the leader adds to a lease before it treats it as
// expired: it absorbs clock-rate differences and the holder's delay
// between its check and the message it runs (lease.go).
func (cc ConsensusConfig) leaseGrace() time.Duration {
	return max(cc.LeaseDuration/10, 50*time.Millisecond)
}

// lapsed reports whether a lease last renewed at 'at' has certainly
// expired at now: LeaseDuration + grace later (the one judgement of the
// leader's expiry, a candidate's freshness and forwarding).
func (cc ConsensusConfig) lapsed(at, now time.Duration) bool {
	return now-at > cc.LeaseDuration+cc.leaseGrace()
}

// expired reports whether node addr's lease has certainly expired at now,
// by this replica's record of its renewals; a node never seen renewing
// here counts as expired only if it holds no record at all.
func (n *Node) expired(v *view, addr wire.NodeAddress, now time.Duration) bool {
	s, ok := v.seen[addr]
	if !ok {
		_, registered := v.nodes[addr.String()]
		return !registered
	}
	cc := n.cfg.Consensus
	at := max(s.at, time.Duration(n.cons.Load().expiryFloor.Load()))
	return cc.lapsed(at, now)
}

// fresh reports whether addr may be given shards: its lease has not
// certainly expired. (A stricter "renewed within the last lease" would
// leave no candidate right after a leader change, when nobody could renew
// for the length of the election; a candidate that is in fact dead costs
// one more move once its lease has expired.)
func (n *Node) fresh(v *view, addr wire.NodeAddress, now time.Duration) bool {
	s, ok := v.seen[addr]
	cc := n.cfg.Consensus
	return ok && !cc.lapsed(s.at, now)
}

// expireLeases moves the shards of every node whose lease has expired.
func (n *Node) expireLeases(now time.Duration) {
	v := n.cons.Load().fsm.view()
	var moves []moveCmd
	expired := map[wire.NodeAddress]bool{}
	load := loadOf(v.table)
	for _, typ := range slices.Sorted(maps.Keys(v.table.types)) {
		for s, sl := range v.table.types[typ] {
			if sl.owner.IsZero() {
				continue
			}
			ex, seen := expired[sl.owner]
			if !seen {
				ex = n.expired(&v, sl.owner, now)
				expired[sl.owner] = ex
			}
			if !ex && hosts(&v, sl.owner, typ) {
				continue
			}
			to, ok := n.pickOwner(&v, typ, load, now, sl.owner)
			if !ok {
				// Nobody can take it now (right after an election nobody
				// has renewed yet): the shard stays where it is, unserved,
				// and the next tick tries again.
				continue
			}
			load[typ][to]++
			load[typ][sl.owner]--
			moves = append(moves, moveCmd{Type: typ, Shard: s, From: sl.owner.String(), To: to.String()})
		}
	}
	if len(moves) == 0 {
		return
	}
	for a, ex := range expired {
		if ex {
			n.log.Warn("lease expired; re-allocating the node's shards", "node", a.String())
		}
	}
	idx, res, err := n.cons.Load().apply(command{Op: opMove, Moves: moves}, time.Second)
	if err != nil {
		n.log.Debug("re-allocation not applied", "err", err)
		return
	}
	n.ctr.allocations.Add(int64(res.moved))
	n.ctr.reallocations.Add(int64(res.moved))
	n.log.Info("re-allocated shards", "moved", res.moved, "epoch", idx)
}

// hosts reports whether the registry says addr hosts typ. A node that
// restarted without the type serves none of its shards (its regions do
// not include it), so they may move at once.
func hosts(v *view, addr wire.NodeAddress, typ string) bool {
	r, ok := v.nodes[addr.String()]
	return !ok || slices.Contains(r.Types, typ)
}

// loadOf counts the shards of each type each node owns in t.
func loadOf(t *allocTable) map[string]map[wire.NodeAddress]int {
	out := make(map[string]map[wire.NodeAddress]int, len(t.types))
	for typ, slots := range t.types {
		m := map[wire.NodeAddress]int{}
		for _, s := range slots {
			if !s.owner.IsZero() {
				m[s.owner]++
			}
		}
		out[typ] = m
	}
	return out
}

// pickOwner chooses, for a shard of typ, the candidate with the fewest
// shards of typ (ties: lowest address): a registered node hosting typ, not
// leaving, whose lease is fresh, other than not.
func (n *Node) pickOwner(v *view, typ string, load map[string]map[wire.NodeAddress]int, now time.Duration, not wire.NodeAddress) (wire.NodeAddress, bool) {
	if load[typ] == nil {
		load[typ] = map[wire.NodeAddress]int{}
	}
	var best wire.NodeAddress
	found := false
	for k, r := range v.nodes {
		a, err := wire.ParseNodeAddress(k)
		if err != nil || a == not || r.Leaving || !slices.Contains(r.Types, typ) || !n.fresh(v, a, now) {
			continue
		}
		if ms := n.members.Load(); ms != nil && !ms.isServing(a) {
			continue // left or leaving in the gossip already
		}
		c := load[typ][a]
		if !found || c < load[typ][best] || (c == load[typ][best] && a.Less(best)) {
			best, found = a, true
		}
	}
	return best, found
}

// handleControl answers a control request (on the leader; others say who
// leads).
func (n *Node) handleControl(req ctlRequest) ctlResponse {
	c := n.cons.Load()
	if c == nil || c.r.State() != raft.Leader || !c.ready.Load() {
		resp := ctlResponse{Code: codeNotLeader}
		if l, ok := c.leader(); ok {
			resp.Leader = l.String()
		}
		return resp
	}
	if _, err := wire.ParseNodeAddress(req.Node); err != nil {
		return ctlResponse{Code: codeRefused, Err: "bad node address"}
	}
	timeout := n.cfg.Consensus.LeaseDuration / 2
	switch req.Op {
	case ctlRenew:
		_, known := c.fsm.node(req.Node)
		idx, _, err := c.apply(command{Op: opRenew, Node: req.Node, Inc: req.Inc, Types: req.Types}, timeout)
		if err != nil {
			return ctlResponse{Code: codeError, Err: err.Error()}
		}
		if !known {
			// Its first renewal: it has caught up with the log, and may
			// become a voter now rather than at the next reconciliation.
			select {
			case c.reconcile <- struct{}{}:
			default:
			}
		}
		return ctlResponse{Index: idx}
	case ctlAllocate:
		return n.ctlAllocate(req, timeout)
	case ctlLeave:
		idx, _, err := c.apply(command{Op: opLeave, Node: req.Node}, timeout)
		if err != nil {
			return ctlResponse{Code: codeError, Err: err.Error()}
		}
		return ctlResponse{Index: idx}
	case ctlRelease:
		return n.ctlRelease(req, timeout)
	case ctlRemove:
		idx, _, err := c.apply(command{Op: opForget, Node: req.Node}, timeout)
		if err != nil {
			return ctlResponse{Code: codeError, Err: err.Error()}
		}
		if req.Node != n.self.String() {
			if err := c.r.RemoveServer(raft.ServerID(req.Node), 0, timeout).Error(); err != nil {
				return ctlResponse{Code: codeError, Err: err.Error()}
			}
		}
		return ctlResponse{Index: idx}
	}
	return ctlResponse{Code: codeRefused, Err: "unknown op " + req.Op}
}

// ctlAllocate allocates req's shard if it has no owner and answers its
// owner.
func (n *Node) ctlAllocate(req ctlRequest, timeout time.Duration) ctlResponse {
	v := n.cons.Load().fsm.view()
	if o, ok := v.table.owner(req.Type, req.Shard); ok {
		return ctlResponse{Index: v.loaded, Owner: o.String()}
	}
	shards, ok := v.types[req.Type]
	if !ok || req.Shard < 0 || req.Shard >= shards {
		return ctlResponse{Code: codeNoOwner, Err: "no member hosts the type, or the shard is out of range"}
	}
	to, ok := n.pickOwner(&v, req.Type, loadOf(v.table), n.mono(), wire.NodeAddress{})
	if !ok {
		return ctlResponse{Code: codeNoOwner, Err: "no member can own the shard now"}
	}
	idx, res, err := n.cons.Load().apply(command{Op: opMove, Moves: []moveCmd{{Type: req.Type, Shard: req.Shard, To: to.String()}}}, timeout)
	if err != nil {
		return ctlResponse{Code: codeError, Err: err.Error()}
	}
	n.ctr.allocations.Add(int64(res.moved))
	owner, _ := n.cons.Load().fsm.table.Load().owner(req.Type, req.Shard)
	return ctlResponse{Index: idx, Owner: owner.String()}
}

// ctlRelease moves every shard of the caller (which has stopped serving
// them: leave.go) to other candidates, or unallocates them when there is
// none.
func (n *Node) ctlRelease(req ctlRequest, timeout time.Duration) ctlResponse {
	v := n.cons.Load().fsm.view()
	from, _ := wire.ParseNodeAddress(req.Node)
	load := loadOf(v.table)
	now := n.mono()
	var moves []moveCmd
	for _, typ := range slices.Sorted(maps.Keys(v.table.types)) {
		for s, sl := range v.table.types[typ] {
			if sl.owner != from {
				continue
			}
			m := moveCmd{Type: typ, Shard: s, From: req.Node}
			if to, ok := n.pickOwner(&v, typ, load, now, from); ok {
				m.To = to.String()
				load[typ][to]++
			}
			moves = append(moves, m)
		}
	}
	if len(moves) == 0 {
		return ctlResponse{Index: v.loaded}
	}
	idx, res, err := n.cons.Load().apply(command{Op: opMove, Moves: moves}, timeout)
	if err != nil {
		return ctlResponse{Code: codeError, Err: err.Error()}
	}
	n.ctr.allocations.Add(int64(res.moved))
	n.log.Info("shards handed over", "from", req.Node, "moved", res.moved, "epoch", idx)
	return ctlResponse{Index: idx}
}

// reconcileVoters keeps the consensus configuration in step with the
// membership (see the comment at the top of this file).
func (n *Node) reconcileVoters() {
	c := n.cons.Load()
	f := c.r.GetConfiguration()
	if f.Error() != nil {
		return
	}
	servers := map[raft.ServerID]raft.Server{}
	for _, s := range f.Configuration().Servers {
		servers[s.ID] = s
	}
	v := c.fsm.view()
	timeout := n.cfg.Consensus.ElectionTimeout
	for _, m := range n.members.Load().consensusCandidates() {
		id := raft.ServerID(m.addr.String())
		s, in := servers[id]
		addr := raft.ServerAddress(m.raft)
		rec, renewed := v.nodes[m.addr.String()]
		switch {
		case !in:
			n.log.Info("adding a member to the consensus", "member", m.addr.String(), "consensus", m.raft)
			if err := c.r.AddNonvoter(id, addr, 0, timeout).Error(); err != nil {
				n.log.Debug("add non-voter", "member", m.addr.String(), "err", err)
			}
		case s.Suffrage != raft.Voter && renewed && rec.Renewed > 0:
			n.log.Info("promoting a member to voter", "member", m.addr.String())
			if err := c.r.AddVoter(id, addr, 0, timeout).Error(); err != nil {
				n.log.Debug("add voter", "member", m.addr.String(), "err", err)
			}
		case s.Address != addr:
			var err error
			if s.Suffrage == raft.Voter {
				err = c.r.AddVoter(id, addr, 0, timeout).Error()
			} else {
				err = c.r.AddNonvoter(id, addr, 0, timeout).Error()
			}
			if err != nil {
				n.log.Debug("update consensus address", "member", m.addr.String(), "err", err)
			}
		}
	}
	for id := range servers {
		if string(id) == n.self.String() {
			continue
		}
		a, err := wire.ParseNodeAddress(string(id))
		if err != nil {
			continue
		}
		if n.members.Load().hasLeft(a) {
			n.log.Info("removing a member that left from the consensus", "member", a.String())
			if err := c.r.RemoveServer(id, 0, timeout).Error(); err != nil {
				n.log.Debug("remove server", "member", a.String(), "err", err)
			}
		}
	}
}
