package engine

// Routing: EntityRef, the per-type routing state, and the Tell path from
// the shard to the owner's queue (enqueue.go). The route table is in
// routetable.go, the messages held for shards of unknown location in
// held.go.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
)

// EntityRef routes messages to the entities of one sharded type. Create it
// with Client.EntityRef; it is safe for concurrent use, has no goroutine of
// its own, and must not be copied.
type EntityRef struct {
	et *entityType
}

// Type returns the entity type name.
func (r *EntityRef) Type() string { return r.et.name }

// NumShards returns the number of shards of the type.
func (r *EntityRef) NumShards() int { return r.et.numShards }

// entityType is the routing state of one shard type.
//
// The route table (a topo.Routes of numShards entries) is immutable once
// published and read with one atomic load per message. It merges every
// source of truth for the type: the allocations of each applied snapshot
// and the ShardLocation replies applied since. It is replaced (copy on
// write) under mu, and every message held for a shard that becomes
// routable is flushed to the owner's queue before the table naming that
// owner is published: a Tell that sees the new table therefore queues
// after the held messages, and a Tell that saw the old table takes mu,
// sees the new one and does the same. Per producer goroutine, messages to
// one entity keep their order.
type entityType struct {
	c          *Client
	name       string
	numShards  int
	md5Memo    *ring.MD5Memo // MD5 shards of recent ids (shardOf); nil past ring.MaxMemoShards
	regionPath string
	coordPath  string
	proxyRef   wire.Ref

	// table is the routes and the misconfiguration, loaded once per
	// message (routeTable); stored under et.mu.
	table atomic.Pointer[routeTable]
	ref   *EntityRef // the one EntityRef of this type

	mu      sync.Mutex
	entries map[*nodeConn]*routeEntry // guarded by mu; the one entry per owner
	pending map[int]*shardQuery       // guarded by mu; shards held or being (re)queried
}

// EntityRef returns the router for entity type typeName with numShards
// shards (cached: the same *EntityRef for the same type). A different
// numShards for a known type is an error: the cluster's shard count is
// cluster-wide configuration (see package ring).
func (c *Client) EntityRef(typeName string, numShards int) (*EntityRef, error) {
	if c.closing.Load() {
		return nil, ErrClosed
	}
	if typeName == "" || strings.ContainsAny(typeName, "/ \t\r\n") {
		return nil, fmt.Errorf("engine: invalid entity type name %q", typeName)
	}
	if numShards <= 0 {
		return nil, fmt.Errorf("engine: entity type %q: numShards %d must be positive", typeName, numShards)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if et, ok := c.types[typeName]; ok {
		if et.numShards != numShards {
			return nil, &ShardsMismatchError{Type: typeName, Have: et.numShards, Got: numShards}
		}
		if b := et.table.Load().bad; b != nil {
			return nil, b.err
		}
		return et.ref, nil
	}
	if err := c.announcedLocked(typeName, numShards); err != nil {
		return nil, err
	}
	et := &entityType{
		c:          c,
		name:       typeName,
		numShards:  numShards,
		md5Memo:    ring.NewMD5Memo(numShards, md5MemoSlots),
		regionPath: wire.PathRegionPrefix + typeName,
		coordPath:  wire.PathCoordPrefix + typeName,
		proxyRef:   c.clientRef(wire.PathProxyPrefix + typeName),
		entries:    make(map[*nodeConn]*routeEntry),
		pending:    make(map[int]*shardQuery),
	}
	et.ref = &EntityRef{et: et}
	et.table.Store(newRouteTable(numShards, c.announcedHashLocked(typeName)))
	if s := c.snap.Load(); s != nil {
		if err := et.checkAllocated(s); err != nil {
			return nil, err
		}
		et.applySnapshot(s, make([]*nodeConn, len(s.Nodes())), true, time.Now())
	}
	c.types[typeName] = et
	return et.ref, nil
}

// Tell sends msg to entity entityID, wrapped in a ShardEnvelope, on the
// connection of the node that owns the entity's shard.
//
// It does not block and takes no lock when the shard's owner is known: one
// MD5, the atomic loads of the client's closing flag, the type's route
// table (which carries its misconfiguration) and the owner's state, one
// array index, then the frame (the route entry's precomputed head, the
// entity id and the message) is encoded straight into a slot of the
// owner connection's queue. It allocates nothing for a
// message whose type implements castyjson.JSONAppender or is a registered
// struct the registry encodes without allocating; converting msg to any at
// the call site may itself allocate (see the package documentation,
// "Allocations").
//
// Errors: ErrClosed; *BufferFullError (queue or location buffer full, or
// the queue's oldest frame older than Config.QueueTarget);
// *OwnerUnavailableError (the owner has no live connection: fail fast,
// never re-routed); *ShardsMismatchError or *UnknownEntityTypeError (the
// type is misconfigured for this cluster, engine/doc.go
// "Misconfiguration"); the registry's encoding error for an unregistered
// type. Each refusal is counted in Stats().Drops.
func (r *EntityRef) Tell(entityID string, msg any) error {
	et := r.et
	if et.c.closing.Load() {
		return ErrClosed
	}
	t := et.table.Load()
	if t.bad != nil {
		return et.refuseBad(t.bad)
	}
	shard := et.shardOf(t, entityID)
	e, ok := t.Owner(shard)
	if !ok {
		_, err := et.hold(shard, entityID, msg, 0)
		return err
	}
	return et.send(e, shard, entityID, msg, false, true)
}

// TellContext is Tell, except that when the owner connection's queue is
// full (or late: Config.QueueTarget) it waits for room (the writer frees slots as it writes) until ctx
// ends, instead of returning ErrBufferFull: backpressure for producers
// that would otherwise spin on Tell. It counts the queue as full once
// Config.QueueWaitFrames (default 512) frames are queued, where Tell may
// go on to QueueFrames: a producer
// that can wait gains nothing from a deeper queue (512 frames are more
// than a write), and the frames stay in the queue's cache-warm buffers
// (outQueue in queue.go, "Hot buffers"). Every other error is returned at
// once, as by Tell (a full location buffer included).
//
// It never waits on a dead or paused owner, nor on a type found
// misconfigured meanwhile (it returns the error, counted like Tell's):
// while it waits it re-reads the type's table on every wake-up and at
// least every 50 ms (routeRecheck). When the cluster moved the shard to another node, the
// message goes there (or, when the new owner's queue is full too, the
// wait goes on there); when the owner's connection fails or becomes
// suspect (Config.SuspectAfter), it returns *OwnerUnavailableError at
// once, counted like Tell's; when the shard's location became unknown,
// the message is held as by Tell. When ctx ends while waiting, the
// message is counted as DropQueueFull (DropQueueSojourn when the queue
// was late) and ctx.Err() is returned. Waiting
// allocates (a timer, a channel); the path without waiting is Tell's.
func (r *EntityRef) TellContext(ctx context.Context, entityID string, msg any) error {
	et := r.et
	if et.c.closing.Load() {
		return ErrClosed
	}
	t := et.table.Load()
	if t.bad != nil {
		return et.refuseBad(t.bad)
	}
	shard := et.shardOf(t, entityID)
	e, ok := t.Owner(shard)
	if !ok {
		_, err := et.hold(shard, entityID, msg, 0)
		return err
	}
	err := et.send(e, shard, entityID, msg, true, true)
	reason, wait := mustWait(err)
	if !wait {
		return err
	}
	return et.waitSend(ctx, shard, e, entityID, msg, reason)
}

// routeRecheck bounds how long TellContext waits for queue room without
// re-reading the route: a shard moved while the owner's queue is full is
// noticed within it even if nothing wakes the producer.
const routeRecheck = 50 * time.Millisecond

// errMustWait and errMustWaitLate: enqueue found the owner's queue full,
// or late (the sojourn bound), and was told not to count it (TellContext
// waits instead).
var (
	errMustWait     = errors.New("engine: queue full, wait")
	errMustWaitLate = errors.New("engine: queue late, wait")
)

// mustWait reports whether err asks the caller to wait, and the reason
// to count if the wait ends without room.
func mustWait(err error) (DropReason, bool) {
	switch err {
	case errMustWait:
		return DropQueueFull, true
	case errMustWaitLate:
		return DropQueueSojourn, true
	}
	return 0, false
}

// waitSend waits for room in the queue of the shard's owner, re-resolving
// the owner on every wake-up and every routeRecheck (see TellContext).
// reason is what the last refusal was (DropQueueFull or
// DropQueueSojourn): what a wait cancelled by ctx is counted as.
func (et *entityType) waitSend(ctx context.Context, shard int, e *routeEntry, entityID string, msg any, reason DropReason) error {
	recheck := time.NewTimer(routeRecheck)
	defer recheck.Stop()
	for {
		switch e.nc.q.waitSpace(ctx.Done(), e.nc.stop, recheck.C) {
		case waitCancelled:
			et.c.stats.drop(reason, 1)
			return ctx.Err()
		case waitRecheck:
			recheck.Reset(routeRecheck)
		}
		t := et.table.Load()
		if t.bad != nil {
			return et.refuseBad(t.bad) // misconfigured meanwhile
		}
		ne, ok := t.Owner(shard)
		if !ok {
			_, err := et.hold(shard, entityID, msg, 0)
			return err
		}
		e = ne
		err := et.send(e, shard, entityID, msg, true, true)
		var wait bool
		if reason, wait = mustWait(err); !wait {
			return err
		}
	}
}

// send queues the envelope ShardEnvelope{entityID, msg} on e's owner
// and counts it accepted. Hot path: no locks, no allocations on success.
// With wait, a full (or late) queue is not counted: errMustWait is
// returned for the caller to wait (TellContext). paced: a tell, subject
// to the queue's sojourn bound (an Ask's message is not).
func (et *entityType) send(e *routeEntry, shard int, entityID string, msg any, wait, paced bool) error {
	f := outFrame{kind: frameEnvelope, route: e, entityID: entityID, msg: msg, paced: paced}
	if _, err := et.enqueue(e, shard, &f, wait); err != nil {
		return err
	}
	et.c.stats.tells.inc(shard)
	return nil
}
