package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/internal/netconn"
	"github.com/zerohop/zerohop/topo"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/zhbin"
)

// ShardEnvelope is the protocol's envelope for a sharded entity:
// casty.cluster.envelope.ShardEnvelope. An entity Ask's message builder
// returns one.
type ShardEnvelope = wire.ShardEnvelope

// Client is a cluster client: it routes messages to the nodes of a Casty v1
// (or zerohop) cluster without ever listening. Create it with Dial; it is
// safe for concurrent use and must not be copied. Close or Shutdown it to
// release its connections and goroutines.
type Client struct {
	cfg            Config
	reg            wire.Codec        // cfg.Types
	bin            wire.Codec        // cfg.Binary; nil when not set
	binTypes       []wire.BinaryType // cfg.Binary's table, taken at Dial
	log            *slog.Logger
	dialer         func(ctx context.Context, network, address string) (net.Conn, error)
	tr             Transport
	identity       wire.NodeAddress
	clientSys      string // SystemName + "-client"
	senderURI      string // casty://<sys>-client@<identity>/
	handshakeFrame []byte
	subRef         wire.Ref  // the client's /_topology_sub
	askPrefix      string    // 16 hex chars, random per client
	born           time.Time // Dial's time, with its monotonic reading: the origin of mono

	rootCtx    context.Context // cancelled when the client stops
	rootCancel context.CancelFunc
	closing    atomic.Bool // set at the start of Shutdown: user calls fail with ErrClosed
	maintStop  chan struct{}
	wg         sync.WaitGroup // every goroutine the client started

	shutdownOnce sync.Once
	shutdownDone chan struct{}
	shutdownErr  error

	// Lock order: mu, then entityType.mu, then asks.mu, then Watcher.mu.
	mu       sync.Mutex
	conns    map[wire.NodeAddress]*nodeConn // guarded by mu; logical address (and aliases) -> connection
	connList []*nodeConn                    // guarded by mu; each connection once
	types    map[string]*entityType         // guarded by mu
	announce announcement                   // guarded by mu; the last entity types a zerohop node announced
	// The connections' written counters are the client's, counted once
	// (Stats sums them): leaving are the collected connections whose run
	// has not finished, retired the totals of those that have. Guarded by
	// mu.
	leaving []*nodeConn
	retired writtenTotals
	topo    topoState // guarded by mu

	// snap is the last applied topology snapshot, compiled; nil before
	// the first. Stored under mu (only when it changed), loaded anywhere.
	snap topo.Holder
	// listings are the bound instances of snap's registry by key,
	// immutable once published (rebuilt under mu when the registry
	// changes).
	listings atomic.Pointer[map[string][]Instance]

	asks   askTable
	stats  counters
	askLat latencyHistogram // Ask round trips that got a reply
	events connEvents       // Config.OnConnState's delivery

	tickTypes []*entityType // owned by the maintenance goroutine
}

// Dial creates a client and connects it to the first reachable contact
// point, to which it subscribes for topology snapshots. It returns once that
// connection's handshake succeeded; the first snapshot arrives shortly
// after (WaitTopology waits for it). Tells sent before are held (bounded)
// until their shard's location is known. Dial fails if no contact point
// accepts a connection and handshake; the error joins every cause.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg.ContactPoints = slices.Clone(cfg.ContactPoints)
	cfg.AddressMap = maps.Clone(cfg.AddressMap)
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:          cfg,
		born:         time.Now(),
		reg:          cfg.Types,
		log:          cfg.Logger,
		dialer:       cfg.Dialer,
		identity:     cfg.identity(),
		clientSys:    cfg.SystemName + wire.ClientSystemSufix,
		maintStop:    make(chan struct{}),
		shutdownDone: make(chan struct{}),
		conns:        make(map[wire.NodeAddress]*nodeConn),
		types:        make(map[string]*entityType),
	}
	if c.dialer == nil {
		d := &net.Dialer{}
		c.dialer = d.DialContext
	}
	c.topo.init()
	c.senderURI = string(wire.Address{System: c.clientSys, Host: c.identity.Host, Port: c.identity.Port}.AppendURI(nil))
	c.subRef = c.clientRef(wire.PathTopologySub)
	ext := netconn.Extension(cfg.SystemName, wire.RoleClient)
	if cfg.Binary != nil {
		c.bin, c.binTypes = cfg.Binary, cfg.Binary.Types()
		ext.Codecs = append(ext.Codecs, zhbin.Name)
		ext.Binary = c.binTypes
	}
	c.handshakeFrame = wire.AppendHandshakeFrame(nil, wire.Handshake{
		Host:    c.identity.Host,
		Port:    c.identity.Port,
		Zerohop: ext,
	})
	var pfx [8]byte
	_, _ = rand.Read(pfx[:])
	c.askPrefix = hex.EncodeToString(pfx[:])
	c.asks.init(c)
	empty := map[string][]Instance{}
	c.listings.Store(&empty)
	c.rootCtx, c.rootCancel = context.WithCancel(context.Background())

	tr, err := c.newTransport()
	if err != nil {
		c.rootCancel()
		return nil, err
	}
	c.tr = tr

	contacts := make([]wire.NodeAddress, 0, len(cfg.ContactPoints))
	for _, cp := range cfg.ContactPoints {
		n, _ := parseHostPort(cp) // validated
		if !slices.Contains(contacts, n) {
			contacts = append(contacts, n)
		}
	}
	c.mu.Lock()
	c.topo.static = contacts
	c.mu.Unlock()

	c.startConnEvents() // before the first connection: its events are told
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.maintain()
	}()

	var errs []error
	for _, cp := range contacts {
		c.mu.Lock()
		nc := c.connLocked(cp)
		c.mu.Unlock()
		select {
		case <-nc.firstTry:
		case <-ctx.Done():
			_ = c.Close()
			return nil, fmt.Errorf("engine: dial: %w", ctx.Err())
		}
		if nc.state.Load() == connUp {
			c.mu.Lock()
			c.setPrimaryLocked(nc, time.Now())
			c.mu.Unlock()
			c.log.Info("engine: connected", "contact", cp.String(), "identity", c.identity.String())
			return c, nil
		}
		errs = append(errs, nc.lastCause())
	}
	_ = c.Close()
	return nil, fmt.Errorf("engine: no contact point reachable: %w", errors.Join(errs...))
}

// mono returns the monotonic time since Dial, in nanoseconds: the clock
// of nodeConn.lastRecv (immune to wall-clock steps).
func (c *Client) mono() int64 { return int64(time.Since(c.born)) }

// monoAt returns t (with a monotonic reading) on the mono clock.
func (c *Client) monoAt(t time.Time) int64 { return int64(t.Sub(c.born)) }

// Identity returns the client's node identity (handshakes, reply
// addresses).
func (c *Client) Identity() wire.NodeAddress { return c.identity }

// clientRef returns a ref to path on the client itself.
func (c *Client) clientRef(path string) wire.Ref {
	return wire.Ref{Address: wire.Address{System: c.clientSys, Host: c.identity.Host, Port: c.identity.Port, Path: path}}
}

// connLocked returns the connection to a logical node address, creating
// and starting it. c.mu must be held.
func (c *Client) connLocked(addr wire.NodeAddress) *nodeConn {
	if nc, ok := c.conns[addr]; ok {
		return nc
	}
	nc := newNodeConn(c, addr)
	c.conns[addr] = nc
	c.connList = append(c.connList, nc)
	if c.closing.Load() && c.rootCtx.Err() != nil {
		nc.finish()
		return nc
	}
	nc.start()
	return nc
}

// alias registers nc under the canonical address a node claimed in its
// handshake, unless another connection already has it.
func (c *Client) alias(canonical wire.NodeAddress, nc *nodeConn) {
	c.mu.Lock()
	if _, ok := c.conns[canonical]; !ok {
		c.conns[canonical] = nc
	}
	c.mu.Unlock()
}

// WaitTopology waits until the first topology snapshot has been applied
// (Lookup and routing then reflect the cluster), or ctx ends.
func (c *Client) WaitTopology(ctx context.Context) error {
	c.mu.Lock()
	ch := c.topo.first
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.shutdownDone:
		return ErrClosed
	}
}

// Flush waits until every message accepted so far has been written to its
// connection (held messages resolved and sent, queues drained), or ctx
// ends. Messages refused or dropped meanwhile are counted, not waited
// for. It does not stop new messages: concurrent producers can keep it
// waiting until ctx ends. Frames queued to a suspect connection (a silent
// node) are waited for: they go out if the node recovers, and are dropped
// and counted if the connection fails.
func (c *Client) Flush(ctx context.Context) error {
	if c.closing.Load() {
		return ErrClosed
	}
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	for !c.flushed() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.shutdownDone:
			return ErrClosed
		case <-poll.C:
		}
	}
	return nil
}

// flushed reports whether nothing is held and every linked connection's
// queue is drained (a connection still in its first attempt holds frames
// that go out once it is up, a suspect one frames that go out if it
// recovers; a down one has dropped and counted its own).
func (c *Client) flushed() bool {
	if c.stats.buffered.Load() != 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nc := range c.connList {
		if nc.linked() && !nc.drained() {
			return false
		}
	}
	return true
}

// Close is Shutdown bounded by Config.CloseTimeout.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.CloseTimeout)
	defer cancel()
	return c.Shutdown(ctx)
}

// Shutdown stops the client: new operations fail with ErrClosed at once;
// messages held for unknown locations and queued frames are flushed while
// ctx allows; UnsubscribeTopology is sent to every node subscribed to;
// then every connection is closed, waiting asks fail with ErrClosed and
// every goroutine has exited when Shutdown returns. It returns ctx's error
// if the drain was cut short (what was dropped is counted as DropClosed).
// Idempotent: later calls wait for the first to finish.
func (c *Client) Shutdown(ctx context.Context) error {
	c.shutdownOnce.Do(func() {
		c.shutdownErr = c.shutdown(ctx)
		close(c.shutdownDone)
	})
	<-c.shutdownDone
	return c.shutdownErr
}

func (c *Client) shutdown(ctx context.Context) error {
	c.closing.Store(true)
	var cut error
	poll := time.NewTicker(2 * time.Millisecond)
	defer poll.Stop()
	wait := func(done func() bool) {
		for cut == nil && !done() {
			select {
			case <-ctx.Done():
				cut = ctx.Err()
			case <-poll.C:
			}
		}
	}
	// 1. Messages waiting for a location (the maintenance loop keeps
	// resolving them).
	wait(func() bool { return c.stats.buffered.Load() == 0 })
	// 2. Unsubscribe, then let the writers drain.
	c.mu.Lock()
	subs := slices.Collect(maps.Keys(c.topo.subscribed))
	c.mu.Unlock()
	for _, nc := range subs {
		c.sendUnsubscribe(nc)
	}
	wait(c.flushed)
	// 3. Stop everything.
	close(c.maintStop)
	c.rootCancel()
	c.mu.Lock()
	conns := slices.Clone(c.connList)
	types := slices.Collect(maps.Values(c.types))
	c.mu.Unlock()
	for _, nc := range conns {
		nc.shutdown()
	}
	for _, et := range types {
		et.dropAll(DropClosed, ErrClosed)
	}
	c.wg.Wait()
	c.stopConnEvents() // every connection stopped: their last events are buffered
	c.tr.Close()
	c.asks.failAll(ErrClosed)
	c.closeWatchers()
	if cut != nil {
		return fmt.Errorf("engine: shutdown drain cut short: %w", cut)
	}
	return nil
}
