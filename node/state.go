package node

import (
	"sync"

	"github.com/hashicorp/raft"
	"github.com/zerohop/zerohop/wire"
	"golang.org/x/sys/unix"
)

// State returns the node's view of itself and the cluster (what /_node
// answers GetNodeState with): consensus role and indexes, the lease, the
// shards it serves now (claims) and the ones it stopped serving recently,
// members and selected counters. Times are CLOCK_MONOTONIC nanoseconds.
func (n *Node) State() wire.NodeState {
	now := int64(n.mono())
	st := wire.NodeState{
		Node:        n.self,
		ID:          n.cfg.NodeID,
		Incarnation: int64(n.inc & (1<<63 - 1)),
		Role:        "none",
		Synced:      n.Synced(),
		Leaving:     n.leaving.Load(),
		MonoNow:     n.monoAbs(now),
		Claims:      []wire.ShardClaim{},
		Members:     []wire.Member{},
	}
	if st.ID == "" {
		st.ID = "node-" + n.self.String()
	}
	if c := n.cons.Load(); c != nil && c.r != nil {
		switch c.r.State() {
		case raft.Leader:
			st.Role = "leader"
		case raft.Follower:
			st.Role = "follower"
		case raft.Candidate:
			st.Role = "candidate"
		}
		if l, ok := c.leader(); ok {
			st.Leader = &l
		}
		st.Term = int64(c.r.CurrentTerm())
		st.CommitIndex = int64(c.r.CommitIndex())
		st.Applied = int64(c.fsm.applied.Load())
		if f := c.r.GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if s.Suffrage == raft.Voter {
					st.Voters++
				}
			}
		}
	}
	t := n.table()
	st.Epoch = t.epoch
	if until := n.lease.until.Load(); now < until {
		st.LeaseUntil = n.monoAbs(until)
		rt := n.route.Load()
		leaving := n.leaving.Load()
		for i, rg := range n.regions {
			for s, o := range rt.owners[i] {
				if o != n.self || (leaving && rg.boxes[s].frozenNow()) {
					continue
				}
				st.Claims = append(st.Claims, wire.ShardClaim{Type: rg.typ.Name, Shard: s, Epoch: rt.since[i][s],
					Since: n.monoAbs(rt.servingSince[i][s]), Until: st.LeaseUntil})
			}
		}
	}
	st.Released = n.releases.list()
	if ms := n.members.Load(); ms != nil {
		for _, m := range ms.view() {
			st.Members = append(st.Members, wire.Member{Address: m.addr, Status: m.status, Roles: []string{}, ID: m.id})
		}
	}
	s := n.Stats()
	st.Counters = map[string]int64{
		"entities_live":      s.EntitiesLive,
		"entities_started":   s.EntitiesStarted,
		"entities_stopped":   s.EntitiesStopped,
		"messages_processed": s.MessagesProcessed,
		"forwarded":          s.Forwarded,
		"forwarded_received": s.ForwardedReceived,
		"redirected":         s.Redirected,
		"dead_letters":       s.DeadLetters,
		"hop_limited":        s.HopLimited,
		"allocations":        s.Allocations,
		"reallocations":      s.Reallocations,
		"renewals":           s.Renewals,
		"renew_failures":     s.RenewFailures,
		"mailbox_waits":      s.MailboxWaits,
		"stalls":             s.Stalls,
		"connections_open":   s.ConnectionsOpen,
		"cluster_refused":    s.ClusterRefused,
		"gossip_rejected":    s.GossipRejected,
	}
	for r, v := range s.DeadLettersByReason {
		st.Counters["dead_"+r] = v
	}
	return st
}

// handleNodePath answers GetNodeState at wire.PathNode.
func (n *Node) handleNodePath(l *link, payload []byte) {
	v, err := l.codec.Decode(payload)
	if err != nil {
		n.decodeFailed(l, err)
		return
	}
	req, ok := v.(wire.GetNodeState)
	if !ok || req.ReplyTo.IsZero() {
		n.unexpected(l, wire.PathNode, v)
		return
	}
	n.replyTo(req.ReplyTo, l, n.State())
}

// frozenNow reports whether a leaving node has drained and frozen m.
func (m *mailbox) frozenNow() bool { return m.frozenFlag.Load() }

// monoAbs converts n.mono() nanoseconds to CLOCK_MONOTONIC nanoseconds.
func (n *Node) monoAbs(mono int64) int64 { return n.monoBase + mono }

// clockMonotonic reads CLOCK_MONOTONIC (the clock Go's monotonic time
// reads), in nanoseconds.
func clockMonotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// clockBoottime reads CLOCK_BOOTTIME, which also counts a suspended
// machine's sleep.
func clockBoottime() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return ts.Nano()
}

// releaseLog keeps the most recent claims this node ended.
type releaseLog struct {
	mu   sync.Mutex
	ring []wire.ShardClaim // guarded by mu
	next int               // guarded by mu
}

const maxReleases = 256

func (r *releaseLog) add(c wire.ShardClaim) {
	r.mu.Lock()
	if len(r.ring) < maxReleases {
		r.ring = append(r.ring, c)
	} else {
		r.ring[r.next] = c
		r.next = (r.next + 1) % maxReleases
	}
	r.mu.Unlock()
}

func (r *releaseLog) list() []wire.ShardClaim {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]wire.ShardClaim, 0, len(r.ring))
	out = append(out, r.ring[r.next:]...)
	return append(out, r.ring[:r.next]...)
}
