package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/gnetconn"
	"github.com/zerohop/zerohop/wire"
)

// Node is one cluster member. It is safe for concurrent use and must not be
// copied; its zero value is not usable. Create it with Start; stop it with
// Close (graceful: Leave, then stop) or Kill (abrupt, for tests).
//
// A Node wires objects that each own their state and lock: the membership
// (membership.go, gossip), the consensus (consensus.go, fsm.go, leader.go:
// the table, leases, leadership), the lease holder (lease.go), the
// locator (locate.go: location requests, parked envelopes), the topology
// subscriptions (topology.go), the regions and their mailboxes
// (region.go, mailbox.go, worker.go) and the connections (link.go,
// peers.go).
type Node struct {
	cfg       Config
	log       *slog.Logger
	reg       wire.Codec        // cfg.Registry
	bin       wire.Codec        // cfg.Binary; nil when not set
	binTypes  []wire.BinaryType // cfg.Binary's table, taken at New
	self      wire.NodeAddress
	senderURI string          // casty://system@host:port/
	fwdSender [maxHops]string // sender URI prefixes of forwarded envelopes, by hop count before the forward (forwardNow appends .EPOCH)
	hsFrame   []byte          // our handshake frame (reply and dial), immutable
	// hsReply is the handshake frames inbound connections get: hsFrame's,
	// with the cluster's entity types as the allocation table knows them
	// (set by onTable when they change; announceTypes), choosing JSON or
	// (with cfg.Binary) zhbin.
	hsReply  atomic.Pointer[hsReplies]
	ctr      *counters
	gate     *gate     // nil unless Config.Pausable
	bounds   bounds    // bounds against any peer (budget.go)
	inc      uint64    // incarnation, random, nonzero; immutable
	base     time.Time // the monotonic origin of n.mono()
	monoBase int64     // CLOCK_MONOTONIC ns at base
	bootBase int64     // CLOCK_BOOTTIME ns at base (suspend detector)

	ctx    context.Context // cancelled when shutdown begins
	cancel context.CancelFunc
	stop   chan struct{} // closed when shutdown begins (under linksMu)
	// ready is closed once the fields that depend on the bound address
	// (self, log, senderURI, hsFrame, route) are set. The listener is up
	// before that (a port-0 address is known only once bound), so accept
	// paths wait for it: a connection that arrives at once (a client
	// reconnecting to a restarted node) must not read them half-written.
	ready    chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup // every goroutine the node starts
	closed   chan struct{}  // closed when Close/Kill finished
	closeErr error
	closing  atomic.Bool // shutdown began

	// transport
	eng      gnet.Engine  // set in OnBoot; TransportGnet only
	engDone  chan error   // gnet.Run's result
	ln       net.Listener // TransportNet or TLS
	linkSeq  atomic.Uint64
	linksMu  sync.Mutex
	links    map[uint64]*link // every open link; guarded by linksMu
	outGone  outCount         // frames and bytes queued on links already closed; guarded by linksMu
	clientMu sync.RWMutex
	clients  map[wire.NodeAddress]*link // inbound links by claimed identity; guarded by clientMu
	peersMu  sync.Mutex
	peers    map[wire.NodeAddress]*link // dialled links to members; guarded by peersMu
	peerFail map[wire.NodeAddress]time.Time
	unsent   unsentQueue // forwards a member link could not send (unsent.go)

	// entities and services; immutable after Start
	paths    map[string]pathHandler
	regions  []*region
	services []*mailbox
	runq     chan *mailbox
	route    atomic.Pointer[route]
	blocked  blockedSet

	logLimiter
	members  atomic.Pointer[membership] // published by startMembership (links already read it)
	cons     atomic.Pointer[consensus]  // published once, whole, by startConsensus (links already read it)
	lease    leaseState
	loc      *locator
	subs     *subscriptions
	releases releaseLog
	wakeHK   chan struct{}

	// leave (leave.go)
	leaving       atomic.Bool  // a graceful leave began
	leaveLeft     atomic.Int64 // shard mailboxes not yet drained and frozen
	handedOver    atomic.Bool  // the shards were handed over
	left          atomic.Bool  // out of the consensus: no more renewals
	lastRegionMsg atomic.Int64 // n.mono() of the last envelope received while leaving
	leaveOnce     sync.Once
	leaveErr      error
}

// Start starts a node: the listener, the workers, the consensus port and
// raft, memberlist (joining Seeds, if any, within Membership.JoinTimeout or
// ctx). It returns once the node is a member that has caught up with the
// cluster's state (it holds its first ownership lease).
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n := &Node{
		ready:    make(chan struct{}),
		cfg:      cfg,
		log:      cfg.Logger,
		ctr:      newCounters(),
		inc:      rand.Uint64() | 1,
		base:     time.Now(),
		gate:     newGate(cfg.Pausable),
		stop:     make(chan struct{}),
		closed:   make(chan struct{}),
		links:    map[uint64]*link{},
		clients:  map[wire.NodeAddress]*link{},
		peers:    map[wire.NodeAddress]*link{},
		peerFail: map[wire.NodeAddress]time.Time{},
		wakeHK:   make(chan struct{}, 1),
	}
	n.monoBase = clockMonotonic() - int64(n.mono())
	n.bootBase = clockBoottime() - int64(n.mono())
	n.lease.synced = make(chan struct{})
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.initBounds()
	if n.cfg.Registry == nil && n.cfg.Binary != nil {
		n.cfg.Registry = n.cfg.Binary.JSON()
	}
	if n.cfg.Registry == nil {
		n.cfg.Registry = castyjson.NewRegistry()
	}
	n.reg = n.cfg.Registry
	if n.cfg.Binary != nil {
		n.bin = n.cfg.Binary
		n.binTypes = n.cfg.Binary.Types()
	}
	if n.cfg.Workers == 0 {
		n.cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if n.cfg.EventLoops == 0 {
		n.cfg.EventLoops = runtime.GOMAXPROCS(0)
	}
	n.loc = newLocator(n)
	n.subs = newSubscriptions(n)
	n.buildHandlers()
	if err := n.listen(); err != nil {
		n.shutdownTransport(context.Background())
		return nil, err
	}
	n.log = n.log.With("node", n.self.String())
	n.senderURI = "casty://" + cfg.System + "@" + n.self.String() + "/"
	for h := range n.fwdSender {
		n.fwdSender[h] = "casty://" + cfg.System + "@" + n.self.String() + fwdPath + strconv.Itoa(h+1)
	}
	n.hsFrame = wire.AppendHandshakeFrame(nil, wire.Handshake{Host: n.self.Host, Port: n.self.Port,
		Zerohop: n.extension(nil, nil)})
	n.hsReply.Store(n.replies(nil, nil))
	n.route.Store(n.buildRoute(emptyTable, nil, 0))
	close(n.ready) // inbound connections may be served from here on
	if n.cfg.Raft == "" {
		n.cfg.Raft = defaultRaftAddr(n.cfg.Listen, n.self)
	}
	n.startWorkers()
	if err := n.startConsensusAndMembership(ctx); err != nil {
		n.abort()
		return nil, err
	}
	n.log.Info("node started", "system", cfg.System, "gossip", n.members.Load().gossip, "consensus", n.cons.Load().port.addr,
		"tls", cfg.TLS != nil, "gossip_key", len(cfg.GossipKey) > 0, "data_dir", cfg.DataDir)
	return n, nil
}

// startConsensusAndMembership starts raft and memberlist, joins the seeds
// and waits for the first lease.
func (n *Node) startConsensusAndMembership(ctx context.Context) error {
	if len(n.cfg.GossipKey) == 0 {
		n.log.Warn("no gossip key: members are not authenticated (set Config.GossipKey / -gossip-key)")
	}
	// The consensus port first: the metadata announces its address.
	meta := n.cfg.meta(n.self, "", n.inc)
	meta.Joining = true
	if err := n.startMembership(meta); err != nil {
		return err
	}
	if err := n.startConsensus(); err != nil {
		return err
	}
	ms := n.members.Load()
	ms.setRaft(n.cons.Load().port.addr)
	n.wg.Add(4)
	go n.housekeeping()
	go n.renewLoop()
	go n.loc.allocator()
	go ms.rejoinLoop()
	if err := ms.join(ctx); err != nil {
		return err
	}
	if err := ms.ml.UpdateNode(n.cfg.Membership.TCPTimeout); err != nil {
		n.log.Debug("update meta", "err", err)
	}
	wait := n.cfg.Membership.JoinTimeout
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-n.lease.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("node: waiting to catch up with the cluster: %w", ctx.Err())
	case <-t.C:
		return fmt.Errorf("node: not caught up with the cluster within %v (no leader reachable, or this node was not added: a node restarted without its data directory needs seeds)", wait)
	}
}

// onSynced runs once, at the first lease: the node is up.
func (n *Node) onSynced() {
	n.log.Info("caught up with the cluster", "epoch", n.table().epoch)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.members.Load().updateMeta(func(m *nodeMeta) { m.Joining = false }, n.cfg.Membership.TCPTimeout); err != nil {
			n.log.Debug("update joined meta", "err", err)
		}
	}()
	n.unblockAll()
}

// onLeaseRegained runs when a renewal follows a lapse: the mailboxes that
// waited for the lease run again.
func (n *Node) onLeaseRegained() {
	n.ctr.leaseRegained.Add(1)
	n.unblockAll()
	n.markTopologyChanged()
}

// onLeaderChange runs when the consensus leadership changed (in this
// node's view): snapshots announce the new leader.
func (n *Node) onLeaderChange() {
	c := n.cons.Load()
	if c == nil {
		return
	}
	l, _ := c.leader()
	c.leaderMu.Lock()
	changed := l != c.leaderOf
	c.leaderOf = l
	c.leaderMu.Unlock()
	if changed {
		n.ctr.leaderChanges.Add(1)
		n.log.Info("leader changed", "leader", l.String())
	}
	n.markTopologyChanged()
}

// onTable runs on the consensus goroutine after the table changed from old
// to t: envelopes parked for shards t routes are released first (to their
// mailbox or forwarded), then the route built from t is published, so a
// parked envelope is never overtaken by a later one of the same
// connection; claims this node lost are recorded; mailboxes whose shard
// moved (or came back under a new allocation) are scheduled, so that their
// runner stops the old entities and forwards what waits.
func (n *Node) onTable(old, t *allocTable) {
	n.ctr.epoch.Store(t.epoch)
	if old == nil || !sameTypes(old, t) {
		n.announceTypes(t.typeCounts(), t.hashes)
	}
	prev := n.route.Load()
	now := int64(n.mono())
	rt := n.buildRoute(t, prev, now)
	// Release and publish under the locator's lock: an envelope is parked
	// (parkEnv) either before, and released here, or after, and sees the
	// new route.
	n.loc.mu.Lock()
	n.loc.resolveLocked(t, time.Now())
	n.route.Store(rt)
	n.loc.mu.Unlock()
	if prev != nil {
		for i, rg := range n.regions {
			for s, m := range rg.boxes {
				was, is := prev.owners[i][s], rt.owners[i][s]
				if was == is && prev.since[i][s] == rt.since[i][s] {
					continue
				}
				if was == n.self {
					n.releases.add(wire.ShardClaim{Type: rg.typ.Name, Shard: s, Epoch: prev.since[i][s],
						Since: n.monoAbs(prev.servingSince[i][s]), Until: n.monoAbs(min(now, n.lease.until.Load()))})
				}
				if was == n.self || is == n.self {
					m.kick()
				}
			}
		}
	}
	n.unblockAll()
	n.markTopologyChanged()
}

// Addr returns the node's advertised identity.
func (n *Node) Addr() wire.NodeAddress { return n.self }

// GossipAddr returns the bound memberlist address (host:port), the address
// other nodes list in their seeds.
func (n *Node) GossipAddr() string { return n.members.Load().gossip }

// RaftAddr returns the consensus port's advertised address (host:port).
func (n *Node) RaftAddr() string { return n.cons.Load().port.addr }

// System returns the cluster's system name.
func (n *Node) System() string { return n.cfg.System }

// Registry returns the node's type registry.
func (n *Node) Registry() *castyjson.Registry { return n.cfg.Registry }

// Stats returns a copy of the node's counters.
func (n *Node) Stats() Stats {
	s := n.ctr.snapshot()
	out := n.outQueued()
	s.FramesOut, s.BytesOut = out.frames, out.bytes
	return s
}

// outQueued sums the frames and bytes queued for sending: those of the
// links closed so far and of every open link. A closing link moves its
// counts to outGone in the same critical section (linksMu) that removes it
// from links, so none is counted twice or missed.
func (n *Node) outQueued() outCount {
	n.linksMu.Lock()
	defer n.linksMu.Unlock()
	sum := n.outGone
	for _, l := range n.links {
		l.mu.Lock()
		sum.add(l.out)
		l.mu.Unlock()
	}
	return sum
}

// listen starts the listener (TransportNet or TLS) or the gnet server
// (TransportGnet) and sets n.self from the bound address and cfg.Advertise.
func (n *Node) listen() error {
	var bound *net.TCPAddr
	if n.cfg.TLS != nil || n.cfg.Transport == TransportNet {
		ln, err := net.Listen("tcp", n.cfg.Listen)
		if err != nil {
			return fmt.Errorf("node: listen %s: %w", n.cfg.Listen, err)
		}
		bound = ln.Addr().(*net.TCPAddr)
		n.ln = ln
		if n.cfg.TLS != nil {
			n.ln = tls.NewListener(ln, n.cfg.TLS)
		}
		n.wg.Add(1)
		go n.accept()
	} else {
		srv := &gnetServer{n: n, booted: make(chan struct{})}
		n.engDone = make(chan error, 1)
		go func() {
			err := gnet.Run(srv, "tcp://"+n.cfg.Listen,
				gnet.WithMulticore(true),
				gnet.WithNumEventLoop(n.cfg.EventLoops),
				gnet.WithTCPNoDelay(gnet.TCPNoDelay),
				gnet.WithReuseAddr(true),
				gnet.WithSocketRecvBuffer(n.cfg.SocketRecvBuffer), // inherited by accepted sockets
				gnet.WithLogger(gnetconn.Logger{L: n.log}),
			)
			n.engDone <- err
			srv.bootOnce.Do(func() { close(srv.booted) })
		}()
		<-srv.booted
		select {
		case err := <-n.engDone:
			n.engDone <- err
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("node: listen %s: %w", n.cfg.Listen, err)
		default:
		}
		a, err := srv.boundAddr()
		if err != nil {
			return fmt.Errorf("node: listen %s: %w", n.cfg.Listen, err)
		}
		bound = a
	}
	n.self = wire.NodeAddress{Host: bound.IP.String(), Port: bound.Port}
	if h, _, err := net.SplitHostPort(n.cfg.Listen); err == nil && h != "" && net.ParseIP(h) == nil {
		n.self.Host = h // a host name stays a host name
	}
	if n.cfg.Advertise != "" {
		a, err := wire.ParseNodeAddress(n.cfg.Advertise)
		if err != nil {
			return fmt.Errorf("node: advertise %q: %w", n.cfg.Advertise, err)
		}
		n.self = a
	}
	return nil
}

// Close leaves the cluster gracefully (Leave), flushes outbound buffers,
// stops every goroutine and waits for them. It is idempotent; later calls
// wait for the first and return its result.
func (n *Node) Close(ctx context.Context) error {
	first := false
	n.stopOnce.Do(func() { first = true })
	if !first {
		select {
		case <-n.closed:
			return n.closeErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n.gate.resume()
	began := time.Now()
	var errs []error
	if err := n.Leave(ctx); err != nil {
		n.log.Warn("leave", "err", err)
	}
	n.flushAll(ctx)
	n.beginStop()
	n.members.Load().shutdown()
	n.cons.Load().stop()
	n.shutdownTransport(ctx)
	n.wg.Wait()
	n.closeErr = errors.Join(errs...)
	close(n.closed)
	st := n.ctr.snapshot()
	n.log.Info("node closed", "took", time.Since(began).Round(time.Millisecond), "epoch", st.AllocationEpoch,
		"leader_changes", st.LeaderChanges, "stalls", st.Stalls, "max_tick_gap", st.MaxTickGap.Round(time.Millisecond),
		"dead_letters", st.DeadLetters)
	return n.closeErr
}

// Kill stops the node abruptly, as if its process died: no leave, no flush,
// no entity is stopped. Peers find out through failure detection. It waits
// for every goroutine and is idempotent (a later Close returns at once).
// For tests and the in-process cluster.
func (n *Node) Kill() {
	first := false
	n.stopOnce.Do(func() { first = true })
	if !first {
		<-n.closed
		return
	}
	n.abort()
	close(n.closed)
}

// abort stops everything without leaving.
func (n *Node) abort() {
	n.gate.resume()
	n.beginStop()
	n.members.Load().shutdown()
	n.cons.Load().stop()
	n.shutdownTransport(context.Background())
	n.wg.Wait()
}

// beginStop marks the node closing and closes stop; no goroutine is added
// to wg afterwards (registerWith checks under linksMu).
func (n *Node) beginStop() {
	n.closing.Store(true)
	n.linksMu.Lock()
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
	n.linksMu.Unlock()
	n.cancel()
}

// Pause stops the node's progress as a SIGSTOP would: its event loops,
// connections (client, peer and consensus), workers, housekeeping, lease
// renewals and gossip block until Resume. (raft's own timers keep running:
// to the others the node looks cut off, then its lease expires.) For tests:
// it panics unless the node was started with Config.Pausable.
func (n *Node) Pause() {
	if n.gate == nil {
		panic("node: Pause needs Config.Pausable")
	}
	n.gate.pause()
}

// Resume undoes Pause. The node's lease has usually expired by then: it
// runs nothing before it has renewed, which applies the current table.
func (n *Node) Resume() { n.gate.resume() }

// flushAll waits until every link's outbound buffer is empty or ctx ends.
func (n *Node) flushAll(ctx context.Context) {
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		busy := false
		n.linksMu.Lock()
		for _, l := range n.links {
			if l.queued() > 0 {
				busy = true
				break
			}
		}
		n.linksMu.Unlock()
		if !busy {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-t.C:
		}
	}
}

// shutdownTransport stops the listener and closes every link.
func (n *Node) shutdownTransport(ctx context.Context) {
	if n.ln != nil {
		_ = n.ln.Close()
	}
	if n.engDone != nil {
		if n.eng.Validate() == nil {
			// gnet's Stop signals the shutdown and then polls for its end
			// every 500 ms. With a cancelled context it returns right after
			// the signal; gnet.Run returns (engDone) once every event loop
			// has stopped, which is the end we wait for.
			sctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := n.eng.Stop(sctx); err != nil && !errors.Is(err, context.Canceled) {
				n.log.Debug("gnet stop", "err", err)
			}
		}
		if err := <-n.engDone; err != nil {
			n.log.Debug("gnet run", "err", err)
		}
		n.engDone = nil
	}
	n.linksMu.Lock()
	ls := make([]*link, 0, len(n.links))
	for _, l := range n.links {
		ls = append(ls, l)
	}
	n.linksMu.Unlock()
	for _, l := range ls {
		l.teardown(errClosed)
	}
	n.bounds.budget.trim(time.Time{}, true) // readers still running unmap what they give back
}

// housekeeping runs the node's timers: snapshot pushes (on change and
// periodic), pending request deadlines, the unreachable detector,
// down-member retention, the stall watchdog and the suspend detector.
func (n *Node) housekeeping() {
	defer n.wg.Done()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	lastRetry := last
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		case <-n.wakeHK:
		}
		if !n.gate.wait(n.stop) {
			return
		}
		health := n.members.Load().ml.GetHealthScore()
		n.ctr.highHealth(health)
		now := time.Now()
		gap := now.Sub(last)
		n.ctr.highTickGap(gap)
		if gap > n.stallThreshold() {
			n.ctr.stalls.Add(1)
			n.log.Warn("stall detected", "gap", gap.Round(time.Millisecond), "lease_valid", n.leaseValid())
			n.members.Load().resetAcks() // our own silence is not theirs
		}
		last = now
		n.checkSuspend()
		n.members.Load().checkMembers(now, health)
		n.subs.sweep()
		n.expireHandshakes(now)
		n.enforceBounds(now)
		if now.Sub(lastRetry) >= retryTick {
			lastRetry = now
			n.loc.resolve(n.table(), now)
			n.unblockAll()
		}
		n.expirePeerFailures(now)
		n.rerouteUnsent()
		n.subs.push(now)
	}
}

// checkSuspend drops the lease when the machine itself was suspended:
// CLOCK_MONOTONIC (Go's clock, the lease's) stops during a suspend while
// CLOCK_BOOTTIME does not, so the lease would look younger than it is.
func (n *Node) checkSuspend() {
	mono := int64(n.mono())
	boot := clockBoottime() - n.bootBase
	if boot-mono > int64(n.cfg.Consensus.LeaseDuration/10) {
		n.bootBase = clockBoottime() - mono // count it once
		n.ctr.suspends.Add(1)
		n.log.Warn("machine suspend detected; dropping the lease", "slept", time.Duration(boot-mono).Round(time.Millisecond))
		n.dropLease()
	}
}

// expireHandshakes closes inbound gnet connections that sent no handshake
// within HandshakeTimeout (std links enforce it with a read deadline).
func (n *Node) expireHandshakes(now time.Time) {
	var late []*link
	n.linksMu.Lock()
	for _, l := range n.links {
		if l.gnet() != nil && l.peer.Load() == nil && now.Sub(l.opened) > n.cfg.HandshakeTimeout {
			late = append(late, l)
		}
	}
	n.linksMu.Unlock()
	for _, l := range late {
		n.ctr.handshakesRefused.Add(1)
		n.logLimited("closing connection: no handshake in time", "remote", l.remote())
		l.teardown(errHandshakeTimeout)
	}
}

var errHandshakeTimeout = errors.New("node: no handshake within the timeout")

// stallThreshold is the tick gap the watchdog treats as a stall (process
// stopped, VM frozen, Pause): long enough that others may have taken this
// node for dead.
func (n *Node) stallThreshold() time.Duration {
	return max(time.Second, 3*n.cfg.Membership.ProbeInterval)
}

func (n *Node) wake() {
	select {
	case n.wakeHK <- struct{}{}:
	default:
	}
}

// memberlistLog adapts memberlist's log.Logger output to slog at debug
// level (memberlist logs "[WARN] ..." lines; warnings stay at debug because
// failure detection on a loaded machine is chatty and the node reports what
// matters itself).
func memberlistLog(l *slog.Logger) *log.Logger {
	return log.New(writerFunc(func(p []byte) (int, error) {
		l.Debug("memberlist: " + string(trimNL(p)))
		return len(p), nil
	}), "", 0)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

var _ io.Writer = writerFunc(nil)

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

func splitHostPort(s string) (string, int, error) {
	h, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(ps)
	if err != nil {
		return "", 0, err
	}
	return h, p, nil
}
