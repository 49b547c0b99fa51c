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

	"github.com/hashicorp/memberlist"
	"github.com/panjf2000/gnet/v2"
	"github.com/zerohop/zerohop/wire"
)

// Node is one cluster member. It is safe for concurrent use and must not be
// copied; its zero value is not usable. Create it with Start; stop it with Close (graceful) or Kill
// (abrupt, for tests).
type Node struct {
	cfg       Config
	log       *slog.Logger
	reg       *wire.Registry
	self      wire.NodeAddress
	gossip    string // bound gossip address (host:port)
	senderURI string // casty://system@host:port/
	hsFrame   []byte // our handshake frame (reply and dial), immutable
	ctr       *counters
	gate      gate
	bounds    bounds // bounds against any peer (budget.go)
	inc       uint64 // incarnation (nodeMeta.Inc), random, nonzero; immutable

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

	// transport
	eng      gnet.Engine  // set in OnBoot; TransportGnet only
	engDone  chan error   // gnet.Run's result
	ln       net.Listener // TransportNet or TLS
	linkSeq  atomic.Uint64
	linksMu  sync.Mutex
	links    map[uint64]*link // every open link; guarded by linksMu
	clientMu sync.RWMutex
	clients  map[wire.NodeAddress]*link // inbound links by claimed identity; guarded by clientMu
	peersMu  sync.Mutex
	peers    map[wire.NodeAddress]*link // dialled links to members; guarded by peersMu
	peerFail map[wire.NodeAddress]time.Time

	// entities and services; immutable after Start
	paths    map[string]pathHandler
	regions  []*region
	services []*mailbox
	runq     chan *mailbox
	route    atomic.Pointer[route]

	// membership
	logLimiter
	memberSet atomic.Pointer[map[wire.NodeAddress]struct{}] // alive members but us

	ml           *memberlist.Memberlist
	bq           *memberlist.TransmitLimitedQueue
	aliveMembers atomic.Int32

	wakeHK    chan struct{} // cap 1: snapshot dirty / pending work
	tablePush chan struct{} // cap 1: table changed, push it to members

	// mu guards the cluster state below. Lock order: mu, then peersMu or
	// clientMu, then a link's mu. Never call memberlist while holding mu
	// (memberlist calls the delegates with its own lock held).
	mu          sync.Mutex
	members     map[wire.NodeAddress]*member
	meta        nodeMeta
	table       *allocTable
	synced      bool // the cluster's table has been merged since (re)joining
	leader      wire.NodeAddress
	leading     bool  // leader and took over (may allocate)
	leadTerm    int64 // term of our leadership
	replicated  int64 // highest epoch we wrote that was pushed to every alive member
	lastWritten int64 // epoch of the last table this incarnation wrote (0: none)
	// handedOver is the hand-over of our last written epoch to the leader
	// we saw when we stopped leading (epoch 0: none); made once per epoch.
	handedOver termGrant
	// handedUs is the latest hand-over made to this incarnation: the
	// writer of epoch may be succeeded by us at epoch+1.
	handedUs struct {
		epoch  int64
		writer wire.NodeAddress
	}
	// seenGrant is the latest hand-over made to another node that we saw
	// in a member's state; forwarded in ours (LocalState).
	seenGrant     termGrant
	handoverSince time.Time // when our pending takeover began waiting for a hand-over
	syncRunning   bool
	syncAgain     bool
	closing       bool
	subs          map[string]*subscriber
	pending       []*pendingReq
	asked         map[shardKey]time.Time // last GetShardLocation sent to the leader per shard
	scratch       []byte                 // encode buffer for frames built under mu
	snapDirty     bool
	snapPayload   []byte // encoded TopologySnapshot payload, immutable once set
	lastPush      time.Time
	lastTick      time.Time
}

// Start starts a node: the listener, the workers, memberlist (joining Seeds,
// if any, within Membership.JoinTimeout or ctx). It returns once the node is
// a member.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n := &Node{
		ready:     make(chan struct{}),
		cfg:       cfg,
		log:       cfg.Logger,
		reg:       cfg.Registry,
		ctr:       newCounters(),
		inc:       rand.Uint64() | 1,
		stop:      make(chan struct{}),
		closed:    make(chan struct{}),
		links:     map[uint64]*link{},
		clients:   map[wire.NodeAddress]*link{},
		peers:     map[wire.NodeAddress]*link{},
		peerFail:  map[wire.NodeAddress]time.Time{},
		wakeHK:    make(chan struct{}, 1),
		tablePush: make(chan struct{}, 1),
		members:   map[wire.NodeAddress]*member{},
		table:     emptyTable,
		subs:      map[string]*subscriber{},
		asked:     map[shardKey]time.Time{},
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.initBounds()
	if n.reg == nil {
		n.reg = wire.NewRegistry()
	}
	if n.cfg.Workers == 0 {
		n.cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if n.cfg.EventLoops == 0 {
		n.cfg.EventLoops = runtime.GOMAXPROCS(0)
	}
	n.buildHandlers()
	if err := n.listen(); err != nil {
		n.shutdownTransport(context.Background())
		return nil, err
	}
	n.log = n.log.With("node", n.self.String())
	n.senderURI = "casty://" + cfg.System + "@" + n.self.String() + "/"
	n.hsFrame = wire.AppendHandshakeFrame(nil, wire.Handshake{Host: n.self.Host, Port: n.self.Port,
		Zerohop: &wire.Extension{System: cfg.System, Version: 1, Codecs: []string{"json"}, Codec: "json",
			ShardHash: "md5", Role: wire.RoleNode}})
	n.route.Store(n.buildRoute(emptyTable))
	close(n.ready) // inbound connections may be served from here on
	m, err := parseMeta(cfg.meta(n.self, n.inc))
	if err != nil {
		n.shutdownTransport(context.Background())
		return nil, fmt.Errorf("node: metadata: %w", err)
	}
	m.Joining = len(cfg.Seeds) > 0 // until join has merged the cluster's table
	n.meta = m
	n.startWorkers()
	if err := n.startMembership(); err != nil {
		n.abort()
		return nil, err
	}
	n.wg.Add(2)
	go n.housekeeping()
	go n.publishTables()
	if err := n.join(ctx); err != nil {
		n.abort()
		return nil, err
	}
	n.log.Info("node started", "system", cfg.System, "gossip", n.gossip, "tls", cfg.TLS != nil)
	return n, nil
}

// Addr returns the node's advertised identity.
func (n *Node) Addr() wire.NodeAddress { return n.self }

// GossipAddr returns the bound memberlist address (host:port), the address
// other nodes list in their seeds.
func (n *Node) GossipAddr() string { return n.gossip }

// System returns the cluster's system name.
func (n *Node) System() string { return n.cfg.System }

// Registry returns the node's type registry.
func (n *Node) Registry() *wire.Registry { return n.reg }

// Stats returns a copy of the node's counters.
func (n *Node) Stats() Stats {
	s := n.ctr.snapshot()
	return s
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
				gnet.WithLogger(gnetLogger{n.log}),
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

// Close leaves the cluster gracefully: it marks the node leaving (the leader
// re-allocates its shards), waits for that (bounded by ctx), leaves
// memberlist, stops accepting, flushes outbound buffers, stops every
// goroutine and waits for them. It is idempotent; later calls wait for the
// first and return its result.
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
	// 1. leaving: the leader moves our shards away.
	n.mu.Lock()
	n.meta.Leaving = true
	n.mu.Unlock()
	if err := n.ml.UpdateNode(n.gossipWait(ctx)); err != nil {
		n.log.Debug("update leaving meta", "err", err)
	}
	n.waitShardsMoved(ctx)
	// 2. leave memberlist.
	if err := n.ml.Leave(n.gossipWait(ctx)); err != nil {
		n.log.Debug("leave", "err", err)
	}
	// 3. flush outbound buffers (bounded by ctx), then stop everything.
	n.flushAll(ctx)
	n.beginStop()
	if err := n.ml.Shutdown(); err != nil {
		errs = append(errs, err)
	}
	n.shutdownTransport(ctx)
	n.wg.Wait()
	n.closeErr = errors.Join(errs...)
	close(n.closed)
	st := n.ctr.snapshot()
	n.log.Info("node closed", "took", time.Since(began).Round(time.Millisecond), "epoch", st.AllocationEpoch,
		"leader_changes", st.LeaderChanges, "terms_started", st.TermsStarted, "terms_continued", st.TermsContinued,
		"stalls", st.Stalls, "max_tick_gap", st.MaxTickGap.Round(time.Millisecond), "max_health_score", st.MaxHealthScore)
	return n.closeErr
}

// gossipWait bounds memberlist's wait for a broadcast of ours (the leaving
// metadata, the leave message) to go out. memberlist waits until the
// message was gossiped its full retransmit count, or the timeout: when the
// other members leave at the same time (a whole cluster closing) nobody is
// left to gossip to and it would wait the full TCPTimeout. So the wait is
// TCPTimeout while another member is up, a few gossip rounds when every
// other member is leaving or gone, and never past ctx's deadline.
func (n *Node) gossipWait(ctx context.Context) time.Duration {
	mm := n.cfg.Membership
	d := mm.TCPTimeout
	n.mu.Lock()
	othersUp := false
	for _, m := range n.members {
		if m.addr != n.self && m.isUp() {
			othersUp = true
			break
		}
	}
	n.mu.Unlock()
	if !othersUp {
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

// Kill stops the node abruptly, as if its process died: no leave, no flush.
// Peers find out through failure detection. It waits for every goroutine and
// is idempotent (a later Close returns at once). For tests and the
// in-process cluster.
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
	if n.ml != nil {
		_ = n.ml.Shutdown()
	}
	n.shutdownTransport(context.Background())
	n.wg.Wait()
}

// beginStop marks the node closing and closes stop; no goroutine is added
// to wg afterwards (registerWith and startSyncLocked check under their locks).
func (n *Node) beginStop() {
	n.mu.Lock()
	n.closing = true
	n.mu.Unlock()
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
// connections, workers, housekeeping and gossip block until Resume. Other
// nodes see it unreachable, then down. For tests.
func (n *Node) Pause() { n.gate.pause() }

// Resume undoes Pause. The node then notices the stall and re-syncs its
// allocation table before answering or allocating again.
func (n *Node) Resume() { n.gate.resume() }

// waitShardsMoved waits until the table no longer assigns any shard to this
// node, or ctx ends, or LeaveTimeout passes, or (when no other member is up)
// at once.
func (n *Node) waitShardsMoved(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.LeaveTimeout)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		n.mu.Lock()
		owned := 0
		for _, m := range n.table.shards {
			for _, a := range m {
				if a == n.self {
					owned++
				}
			}
		}
		others := false
		for _, m := range n.members {
			if m.addr != n.self && m.isUp() {
				others = true
			}
		}
		n.mu.Unlock()
		if owned == 0 || !others {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

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
// periodic), pending request deadlines and retries, the unreachable
// detector, down-member retention and the stall watchdog.
func (n *Node) housekeeping() {
	defer n.wg.Done()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	n.mu.Lock()
	n.lastTick = time.Now()
	n.lastPush = n.lastTick
	n.mu.Unlock()
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
		health := n.ml.GetHealthScore() // memberlist is never called under mu
		n.ctr.highHealth(health)
		now := time.Now()
		n.mu.Lock()
		gap := now.Sub(n.lastTick)
		n.ctr.highTickGap(gap)
		if gap > n.stallThreshold() {
			n.onStallLocked(gap)
		}
		n.lastTick = now
		n.checkMembersLocked(now, health)
		n.sweepSubscribersLocked()
		n.expireHandshakes(now)
		n.enforceBounds(now)
		n.expirePendingLocked(now)
		n.expirePeerFailures(now)
		periodic := now.Sub(n.lastPush) >= n.cfg.TopologyPushInterval
		if n.snapDirty || periodic {
			n.pushSnapshotLocked(now)
		}
		n.mu.Unlock()
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
// stopped, VM frozen, Pause): long enough that other members may have
// declared us dead and moved on.
func (n *Node) stallThreshold() time.Duration {
	return max(time.Second, 3*n.cfg.Membership.ProbeInterval)
}

func (n *Node) wake() {
	select {
	case n.wakeHK <- struct{}{}:
	default:
	}
}

// gnetLogger forwards gnet's logs to slog at debug level (errors at warn).
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }

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
