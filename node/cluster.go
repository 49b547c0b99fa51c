package node

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/zerohop/zerohop/wire"
)

// member is this node's view of one cluster member. Guarded by Node.mu.
type member struct {
	addr        wire.NodeAddress
	name        string // memberlist name (the advertised address)
	gossipIP    net.IP
	gossipPort  uint16
	meta        nodeMeta
	alive       bool      // memberlist says alive
	left        bool      // left gracefully (memberlist left, or leaving meta when it died)
	unreachable bool      // no successful probe for a while (alive but silent)
	lastAck     time.Time // last successful direct probe or (re)join
	downAt      time.Time
}

// isUp: alive, done joining and not leaving; the leader and allocation
// candidates come from these (unreachable members stay up until memberlist
// declares them dead, as in Casty).
func (m *member) isUp() bool { return m.alive && !m.meta.Leaving && !m.meta.Joining }

// isServing: alive and not leaving (up or joining). Such a member keeps
// the shards the table gives it and its services stay in the registry; a
// joining member only answers no GetShardLocation yet.
func (m *member) isServing() bool { return m.alive && !m.meta.Leaving }

func (m *member) status() wire.MemberStatus {
	switch {
	case m.alive && m.meta.Leaving:
		return wire.StatusLeaving
	case m.alive && m.meta.Joining:
		return wire.StatusJoining
	case m.alive:
		return wire.StatusUp
	case m.left:
		return wire.StatusRemoved
	default:
		return wire.StatusDown
	}
}

func (m *member) hosts(typ string) bool {
	for _, t := range m.meta.Types {
		if t.Name == typ {
			return true
		}
	}
	return false
}

func (m *member) gossipAddr() string {
	return net.JoinHostPort(m.gossipIP.String(), strconv.Itoa(int(m.gossipPort)))
}

// startMembership creates the memberlist instance (not yet joined).
func (n *Node) startMembership() error {
	mc := memberlist.DefaultLANConfig()
	mc.Name = n.self.String()
	host, port, err := splitHostPort(n.cfg.Gossip)
	if err != nil {
		return fmt.Errorf("node: gossip %q: %w", n.cfg.Gossip, err)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	mc.BindAddr, mc.BindPort = host, port
	if n.cfg.GossipAdvertise != "" {
		ah, ap, err := splitHostPort(n.cfg.GossipAdvertise)
		if err != nil {
			return fmt.Errorf("node: gossip advertise %q: %w", n.cfg.GossipAdvertise, err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = ah, ap
	}
	mm := n.cfg.Membership
	mc.ProbeInterval = mm.ProbeInterval
	mc.ProbeTimeout = mm.ProbeTimeout
	mc.SuspicionMult = mm.SuspicionMult
	mc.GossipInterval = mm.GossipInterval
	mc.PushPullInterval = mm.PushPullInterval
	mc.TCPTimeout = mm.TCPTimeout
	mc.GossipToTheDeadTime = max(mm.DownRetention/2, 5*time.Second)
	mc.DeadNodeReclaimTime = time.Second // a restarted node may come back on another gossip port
	mc.EnableCompression = false
	mc.Logger = memberlistLog(n.log)
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{host},
		BindPort:  port,
		Logger:    mc.Logger,
	})
	if err != nil {
		return fmt.Errorf("node: gossip listen %s: %w", n.cfg.Gossip, err)
	}
	if port == 0 {
		mc.BindPort = nt.GetAutoBindPort()
	}
	mc.Transport = newGatedTransport(nt, &n.gate)
	d := &delegate{n: n}
	mc.Delegate = d
	mc.Events = d
	mc.Ping = d
	n.bq = &memberlist.TransmitLimitedQueue{NumNodes: d.numNodes, RetransmitMult: mc.RetransmitMult}
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = mc.Transport.Shutdown()
		return fmt.Errorf("node: memberlist: %w", err)
	}
	n.ml = ml
	ln := ml.LocalNode()
	n.gossip = net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
	return nil
}

// join joins the seeds (retrying until JoinTimeout or ctx), after which the
// node has merged the cluster's allocation table; with no seeds it starts a
// new cluster.
func (n *Node) join(ctx context.Context) error {
	if len(n.cfg.Seeds) == 0 {
		n.mu.Lock()
		n.synced = true
		n.evalLeaderLocked()
		n.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Membership.JoinTimeout)
	defer cancel()
	backoff := 100 * time.Millisecond
	for {
		_, err := n.ml.Join(n.cfg.Seeds)
		if err == nil {
			break
		}
		n.log.Debug("join", "seeds", n.cfg.Seeds, "err", err)
		// Jittered (half to full backoff) so that nodes started together do
		// not retry in lockstep.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: join %v: %w (last error: %v)", n.cfg.Seeds, ctx.Err(), err)
		case <-time.After(wait):
		}
		backoff = min(2*backoff, time.Second)
	}
	// memberlist's join did a push/pull with the seeds, which merged the
	// cluster's table: this node is up from now on.
	n.mu.Lock()
	n.synced = true
	n.meta.Joining = false
	if m := n.members[n.self]; m != nil {
		m.meta.Joining = false
	}
	n.snapDirty = true
	n.evalLeaderLocked()
	n.mu.Unlock()
	n.wake()
	if err := n.ml.UpdateNode(n.cfg.Membership.TCPTimeout); err != nil {
		n.log.Debug("update joined meta", "err", err)
	}
	return nil
}

// delegate implements memberlist's Delegate, EventDelegate and PingDelegate.
type delegate struct{ n *Node }

const (
	msgTable byte = 't'
)

// numNodes feeds the broadcast queue's retransmit count. It must not call
// memberlist: the queue is filled from event callbacks that run under
// memberlist's node lock.
func (d *delegate) numNodes() int { return int(max(1, d.n.aliveMembers.Load())) }

func (d *delegate) NodeMeta(limit int) []byte {
	d.n.mu.Lock()
	b := d.n.meta.marshal()
	d.n.mu.Unlock()
	if len(b) > limit {
		d.n.log.Error("node metadata too large; gossiping it without services", "size", len(b), "limit", limit)
		d.n.mu.Lock()
		m := d.n.meta
		d.n.mu.Unlock()
		m.Services = nil
		b = m.marshal()
	}
	return b
}

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 {
		return
	}
	switch b[0] {
	case msgTable:
		t, err := unmarshalTable(b[1:])
		if err != nil {
			d.n.ctr.gossipRejected.Add(1)
			d.n.logLimited("dropping bad allocation table", "err", err)
			return
		}
		d.n.mergeTable(t)
	default:
		d.n.ctr.gossipRejected.Add(1)
		d.n.logLimited("dropping gossip message of unknown kind", "kind", b[0])
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.bq.GetBroadcasts(overhead, limit)
}

// LocalState is our table and a hand-over of its term: ours once we made
// it (the new leader's sync round pulls it from here), or else the latest
// one we saw made to another node, forwarded so that its addressee learns
// of it (and passes it on if it no longer leads either).
func (d *delegate) LocalState(join bool) []byte {
	n := d.n
	n.mu.Lock()
	t := n.table
	var g *termGrant
	switch {
	case t.epoch == 0:
	case n.handedOver.epoch == t.epoch:
		h := n.handedOver
		g = &h
	case n.seenGrant.epoch == t.epoch:
		h := n.seenGrant
		g = &h
	}
	n.mu.Unlock()
	return t.marshalState(g)
}

func (d *delegate) MergeRemoteState(b []byte, join bool) {
	t, g, err := unmarshalState(b)
	if err != nil {
		d.n.ctr.gossipRejected.Add(1)
		d.n.logLimited("dropping bad remote state", "err", err)
		return
	}
	d.n.mergeTable(t)
	if g != nil {
		d.n.takeGrant(t, g)
	}
}

// takeGrant records a hand-over of t's term (g, made by whoever held the
// right to continue t; see ownsTermLocked): made to this incarnation, we
// now hold that right, and pass it on at once if we do not lead; made to
// another node, we remember it to forward it in our state.
func (n *Node) takeGrant(t *allocTable, g *termGrant) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if g.to != n.self {
		if g.epoch >= n.seenGrant.epoch {
			n.seenGrant = *g
		}
		return
	}
	if g.inc != n.inc || g.epoch <= n.handedUs.epoch {
		return // for an earlier incarnation of ours, or known
	}
	n.handedUs.epoch, n.handedUs.writer = g.epoch, t.writer
	n.log.Debug("term handed over to us", "writer", t.writer.String(), "epoch", g.epoch)
	if !n.leading {
		n.handOverLocked()
	}
}

func (d *delegate) NotifyJoin(nd *memberlist.Node) { d.n.onMember(nd, true) }
func (d *delegate) NotifyLeave(nd *memberlist.Node) {
	d.n.onMember(nd, false)
}
func (d *delegate) NotifyUpdate(nd *memberlist.Node) { d.n.onMember(nd, true) }

func (d *delegate) AckPayload() []byte { return nil }
func (d *delegate) NotifyPingComplete(other *memberlist.Node, _ time.Duration, _ []byte) {
	addr, err := wire.ParseNodeAddress(other.Name)
	if err != nil {
		return
	}
	n := d.n
	n.mu.Lock()
	if m := n.members[addr]; m != nil {
		m.lastAck = time.Now()
		if m.unreachable {
			m.unreachable = false
			n.snapDirty = true
			n.wake()
		}
	}
	n.mu.Unlock()
}

// tableBroadcast is a table in memberlist's broadcast queue; a newer table
// invalidates an older one.
type tableBroadcast struct{ msg []byte }

func (b *tableBroadcast) Invalidates(o memberlist.Broadcast) bool {
	_, ok := o.(*tableBroadcast)
	return ok
}
func (b *tableBroadcast) Message() []byte { return b.msg }
func (b *tableBroadcast) Finished()       {}

// onMember applies a memberlist event. Called by memberlist with its node
// lock held: it only touches our state.
func (n *Node) onMember(nd *memberlist.Node, alive bool) {
	addr, err := wire.ParseNodeAddress(nd.Name)
	if err != nil {
		n.ctr.gossipRejected.Add(1)
		n.logLimited("ignoring member with a bad name", "name", nd.Name)
		return
	}
	meta, err := parseMeta(nd.Meta)
	if err != nil && alive {
		n.ctr.gossipRejected.Add(1)
		n.logLimited("ignoring member with bad metadata", "member", nd.Name, "err", err)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.members[addr]
	if alive && meta.System != n.cfg.System {
		n.ctr.gossipRejected.Add(1)
		n.logLimited("ignoring member of another system", "member", nd.Name, "system", meta.System)
		return
	}
	now := time.Now()
	if m == nil {
		if !alive {
			return
		}
		m = &member{addr: addr, name: nd.Name, lastAck: now}
		n.members[addr] = m
	}
	wasAlive := m.alive
	m.gossipIP = append(net.IP(nil), nd.Addr...)
	m.gossipPort = nd.Port
	if alive {
		m.meta = meta
		m.alive = true
		m.left = false
		if !wasAlive {
			m.lastAck = now
			m.unreachable = false
			n.log.Info("member up", "member", addr.String())
		}
	} else {
		m.alive = false
		m.left = m.meta.Leaving
		m.downAt = now
		m.unreachable = !m.left
		if wasAlive {
			n.log.Info("member down", "member", addr.String(), "left", m.left)
		}
		n.closePeer(addr)
	}
	count := int32(0)
	set := map[wire.NodeAddress]struct{}{}
	for _, o := range n.members {
		if o.alive {
			count++
			if o.addr != n.self {
				set[o.addr] = struct{}{}
			}
		}
	}
	n.aliveMembers.Store(count)
	n.memberSet.Store(&set)
	n.snapDirty = true
	n.evalLeaderLocked()
	if n.leading {
		n.rebalanceLocked()
		n.servePendingLocked(now)
	}
	n.wake()
}

// checkMembersLocked runs the unreachable detector and drops down members
// after their retention. health is memberlist's health score (Lifeguard
// awareness, 0 = healthy), read by the caller before taking mu.
//
// memberlist probes one member per ProbeInterval stretched by (1 + health),
// and only an ack within ProbeTimeout counts as a direct probe (late acks
// and indirect probes keep a member alive without telling us). On a
// CPU-starved process the health score rises, so the window stretches the
// same way: a loaded but healthy member is not reported unreachable while
// memberlist itself does not even suspect it. A member that died does not
// raise the health score of the nodes probing it (the other members nack
// the indirect probes), so its detection is not delayed.
func (n *Node) checkMembersLocked(now time.Time, health int) {
	others := 0
	for _, m := range n.members {
		if m.alive && m.addr != n.self {
			others++
		}
	}
	after := n.cfg.Membership.UnreachableAfter * time.Duration(max(1, others)) * time.Duration(1+max(0, health))
	for addr, m := range n.members {
		if addr == n.self {
			continue
		}
		if m.alive {
			u := now.Sub(m.lastAck) > after
			if u != m.unreachable {
				m.unreachable = u
				n.snapDirty = true
				if u {
					n.log.Info("member unreachable", "member", addr.String())
				}
			}
			continue
		}
		if now.Sub(m.downAt) > n.cfg.Membership.DownRetention {
			delete(n.members, addr)
			n.snapDirty = true
		}
	}
}

// evalLeaderLocked recomputes the leader (lowest up address) and starts a
// takeover when it is us.
func (n *Node) evalLeaderLocked() {
	var leader wire.NodeAddress
	found := false
	for _, m := range n.members {
		if m.isUp() && (!found || m.addr.Less(leader)) {
			leader, found = m.addr, true
		}
	}
	if leader != n.leader {
		if found {
			n.ctr.leaderChanges.Add(1)
			n.log.Info("leader changed", "leader", leader.String())
		} else {
			n.log.Info("no leader: no member is up")
		}
		n.leader = leader
		n.snapDirty = true
	}
	if leader != n.self || n.meta.Leaving {
		if n.leading {
			n.log.Info("no longer leading")
		}
		n.leading = false
		n.handoverSince = time.Time{}
		n.handOverLocked()
		return
	}
	if !n.leading && n.synced {
		n.startSyncLocked()
	}
}

// ownsTermLocked reports whether this incarnation holds the right to write
// the epoch after the current table's: it wrote that table, or the table's
// term was handed over to it, and it has not handed the table over since.
// At most one incarnation holds that right for an epoch (each holder passes
// it on at most once, to one incarnation), so nobody else can write after
// the table in its term.
func (n *Node) ownsTermLocked() bool {
	t := n.table
	if t.epoch == 0 || n.handedOver.epoch == t.epoch {
		return false
	}
	wrote := t.epoch == n.lastWritten && t.writer == n.self
	given := n.handedUs.epoch == t.epoch && n.handedUs.writer == t.writer
	return wrote || given
}

// handOverLocked runs when we do not lead: if we hold the right to continue
// the current table's term (ownsTermLocked), promise to write nothing more
// after it and hand the right over to the leader we see (once per epoch, to
// that leader's incarnation). The leader's sync round pulls the hand-over
// with our push/pull state and continues the term instead of starting a
// new one, so a leader change between live members (a lower address
// joining, the leader leaving, a paused leader coming back) does not bump
// the term. A node that received the right and lost the leadership before
// using it passes it on the same way.
func (n *Node) handOverLocked() {
	if n.leading || !n.ownsTermLocked() || n.leader.IsZero() || n.leader == n.self {
		return
	}
	m := n.members[n.leader]
	if m == nil || !m.isUp() || m.meta.Inc == 0 {
		return
	}
	n.handedOver = termGrant{epoch: n.table.epoch, to: n.leader, inc: m.meta.Inc}
	n.ctr.termsHandedOver.Add(1)
	n.log.Info("handing the term over", "to", n.leader.String(), "epoch", n.table.epoch)
}

// startSyncLocked starts (or re-arms) the sync round: a push/pull with every
// alive member, which merges their tables, then the leadership takeover if
// we lead. Used when we become leader, after a stall and on rejoin.
func (n *Node) startSyncLocked() {
	if n.closing {
		return
	}
	if n.syncRunning {
		n.syncAgain = true
		return
	}
	n.syncRunning = true
	n.wg.Add(1)
	go n.syncRound()
}

func (n *Node) syncRound() {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		var addrs []string
		for _, m := range n.members {
			if m.alive && m.addr != n.self {
				addrs = append(addrs, m.gossipAddr())
			}
		}
		n.syncAgain = false
		n.mu.Unlock()
		ok := len(addrs) == 0
		if !ok {
			if !n.gate.wait(n.stop) {
				n.mu.Lock()
				n.syncRunning = false
				n.mu.Unlock()
				return
			}
			c, err := n.ml.Join(addrs)
			ok = c > 0
			if err != nil {
				n.log.Debug("sync round", "contacted", c, "of", len(addrs), "err", err)
			}
		}
		n.mu.Lock()
		if n.closing {
			n.syncRunning = false
			n.mu.Unlock()
			return
		}
		if ok {
			if !n.synced {
				n.log.Info("allocation table synced", "epoch", n.table.epoch)
			}
			n.synced = true
			n.resolvePendingLocked(time.Now())
			if n.leader == n.self && !n.meta.Leaving && !n.leading && !n.syncAgain {
				if t, to, ok := n.takeoverLocked(time.Now()); !ok {
					n.syncAgain = true // waiting for the previous writer's hand-over
				} else {
					n.mu.Unlock()
					// Announce the takeover's table to every alive member
					// before writing anything after it, so that a successor
					// that never hears of our allocations still knows the
					// term and starts above it.
					n.sendTable(t, to)
					n.mu.Lock()
					n.replicated = max(n.replicated, t.epoch)
					if n.leader == n.self && !n.meta.Leaving && n.ownsTermLocked() && termOf(n.table.epoch) == n.leadTerm && !n.closing {
						n.leading = true
						n.log.Info("leading", "term", n.leadTerm, "epoch", n.table.epoch)
						n.servePendingLocked(time.Now())
					} else {
						n.syncAgain = true
					}
				}
			}
		}
		if !n.syncAgain && ok {
			n.syncRunning = false
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
		select {
		case <-n.stop:
			n.mu.Lock()
			n.syncRunning = false
			n.mu.Unlock()
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// takeoverLocked starts our leadership after a sync round merged the
// members' tables. It continues the current table's term when nobody else
// can write after it: we wrote it ourselves and did not hand it over (a
// re-sync after a stall or a flap), or its writer handed the term over to
// us. When its writer is still alive and may hand it over, it waits for
// that (ok false: the sync round retries) up to HandoverTimeout. Otherwise
// it starts a new term above every table we merged, so nothing we write can
// collide with an epoch our predecessor wrote, even one that never reached
// us. The takeover's table has the shards of members that are not up moved
// to survivors; it is installed and returned with the members to announce
// it to; leading is set by the caller once they have it.
func (n *Node) takeoverLocked(now time.Time) (t *allocTable, to []*memberlist.Node, ok bool) {
	cur := n.table
	how := n.takeoverModeLocked(now)
	switch how {
	case takeoverWait:
		return nil, nil, false
	case takeoverOwnTerm, takeoverHandedOver:
		n.leadTerm = termOf(cur.epoch)
		t = cur.clone(cur.epoch+1, n.self)
		n.ctr.termsContinued.Add(1)
	default:
		term := max(termOf(cur.epoch), n.leadTerm) + 1
		n.leadTerm = term
		t = cur.clone(term<<termShift, n.self)
		n.ctr.termsStarted.Add(1)
	}
	n.handoverSince = time.Time{}
	moved := n.rebalanceInto(t)
	n.log.Info("taking over", "term", n.leadTerm, "epoch", t.epoch, "how", how, "moved", moved)
	n.setTableLocked(t, true)
	return t, n.aliveOthersLocked(), true
}

// How a takeover starts (takeoverModeLocked).
const (
	takeoverOwnTerm    = "own term"    // continue the term of our own last write
	takeoverHandedOver = "handed over" // continue a term handed over to us
	takeoverWait       = "wait"        // wait for a hand-over (retry later)
	takeoverNewTerm    = "new term"    // start a term above every table merged
)

// takeoverModeLocked decides how the takeover starts; see takeoverLocked.
func (n *Node) takeoverModeLocked(now time.Time) string {
	cur := n.table
	switch {
	case (cur.epoch+1)&seqMask == 0:
		return takeoverNewTerm // the term's sequence is used up
	case n.ownsTermLocked() && cur.writer == n.self && cur.epoch == n.lastWritten:
		return takeoverOwnTerm
	case n.ownsTermLocked():
		return takeoverHandedOver
	case n.awaitHandoverLocked(cur, now):
		return takeoverWait
	}
	return takeoverNewTerm
}

// awaitHandoverLocked reports whether the takeover should wait for a
// hand-over of cur's term: its writer is another member, the same
// incarnation, alive and reachable (it, or the member it handed the term
// to, hands over as soon as it sees us lead), and we have not waited
// HandoverTimeout yet.
func (n *Node) awaitHandoverLocked(cur *allocTable, now time.Time) bool {
	if cur.writer.IsZero() || cur.writer == n.self || cur.writerInc == 0 {
		return false
	}
	m := n.members[cur.writer]
	if m == nil || !m.alive || m.unreachable || m.meta.Inc != cur.writerInc {
		return false
	}
	if n.handoverSince.IsZero() {
		n.handoverSince = now
		n.log.Debug("waiting for the previous writer to hand its term over", "writer", cur.writer.String(), "epoch", cur.epoch)
	}
	if now.Sub(n.handoverSince) < n.cfg.Membership.HandoverTimeout {
		return true
	}
	n.log.Info("no hand-over from the previous writer in time", "writer", cur.writer.String(),
		"epoch", cur.epoch, "waited", n.cfg.Membership.HandoverTimeout)
	return false
}

func (n *Node) aliveOthersLocked() []*memberlist.Node {
	var to []*memberlist.Node
	for _, m := range n.members {
		if m.alive && m.addr != n.self {
			to = append(to, &memberlist.Node{Name: m.name, Addr: m.gossipIP, Port: m.gossipPort})
		}
	}
	return to
}

// sendTable sends t to each member over memberlist's reliable channel.
func (n *Node) sendTable(t *allocTable, to []*memberlist.Node) {
	msg := append([]byte{msgTable}, t.marshal()...)
	for _, nd := range to {
		select {
		case <-n.stop:
			return
		default:
		}
		if err := n.ml.SendReliable(nd, msg); err != nil {
			n.log.Debug("table push", "to", nd.Name, "err", err)
		}
	}
}

// onStallLocked: the watchdog saw the node stop for gap. Others may have
// declared us dead and re-allocated under a newer term, so stop answering
// from our table and stop allocating until a sync round merged theirs.
func (n *Node) onStallLocked(gap time.Duration) {
	n.ctr.stalls.Add(1)
	n.log.Warn("stall detected; re-syncing the allocation table", "gap", gap.Round(time.Millisecond))
	n.synced = false
	n.leading = false
	for _, m := range n.members {
		m.lastAck = time.Now() // our own silence is not theirs
	}
	n.startSyncLocked()
}

// mergeTable adopts t if it is newer than ours.
func (n *Node) mergeTable(t *allocTable) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !t.newerThan(n.table) {
		if t.epoch < n.table.epoch {
			n.ctr.tablesIgnored.Add(1)
		}
		return
	}
	n.ctr.tablesMerged.Add(1)
	n.setTableLocked(t, false)
	if n.leading && (t.writer != n.self || t.writerInc != n.inc) {
		// Someone else wrote in our term or later: another leader exists
		// (or existed). Re-sync and start a fresh term before allocating.
		n.log.Info("table from another leader; re-taking leadership", "writer", t.writer.String(), "epoch", t.epoch)
		n.leading = false
		n.startSyncLocked()
	}
}

// setTableLocked installs t, rebuilds the route and, for our own writes,
// replicates it (broadcast queue + direct push to members).
func (n *Node) setTableLocked(t *allocTable, local bool) {
	if local {
		t.writerInc = n.inc
		n.lastWritten = t.epoch
	}
	n.table = t
	n.ctr.epoch.Store(t.epoch)
	// Parked envelopes go to their mailboxes before the new route lets
	// later envelopes of the same connections bypass them.
	n.resolvePendingLocked(time.Now())
	n.route.Store(n.buildRoute(t))
	n.snapDirty = true
	if local {
		msg := append([]byte{msgTable}, t.marshal()...)
		n.bq.QueueBroadcast(&tableBroadcast{msg: msg})
		select {
		case n.tablePush <- struct{}{}:
		default:
		}
	}
	n.wake()
}

// publishTables pushes our latest written table to every alive member over
// memberlist's reliable (TCP) channel, coalescing bursts. The broadcast
// queue and the periodic push/pull cover members this misses.
func (n *Node) publishTables() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-n.tablePush:
		}
		if !n.gate.wait(n.stop) {
			return
		}
		n.mu.Lock()
		t := n.table
		var to []*memberlist.Node
		if t.writer == n.self {
			to = n.aliveOthersLocked()
		}
		n.mu.Unlock()
		n.sendTable(t, to)
		n.mu.Lock()
		if t.writer == n.self && t.epoch > n.replicated {
			n.replicated = t.epoch
			n.resolvePendingLocked(time.Now())
		}
		n.mu.Unlock()
	}
}

// rebalanceLocked moves, as leader, the shards of members that are no
// longer up to survivors, in one new epoch.
func (n *Node) rebalanceLocked() {
	t := n.table.clone(0, n.self)
	if n.rebalanceInto(t) > 0 {
		t.epoch = n.nextEpochLocked()
		n.setTableLocked(t, true)
	}
}

// rebalanceInto re-allocates in t every shard whose owner is not an up
// member hosting its type; it returns how many moved.
func (n *Node) rebalanceInto(t *allocTable) int {
	moved := 0
	for _, typ := range slices.Sorted(maps.Keys(t.shards)) {
		m := t.shards[typ]
		for _, s := range slices.Sorted(maps.Keys(m)) {
			owner := m[s]
			if om := n.members[owner]; om != nil && om.isServing() && om.hosts(typ) {
				continue
			}
			if to, ok := n.pickOwner(t, typ); ok {
				m[s] = to
				moved++
				n.ctr.allocations.Add(1)
			} else {
				delete(m, s)
				moved++
			}
		}
	}
	return moved
}

// pickOwner chooses the reachable up member hosting typ with the fewest
// primaries of typ in t (ties: lowest address), as Casty's
// LeastShardStrategy.
func (n *Node) pickOwner(t *allocTable, typ string) (wire.NodeAddress, bool) {
	counts := map[wire.NodeAddress]int{}
	for _, a := range t.shards[typ] {
		counts[a]++
	}
	var best wire.NodeAddress
	found := false
	for _, m := range n.members {
		if !m.isUp() || m.unreachable || !m.hosts(typ) {
			continue
		}
		if !found || counts[m.addr] < counts[best] || (counts[m.addr] == counts[best] && m.addr.Less(best)) {
			best, found = m.addr, true
		}
	}
	return best, found
}

// nextEpochLocked is the epoch of our next write as leader.
func (n *Node) nextEpochLocked() int64 {
	e := n.table.epoch + 1
	if termOf(e) != n.leadTerm || e&seqMask == 0 {
		n.leadTerm = max(n.leadTerm, termOf(n.table.epoch)) + 1
		e = n.leadTerm << termShift
	}
	return e
}

// typeShardsLocked returns the shard count of typ from the members hosting
// it (ours first).
func (n *Node) typeShardsLocked(typ string) (int, bool) {
	for _, e := range n.cfg.Entities {
		if e.Name == typ {
			return e.Shards, true
		}
	}
	for _, m := range n.members {
		if !m.alive {
			continue
		}
		for _, t := range m.meta.Types {
			if t.Name == typ {
				return t.Shards, true
			}
		}
	}
	return 0, false
}
