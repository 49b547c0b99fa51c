package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/engine"
	_ "github.com/zerohop/zerohop/engine/gnettransport" // selects engine.TransportGnet
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/topo"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/zhbin"
)

// engineTarget drives the counter workload through an engine.Client.
type engineTarget struct {
	c       *engine.Client
	ref     *engine.EntityRef
	inc     any // workload.Increment{Amount: 1}, boxed once
	cluster *nodetest.LocalCluster
	tport   string
	drops   *dropCounter // the client's OnDrop

	statsMu   sync.Mutex
	statsRefs map[string]engine.ServiceRef // every node-stats instance listed so far, by node; guarded by statsMu
}

// embeddedNodeTransport is the embedded nodes' transport: -node-transport,
// or net, which serves a client in the same process faster than gnet (one
// running thread picks up both sides of a round trip; PERFORMANCE.md,
// "Node transports"). A node in its own process defaults to gnet.
func embeddedNodeTransport(o *options) string {
	return cmp.Or(o.nodeTport, node.TransportNet)
}

// openEngine starts the embedded cluster when o has no contacts, dials the
// client and waits for its first topology snapshot.
func openEngine(ctx context.Context, o *options, stderr io.Writer) (target, clusterInfo, error) {
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, o.msgModule); err != nil {
		return nil, clusterInfo{}, err
	}
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, clusterInfo{}, err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	// The binary types register before anything starts: the embedded
	// nodes register the same ones, so a failure here is one there too.
	var bin *zhbin.Codec
	if o.binary {
		bin = zhbin.New(reg)
		if err := workload.RegisterBinary(bin); err != nil {
			return nil, clusterInfo{}, err
		}
	}

	info := clusterInfo{kind: "external", nodes: len(o.contacts)}
	contacts := o.contacts
	var lc *nodetest.LocalCluster
	if o.embedded() {
		lc, err = nodetest.StartLocalCluster(ctx, o.nodes, nodetest.Options{
			Workload: workload.Options{System: o.system, EntityType: o.entityType, Shards: o.shards, ShardHash: o.shardHash, Module: o.msgModule},
			Logger:   logger,
			Configure: func(_ int, cfg *node.Config) {
				cfg.Transport = embeddedNodeTransport(o)
				cfg.MailboxSize = o.nodeMailbox
				cfg.SocketRecvBuffer = o.nodeRecvBuffer
				if o.binary {
					bc := zhbin.New(cfg.Registry)
					_ = workload.RegisterBinary(bc) // the same types as the client's, registered above
					cfg.Binary = bc
					cfg.BinaryHeads = o.nodeBinaryHeads
					cfg.BinaryWindow = o.nodeBinaryWindow
				}
			},
		})
		if err != nil {
			return nil, clusterInfo{}, fmt.Errorf("loadgen: embedded cluster: %w", err)
		}
		info = clusterInfo{kind: "embedded", nodes: o.nodes, nodeTransport: embeddedNodeTransport(o)}
		contacts = lc.ContactPoints()
	}
	fail := func(err error) (target, clusterInfo, error) {
		if lc != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = lc.Close(cctx)
		}
		return nil, clusterInfo{}, err
	}
	cfg := engine.Config{
		ContactPoints:    contacts,
		SystemName:       o.system,
		AddressMap:       o.addressMap,
		TLS:              tlsCfg,
		Transport:        o.transport,
		Types:            reg,
		AskTimeout:       o.askTimeout,
		QueueFrames:      o.queueFrames,
		QueueWaitFrames:  o.queueWait,
		QueueTarget:      o.queueTarget,
		QueueInterval:    o.queueInterval,
		SocketSendBuffer: o.sendBuffer,
		Logger:           logger,
	}
	if bin != nil {
		cfg.Binary = bin
	}
	tport := cmp.Or(o.transport, engine.DefaultTransport)
	if tlsCfg != nil {
		tport += "+tls"
	}
	ts := make([]*engineTarget, 0, o.clients)
	for range o.clients {
		t, err := dialTarget(ctx, cfg, o)
		if err != nil {
			for _, t := range ts {
				_ = t.c.Close()
			}
			return fail(err)
		}
		t.tport = tport
		ts = append(ts, t)
	}
	if !o.embedded() {
		info.nodes = upMembers(ts[0].c.Topology())
	}
	ts[0].cluster = lc // closed with the first client, after the others
	if len(ts) == 1 {
		return ts[0], info, nil
	}
	return newMultiTarget(ts), info, nil
}

// dialTarget dials one client with cfg (and its own OnDrop counter) and
// waits for its first topology snapshot.
func dialTarget(ctx context.Context, cfg engine.Config, o *options) (*engineTarget, error) {
	drops := newDropCounter(o.entityType, o.shards)
	cfg.OnDrop = drops.record
	c, err := engine.Dial(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("loadgen: dial: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = c.WaitTopology(wctx)
	cancel()
	if err == nil {
		var ref *engine.EntityRef
		if ref, err = c.EntityRef(o.entityType, o.shards); err == nil {
			return &engineTarget{c: c, ref: ref, inc: workload.Increment{Amount: 1}, drops: drops, statsRefs: map[string]engine.ServiceRef{}}, nil
		}
	}
	_ = c.Close()
	return nil, fmt.Errorf("loadgen: %w", err)
}

// Tell uses TellContext: a full queue toward the owner makes the worker
// wait for room instead of spinning on ErrBufferFull (no allocation unless
// it waits).
func (t *engineTarget) Tell(ctx context.Context, id string) error {
	return t.ref.TellContext(ctx, id, t.inc)
}

func (t *engineTarget) Backpressure(err error) bool { return errors.Is(err, engine.ErrBufferFull) }

func (t *engineTarget) GetCount(ctx context.Context, id string) (int64, error) {
	r, err := engine.AskAs[workload.CountReply](ctx, t.c, t.ref, func(replyTo wire.Ref) any {
		return engine.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: replyTo}}
	})
	if err != nil {
		return 0, err
	}
	return r.Value, nil
}

func (t *engineTarget) Buffered() int64 {
	s := t.c.Stats()
	return s.Buffered + s.Queued
}

// Flush waits until the client has written everything it accepted
// (engine.Client.Flush).
func (t *engineTarget) Flush(ctx context.Context) error { return t.c.Flush(ctx) }

// ResetStats tells ResetStats to every node-stats instance, then asks each
// one for its stats: a service handles its messages in arrival order, so the
// reply proves the reset happened before any increment of the load.
func (t *engineTarget) ResetStats(ctx context.Context) (int, error) {
	insts, err := t.statsInstances(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var firstErr error
	for _, inst := range insts {
		if err := inst.Ref.Tell(workload.ResetStats{}); err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		_, err := engine.AskAs[workload.NodeStats](ctx, t.c, inst.Ref, func(replyTo wire.Ref) any {
			return workload.GetStats{ReplyTo: replyTo}
		})
		if err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("node-stats on %s after ResetStats: %w", inst.Node, err))
			continue
		}
		n++
	}
	return n, firstErr
}

func (t *engineTarget) NodeStats(ctx context.Context) ([]nodeTally, error) {
	insts, err := t.statsInstances(ctx)
	if err != nil {
		return nil, err
	}
	var out []nodeTally
	var firstErr error
	for _, inst := range insts {
		s, err := engine.AskAs[workload.NodeStats](ctx, t.c, inst.Ref, func(replyTo wire.Ref) any {
			return workload.GetStats{ReplyTo: replyTo}
		})
		if err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("node-stats on %s: %w", inst.Node, err))
			continue
		}
		out = append(out, nodeTally{Increments: s.Increments, FirstAt: s.FirstAt, LastAt: s.LastAt})
	}
	return out, firstErr
}

// statsInstances returns the node-stats service instances, waiting (within
// ctx) for the registry to list them.
func (t *engineTarget) statsInstances(ctx context.Context) ([]engine.Instance, error) {
	for {
		l := t.c.Lookup(workload.StatsKey)
		if len(l.Instances) > 0 {
			return l.Instances, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("loadgen: no %q service in the registry: %w", workload.StatsKey, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StatsNodes lists the nodes of the registry's node-stats instances and
// remembers their refs, so that ShardTally can still ask a node that has
// left the listing.
func (t *engineTarget) StatsNodes() []string {
	insts := t.c.Lookup(workload.StatsKey).Instances
	out := make([]string, len(insts))
	t.statsMu.Lock()
	for i, inst := range insts {
		out[i] = inst.Node.String()
		t.statsRefs[out[i]] = inst.Ref
	}
	t.statsMu.Unlock()
	return out
}

func (t *engineTarget) ShardTally(ctx context.Context, node string) (workload.ShardTally, error) {
	t.statsMu.Lock()
	ref, ok := t.statsRefs[node]
	t.statsMu.Unlock()
	if !ok {
		return workload.ShardTally{}, fmt.Errorf("%w: %s", errNoStatsRef, node)
	}
	return engine.AskAs[workload.ShardTally](ctx, t.c, ref, func(replyTo wire.Ref) any {
		return workload.GetShardTally{ReplyTo: replyTo}
	})
}

func (t *engineTarget) ShardOwners(dst []string) []string {
	s := t.c.Topology()
	for shard := range t.ref.NumShards() {
		owner := ""
		if s != nil {
			if a, ok := s.Owner(t.ref.Type(), shard); ok {
				owner = a.String()
			}
		}
		dst = append(dst, owner)
	}
	return dst
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (t *engineTarget) ClientStats() map[string]int64 {
	s := t.c.Stats()
	m := map[string]int64{
		"tells_queued":        int64(s.TellsQueued),
		"frames_written":      int64(s.FramesWritten),
		"write_calls":         int64(s.Writes),
		"bytes_written":       int64(s.BytesWritten),
		"asks_ok":             int64(s.AsksOK),
		"asks_timed_out":      int64(s.AsksTimedOut),
		"asks_failed":         int64(s.AsksFailed),
		"late_replies":        int64(s.LateReplies),
		"undeliverable":       int64(s.Undeliverable),
		"connects":            int64(s.Connects),
		"binary_connects":     int64(s.BinaryConnects),
		"head_connects":       int64(s.HeadConnects),
		"reconnects":          int64(s.Reconnects),
		"connect_failures":    int64(s.ConnectFailures),
		"suspects":            int64(s.Suspects),
		"suspects_cleared":    int64(s.SuspectsCleared),
		"location_queries":    int64(s.LocationQueries),
		"unavailable_answers": int64(s.UnavailableAnswers),
		"epoch":               s.Epoch,
	}
	for k, v := range s.Drops {
		m["drop_"+k.String()] = int64(v)
	}
	return m
}

func (t *engineTarget) ClientDrops() clientDrops {
	d := t.drops.snapshot()
	d.LostLinks = lostLinkNodes(t.c.Nodes())
	return d
}

// lostLinkNodes returns the nodes whose connection failed at least once
// while it was open: it reconnected since, or it is down (or
// reconnecting) after having connected. A connection the client closed is
// NodeClosed and counts only if it had reconnected before. Sorted.
func lostLinkNodes(nodes []engine.NodeStatus) []string {
	var out []string
	for _, n := range nodes {
		down := n.State == engine.NodeDown || n.State == engine.NodeReconnecting
		if n.Reconnects > 0 || down && n.Connects > 0 {
			out = append(out, n.Node.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (t *engineTarget) Transport() string { return t.tport }

// dropCounter counts what the client accepted and dropped later
// (engine.Config.OnDrop): tells of the workload's type per shard, frames
// of unknown kind in total. record only adds to atomics, as OnDrop must
// (it may run under the client's locks); safe for concurrent use.
type dropCounter struct {
	entityType string
	byShard    []atomic.Int64 // atomic
	queued     atomic.Int64
}

func newDropCounter(entityType string, shards int) *dropCounter {
	return &dropCounter{entityType: entityType, byShard: make([]atomic.Int64, shards)}
}

func (d *dropCounter) record(x engine.Drop) {
	switch {
	case x.Shard < 0:
		d.queued.Add(int64(x.Count))
	case x.Type == d.entityType && x.Shard < len(d.byShard):
		d.byShard[x.Shard].Add(int64(x.Count))
	}
	// Another entity type: loadgen tells none.
}

func (d *dropCounter) snapshot() clientDrops {
	out := clientDrops{ByShard: make([]int64, len(d.byShard)), Queued: d.queued.Load()}
	for s := range d.byShard {
		out.ByShard[s] = d.byShard[s].Load()
	}
	return out
}

func (t *engineTarget) Close(ctx context.Context) error {
	err := t.c.Shutdown(ctx)
	if t.cluster != nil {
		if cerr := t.cluster.Close(ctx); err == nil {
			err = cerr
		}
	}
	return err
}

// upMembers counts the members of s that are up (the size of an external
// cluster, which the contact points alone do not tell).
func upMembers(s *topo.Snapshot) int {
	if s == nil {
		return 0
	}
	n := 0
	for _, m := range s.Members() {
		if m.Status == wire.StatusUp {
			n++
		}
	}
	return n
}
