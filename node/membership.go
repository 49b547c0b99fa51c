package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/zerohop/zerohop/wire"
)

// membership is the node's view of the cluster's members, from
// hashicorp/memberlist (gossip, failure detection), which it owns: the
// members and their metadata (system, consensus address, entity types,
// services, joining/leaving), this node's own metadata, the unreachable
// detector, and the periodic re-join that heals a partition.
//
// Membership decides nothing about shards: the allocation table and the
// leases live in the consensus state (fsm.go). It tells the consensus
// leader which members to add to or remove from the raft configuration,
// gives raft the consensus addresses of members, and feeds the topology
// snapshots (members, statuses, unreachable set, service registry).
//
// Gossip is encrypted and authenticated with the cluster's keyring
// (Config.GossipKey, Config.GossipKeys) when one is set: a process without
// the key can neither join nor read or inject gossip.
//
// Concurrency: mu guards members and meta. memberlist calls the delegates
// with its own locks held; they only take mu (lock order: memberlist's
// locks, then mu). memberlist is never called with mu held.
type membership struct {
	n       *Node
	ml      *memberlist.Memberlist
	keyring *memberlist.Keyring // nil without a gossip key
	gossip  string              // bound gossip address

	alive   atomic.Int32                                  // alive members, us included
	others  atomic.Pointer[map[wire.NodeAddress]struct{}] // alive members but us
	changed chan struct{}                                 // a member changed (cap 1)

	mu      sync.Mutex
	members map[wire.NodeAddress]*member // guarded by mu
	meta    nodeMeta                     // ours; guarded by mu
	known   map[string]time.Time         // gossip addresses of members that died (not left), by last death; guarded by mu
}

// member is this node's view of one cluster member. Guarded by membership.mu.
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

// isServing: alive and not leaving.
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

func (m *member) gossipAddr() string {
	return net.JoinHostPort(m.gossipIP.String(), strconv.Itoa(int(m.gossipPort)))
}

// startMembership creates the memberlist instance (not yet joined).
func (n *Node) startMembership(meta nodeMeta) error {
	ms := &membership{n: n, members: map[wire.NodeAddress]*member{}, meta: meta,
		known: map[string]time.Time{}, changed: make(chan struct{}, 1)}
	empty := map[wire.NodeAddress]struct{}{}
	ms.others.Store(&empty)
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
	if len(n.cfg.GossipKey) > 0 {
		kr, err := memberlist.NewKeyring(n.cfg.GossipKeys, n.cfg.GossipKey)
		if err != nil {
			return fmt.Errorf("node: gossip key: %w", err)
		}
		ms.keyring = kr
		mc.Keyring = kr
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
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
	mc.Transport = nt
	if n.gate != nil {
		mc.Transport = newGatedTransport(nt, n.gate)
	}
	d := &delegate{ms: ms}
	mc.Delegate = d
	mc.Events = d
	mc.Ping = d
	n.members.Store(ms)
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = mc.Transport.Shutdown()
		return fmt.Errorf("node: memberlist: %w", err)
	}
	ms.ml = ml
	ln := ml.LocalNode()
	ms.gossip = net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
	return nil
}

// join joins the seeds, retrying with jittered backoff until JoinTimeout
// or ctx. With no seeds it returns at once (a new cluster, or a restart
// from the data directory that waits for the others to re-join it).
func (ms *membership) join(ctx context.Context) error {
	n := ms.n
	seeds := ms.seeds()
	if len(seeds) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Membership.JoinTimeout)
	defer cancel()
	backoff := 100 * time.Millisecond
	for {
		c, err := ms.ml.Join(seeds)
		if err == nil || c > 0 {
			return nil
		}
		n.log.Debug("join", "seeds", seeds, "err", err)
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: join %v: %w (last error: %v)", seeds, ctx.Err(), err)
		case <-time.After(wait):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// seeds returns the configured seeds other than our own gossip address.
func (ms *membership) seeds() []string {
	var out []string
	for _, s := range ms.n.cfg.Seeds {
		if s != ms.gossip && s != ms.n.cfg.GossipAdvertise {
			out = append(out, s)
		}
	}
	return out
}

// rejoinLoop heals partitions: memberlist never contacts a member it
// declared dead again, so two sides of a healed partition would stay apart
// for good. Every Membership.RejoinInterval, while a known member is dead
// (not left) or a seed is not among the alive members, it joins the seeds
// and those members' gossip addresses: the push/pull exchange makes each
// side learn the other is alive (a member told it is dead refutes it).
func (ms *membership) rejoinLoop() {
	n := ms.n
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Membership.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if !n.gate.wait(n.stop) {
			return
		}
		addrs := ms.rejoinTargets(time.Now())
		if len(addrs) == 0 {
			continue
		}
		c, err := ms.ml.Join(addrs)
		if c > 0 {
			n.ctr.rejoins.Add(1)
		}
		if err != nil {
			n.log.Debug("re-join", "targets", addrs, "contacted", c, "err", err)
		}
	}
}

// rejoinForget is how long a dead member's gossip address is retried.
const rejoinForget = 10 * time.Minute

func (ms *membership) rejoinTargets(now time.Time) []string {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	alive := map[string]bool{}
	for _, m := range ms.members {
		if m.alive {
			alive[m.gossipAddr()] = true
		}
	}
	var out []string
	for a, at := range ms.known {
		if now.Sub(at) > rejoinForget {
			delete(ms.known, a)
			continue
		}
		if !alive[a] {
			out = append(out, a)
		}
	}
	for _, s := range ms.seeds() {
		if !alive[s] && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// keys returns the gossip keys, primary first (none without a keyring).
func (ms *membership) keys() [][]byte {
	if ms.keyring == nil {
		return nil
	}
	return ms.keyring.GetKeys()
}

// updateMeta changes our metadata with f and gossips it, waiting for the
// broadcast up to timeout.
func (ms *membership) updateMeta(f func(*nodeMeta), timeout time.Duration) error {
	ms.mu.Lock()
	f(&ms.meta)
	if m := ms.members[ms.n.self]; m != nil {
		m.meta = ms.meta
	}
	ms.mu.Unlock()
	ms.n.markTopologyChanged()
	return ms.ml.UpdateNode(max(timeout, time.Millisecond))
}

// ourMeta returns a copy of our metadata.
func (ms *membership) ourMeta() nodeMeta {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.meta
}

func (ms *membership) isServing(a wire.NodeAddress) bool {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m := ms.members[a]
	return m != nil && m.isServing()
}

func (ms *membership) hasLeft(a wire.NodeAddress) bool {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m := ms.members[a]
	return m != nil && !m.alive && m.left
}

// raftAddr returns the consensus address member a announces ("" unknown).
func (ms *membership) raftAddr(a wire.NodeAddress) string {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if m := ms.members[a]; m != nil {
		return m.meta.Raft
	}
	return ""
}

type candidate struct {
	addr wire.NodeAddress
	raft string
}

// consensusCandidates are the alive members, not leaving, that announce a
// consensus address: the leader adds them to the raft configuration.
func (ms *membership) consensusCandidates() []candidate {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []candidate
	for _, m := range ms.members {
		if m.alive && !m.meta.Leaving && m.meta.Raft != "" && m.addr != ms.n.self {
			out = append(out, candidate{addr: m.addr, raft: m.meta.Raft})
		}
	}
	return out
}

// othersUp reports whether another member is alive and not leaving.
func (ms *membership) othersUp() bool {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for _, m := range ms.members {
		if m.addr != ms.n.self && m.isServing() {
			return true
		}
	}
	return false
}

// delegate implements memberlist's Delegate, EventDelegate and PingDelegate.
type delegate struct{ ms *membership }

func (d *delegate) NodeMeta(limit int) []byte {
	ms := d.ms
	ms.mu.Lock()
	m := ms.meta
	ms.mu.Unlock()
	b := m.marshal()
	if len(b) > limit {
		ms.n.log.Error("node metadata too large; gossiping it without services", "size", len(b), "limit", limit)
		m.Services = nil
		b = m.marshal()
	}
	return b
}

// NotifyMsg: nothing travels in user gossip messages any more (the table is
// in the consensus log); whatever arrives is counted and dropped.
func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 {
		return
	}
	d.ms.n.ctr.gossipRejected.Add(1)
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(b []byte, join bool)       {}

func (d *delegate) NotifyJoin(nd *memberlist.Node)   { d.ms.onMember(nd, true) }
func (d *delegate) NotifyLeave(nd *memberlist.Node)  { d.ms.onMember(nd, false) }
func (d *delegate) NotifyUpdate(nd *memberlist.Node) { d.ms.onMember(nd, true) }

func (d *delegate) AckPayload() []byte { return nil }
func (d *delegate) NotifyPingComplete(other *memberlist.Node, _ time.Duration, _ []byte) {
	addr, err := wire.ParseNodeAddress(other.Name)
	if err != nil {
		return
	}
	ms := d.ms
	ms.mu.Lock()
	changed := false
	if m := ms.members[addr]; m != nil {
		m.lastAck = time.Now()
		if m.unreachable {
			m.unreachable = false
			changed = true
		}
	}
	ms.mu.Unlock()
	if changed {
		ms.n.markTopologyChanged()
	}
}

// onMember applies a memberlist event. Called by memberlist with its node
// lock held: it only touches our state.
func (ms *membership) onMember(nd *memberlist.Node, alive bool) {
	n := ms.n
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
	if alive && meta.System != n.cfg.System {
		n.ctr.gossipRejected.Add(1)
		n.logLimited("ignoring member of another system", "member", nd.Name, "system", meta.System)
		return
	}
	now := time.Now()
	ms.mu.Lock()
	m := ms.members[addr]
	if m == nil {
		if !alive {
			ms.mu.Unlock()
			return
		}
		m = &member{addr: addr, name: nd.Name, lastAck: now}
		ms.members[addr] = m
	}
	wasAlive := m.alive
	m.gossipIP = append(net.IP(nil), nd.Addr...)
	m.gossipPort = nd.Port
	if alive {
		m.meta = meta
		m.alive = true
		m.left = false
		delete(ms.known, m.gossipAddr())
		if !wasAlive {
			m.lastAck = now
			m.unreachable = false
			n.log.Info("member up", "member", addr.String())
		}
	} else {
		m.alive = false
		m.left = m.meta.Leaving || nd.State == memberlist.StateLeft
		m.downAt = now
		m.unreachable = !m.left
		if !m.left && addr != n.self {
			ms.known[m.gossipAddr()] = now
		}
		if wasAlive {
			n.log.Info("member down", "member", addr.String(), "left", m.left)
		}
	}
	count := int32(0)
	set := map[wire.NodeAddress]struct{}{}
	for _, o := range ms.members {
		if o.alive {
			count++
			if o.addr != n.self {
				set[o.addr] = struct{}{}
			}
		}
	}
	ms.alive.Store(count)
	ms.others.Store(&set)
	ms.mu.Unlock()
	if !alive {
		n.closePeer(addr)
	}
	select {
	case ms.changed <- struct{}{}:
	default:
	}
	n.markTopologyChanged()
}

// checkMembers runs the unreachable detector and drops down members after
// their retention. health is memberlist's health score (Lifeguard
// awareness, 0 = healthy).
//
// memberlist probes one member per ProbeInterval stretched by (1 + health),
// and only an ack within ProbeTimeout counts as a direct probe (late acks
// and indirect probes keep a member alive without telling us). On a
// CPU-starved process the health score rises, so the window stretches the
// same way: a loaded but healthy member is not reported unreachable while
// memberlist itself does not even suspect it. A member that died does not
// raise the health score of the nodes probing it (the other members nack
// the indirect probes), so its detection is not delayed.
func (ms *membership) checkMembers(now time.Time, health int) {
	n := ms.n
	ms.mu.Lock()
	others := 0
	for _, m := range ms.members {
		if m.alive && m.addr != n.self {
			others++
		}
	}
	after := n.cfg.Membership.UnreachableAfter * time.Duration(max(1, others)) * time.Duration(1+max(0, health))
	changed := false
	for addr, m := range ms.members {
		if addr == n.self {
			continue
		}
		if m.alive {
			u := now.Sub(m.lastAck) > after
			if u != m.unreachable {
				m.unreachable = u
				changed = true
				if u {
					n.log.Info("member unreachable", "member", addr.String())
				}
			}
			continue
		}
		if now.Sub(m.downAt) > n.cfg.Membership.DownRetention {
			delete(ms.members, addr)
			changed = true
		}
	}
	ms.mu.Unlock()
	if changed {
		n.markTopologyChanged()
	}
}

// resetAcks treats every member as just heard from: after a stall of our
// own, their silence was ours.
func (ms *membership) resetAcks() {
	ms.mu.Lock()
	now := time.Now()
	for _, m := range ms.members {
		m.lastAck = now
	}
	ms.mu.Unlock()
}

// memberView is a member as topology snapshots show it.
type memberView struct {
	addr        wire.NodeAddress
	status      wire.MemberStatus
	id          string
	unreachable bool
	services    [][2]string // when serving
}

// view returns the members sorted by address.
func (ms *membership) view() []memberView {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	out := make([]memberView, 0, len(ms.members))
	for _, m := range ms.members {
		v := memberView{addr: m.addr, status: m.status(), id: m.meta.ID, unreachable: m.unreachable}
		if m.isServing() {
			v.services = m.meta.Services
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b memberView) int { return a.addr.Compare(b.addr) })
	return out
}

// gossipWait bounds memberlist's wait for a broadcast of ours (the leaving
// metadata, the leave message) to go out: memberlist waits until the
// message was gossiped its full retransmit count, or the timeout; when the
// other members leave at the same time nobody is left to gossip to. So the
// wait is TCPTimeout while another member is up, a few gossip rounds
// otherwise, and never past ctx's deadline.
func (ms *membership) gossipWait(ctx context.Context) time.Duration {
	mm := ms.n.cfg.Membership
	d := mm.TCPTimeout
	if !ms.othersUp() {
		d = min(d, 5*mm.GossipInterval)
	}
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	if ctx.Err() != nil || d <= 0 {
		d = time.Millisecond // memberlist reads 0 as "wait forever"
	}
	return d
}

func (ms *membership) leave(ctx context.Context) {
	if err := ms.ml.Leave(ms.gossipWait(ctx)); err != nil {
		ms.n.log.Debug("leave", "err", err)
	}
}

// setRaft records the consensus port's address in our metadata (gossiped
// with the next update).
func (ms *membership) setRaft(addr string) {
	ms.mu.Lock()
	ms.meta.Raft = addr
	ms.mu.Unlock()
}

func (ms *membership) shutdown() {
	if ms != nil && ms.ml != nil {
		_ = ms.ml.Shutdown()
	}
}

// memberOthers returns the alive members but us (nil before membership
// starts).
func (n *Node) memberOthers() *map[wire.NodeAddress]struct{} {
	ms := n.members.Load()
	if ms == nil {
		return nil
	}
	return ms.others.Load()
}
