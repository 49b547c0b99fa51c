package node

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

// Leave hands this node's shards over to the rest of the cluster and
// leaves it, gracefully; the node keeps forwarding what still reaches it
// until its connections have been quiet for a moment (at most
// Config.DrainWindow), then Leave returns. Close calls it; call it first to
// leave without stopping the process yet (as cmd/node does on SIGTERM).
//
// In order:
//
//  1. the node announces it is leaving (gossip, and a leave command in
//     the consensus log: from then on the leader gives it no new shard);
//  2. every shard mailbox runs the messages it held when the leave began,
//     then stops its entities (Stopper, StopLeaving) and serves nothing
//     more; messages that arrive meanwhile wait in the mailbox (bounded:
//     connections pause when it is full);
//  3. it asks the leader to move all its shards to other members (one
//     move command; shards with no candidate become unallocated), and
//     waits until its own replica has applied the move;
//  4. every waiting message is forwarded to its shard's new owner (or
//     parked until one is allocated), as is whatever arrives later;
//  5. it leaves the consensus (handing the leadership over first if it
//     leads) and the gossip;
//  6. it waits until no envelope has reached it for a quiet period
//     (clients have learned the new table) or DrainWindow passed.
//
// A tell a client sent to this node before the leave began is therefore
// run here (step 2) or forwarded to the new owner (step 4): none is lost.
// Entity state does restart on the new owner (entities are in memory).
// Each step is bounded by ctx and Config.LeaveTimeout: a node that cannot
// reach the leader (no quorum) skips the hand-over; its shards move once
// its lease has expired, as after a crash. Idempotent: later calls return
// the first result.
func (n *Node) Leave(ctx context.Context) error {
	n.leaveOnce.Do(func() { n.leaveErr = n.leave(ctx) })
	return n.leaveErr
}

// quietPeriod: a leaving node that received no envelope for this long
// considers its clients moved on.
const quietPeriod = 300 * time.Millisecond

func (n *Node) leave(ctx context.Context) error {
	c, ms := n.cons.Load(), n.members.Load()
	if c == nil || ms == nil {
		return nil
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, n.cfg.LeaveTimeout)
	defer cancel()
	var errs []error

	// 1. Announce.
	n.leaving.Store(true)
	n.lastRegionMsg.Store(int64(n.mono()))
	if err := ms.updateMeta(func(m *nodeMeta) { m.Leaving = true }, ms.gossipWait(ctx)); err != nil {
		n.log.Debug("gossip leaving", "err", err)
	}
	if _, err := n.ctlRetry(ctx, ctlRequest{Op: ctlLeave, Node: n.self.String()}); err != nil {
		errs = append(errs, err)
	}

	// 2. Drain and freeze every shard mailbox.
	var boxes []*mailbox
	for _, r := range n.regions {
		boxes = append(boxes, r.boxes...)
	}
	n.leaveLeft.Store(int64(len(boxes)))
	for _, m := range boxes {
		m.mu.Lock()
		m.draining, m.drainLeft = true, m.count
		m.mu.Unlock()
		m.kick()
	}
	if !n.waitUntil(ctx, func() bool { return n.leaveLeft.Load() <= 0 }) {
		errs = append(errs, errors.New("node: leave: mailboxes not drained in time"))
	}

	// 3-4. Hand the shards over; onTable then forwards what waits.
	if resp, err := n.ctlRetry(ctx, ctlRequest{Op: ctlRelease, Node: n.self.String()}); err != nil {
		errs = append(errs, err)
	} else if !c.fsm.waitApplied(resp.Index, time.Until(deadlineOf(ctx)), n.stop) {
		errs = append(errs, errors.New("node: leave: hand-over not applied in time"))
	} else {
		n.handedOver.Store(true)
		n.log.Info("shards handed over", "epoch", n.table().epoch)
	}

	// 5. Leave the consensus, then the gossip.
	if c.r.State() == raft.Leader && n.voters() > 1 {
		if err := c.r.LeadershipTransfer().Error(); err != nil {
			n.log.Debug("leadership transfer", "err", err)
		}
	}
	if n.voters() > 1 || c.r.State() != raft.Leader {
		if _, err := n.ctlRetry(ctx, ctlRequest{Op: ctlRemove, Node: n.self.String()}); err != nil {
			errs = append(errs, err)
		}
	}
	n.left.Store(true)
	n.dropLease()
	n.unblockAll()
	ms.leave(ctx)
	n.markTopologyChanged()

	// 6. Drain window.
	drain, cancelDrain := context.WithTimeout(ctx, n.cfg.DrainWindow)
	n.waitUntil(drain, func() bool {
		return n.mono()-time.Duration(n.lastRegionMsg.Load()) >= quietPeriod && n.nothingQueued()
	})
	cancelDrain()
	err := errors.Join(errs...)
	n.log.Info("left the cluster", "took", time.Since(began).Round(time.Millisecond), "handed_over", n.handedOver.Load(), "err", err)
	return err
}

// nothingQueued reports whether no shard mailbox holds an envelope and
// nothing waits for an owner: everything that reached a leaving node has
// been forwarded (or dropped and counted).
func (n *Node) nothingQueued() bool {
	for _, r := range n.regions {
		for _, m := range r.boxes {
			m.mu.Lock()
			c := m.count
			m.mu.Unlock()
			if c > 0 {
				return false
			}
		}
	}
	n.loc.mu.Lock()
	defer n.loc.mu.Unlock()
	for _, p := range n.loc.pending {
		if p.env != nil {
			return false
		}
	}
	return true
}

// HandedOver reports whether this node has handed its shards over in a
// graceful leave (its entities are stopped; their counts are final).
func (n *Node) HandedOver() bool { return n.handedOver.Load() }

// ctlRetry sends req to the leader until it is answered or ctx ends.
func (n *Node) ctlRetry(ctx context.Context, req ctlRequest) (ctlResponse, error) {
	var last error
	for {
		resp, err := n.cons.Load().ctl.call(req, n.cfg.Consensus.LeaseDuration/2)
		if err == nil {
			return resp, nil
		}
		last = err
		var ce *ctlError
		if errors.As(err, &ce) && ce.Code != codeNotLeader && ce.Code != codeError {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return ctlResponse{}, errors.Join(ctx.Err(), last)
		case <-n.stop:
			return ctlResponse{}, errClosed
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// voters counts the voters of the configuration this node knows.
func (n *Node) voters() int {
	f := n.cons.Load().r.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	c := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			c++
		}
	}
	return c
}

// waitUntil polls cond every 10 ms until it holds (true) or ctx ends.
func (n *Node) waitUntil(ctx context.Context, cond func() bool) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return cond()
		case <-n.stop:
			return false
		case <-t.C:
		}
	}
	return true
}

func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Minute)
}
