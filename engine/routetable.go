package engine

// The route table of an entity type: shard -> owner entry, immutable once
// published, replaced from snapshots and ShardLocation answers (see
// entityType in route.go).

import (
	"time"

	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/topo"
	"github.com/zerohop/zerohop/wire"
)

// routes maps shard -> owner; an unallocated shard's location is
// unknown. Owners are interned per (type, node): comparing two tables'
// entries compares pointers.
type routes = topo.Routes[*routeEntry]

// routeTable is what a Tell loads, once, to route a message of the type:
// the shard hash, the routes (embedded by value: Owner indexes the table
// it loaded, no further pointer) and the type's misconfiguration, so that
// one atomic load tells whether the type may be used, how an id maps to
// its shard and where the shard goes. Immutable once published; published
// under et.mu only (publishLocked, setBad, setHash), so a new table keeps
// the other parts of the one it replaces.
type routeTable struct {
	routes
	// hash maps an entity id to its shard: the one the cluster announced
	// for the type (the "entity_hashes" of a zerohop node's handshake,
	// noteAnnounced), ring.HashMD5 (Casty's) before any announcement and
	// against Casty nodes.
	hash ring.Hash
	// bad, when set, fails every Tell, TellContext and Ask of the type:
	// the cluster's shard count differs or the cluster does not know the
	// type (noteAnnounced, checkAllocated; a table's evidence replaces an
	// announcement's, never the reverse).
	bad *badType
}

// newRouteTable returns the table of a type with numShards shards of
// unknown location under hash, not misconfigured.
func newRouteTable(numShards int, hash ring.Hash) *routeTable {
	return &routeTable{routes: *topo.NewRoutes[*routeEntry](numShards), hash: hash}
}

// md5MemoSlots is the size of a type's MD5 memo (ring.MD5Memo): 8192
// entries, 64 KiB per entity type routed with MD5.
const md5MemoSlots = 8192

// shardOf returns the shard of entityID under table t's hash. With MD5
// (Casty's, about 130 ns an id) the type's memo answers for ids used
// recently; XXH64 costs less than the memo's own lookup. It allocates
// nothing.
func (et *entityType) shardOf(t *routeTable, entityID string) int {
	if t.hash == ring.HashMD5 && et.md5Memo != nil {
		return et.md5Memo.Shard(entityID)
	}
	return t.hash.Shard(entityID, et.numShards)
}

// routeEntry is what Tell needs of an owner: its connection, the
// precomputed URI of the type's region on it and the precomputed head of
// every envelope frame to that region. Immutable; one per (entity type,
// node connection), shared by every table of the type.
//
// head is the codec's constant part of the frame (wire.Codec
// AppendEnvelopeHead: for Casty JSON the frame type, header_len and the
// header with target, sender and type hint, already escaped), so that a
// Tell copies it and encodes only the entity id and the message
// (outFrame.appendTo). It is Casty's head for every connection: zhbin
// changes only the envelope after it (the connection's codecFor).
//
// ref, with a zhbin codec configured, is the head's compact form: the
// headed frame's type and the id under which nc's head table holds head
// (wire.AppendHeadRef, refID), used instead of head on a connection whose
// node announced heads above refID (outFrame.appendTo); nil when the
// table is full. The connection's writer defines the id before the first
// frame that uses it on every link (headWriter).
type routeEntry struct {
	nc     *nodeConn
	target string // casty://<sys>@<owner>/_region-<type>
	head   []byte // reg.AppendEnvelopeHead(target, senderURI); read-only
	ref    []byte // wire.AppendHeadRef(refID); nil: none; read-only
	refID  int32
}

// newRouteEntry builds the route entry of owner nc for entity type et.
func (et *entityType) newRouteEntry(nc *nodeConn) *routeEntry {
	c := et.c
	target := wire.NodeURI(c.cfg.SystemName, nc.addr, et.regionPath)
	e := &routeEntry{nc: nc, target: target, head: c.reg.AppendEnvelopeHead(nil, target, c.senderURI)}
	if c.bin != nil {
		if id, ok := nc.heads.add(e.head); ok {
			e.ref, e.refID = wire.AppendHeadRef(nil, id), int32(id)
		}
	}
	return e
}

// entryLocked returns the route entry for owner nc. et.mu held.
func (et *entityType) entryLocked(nc *nodeConn) *routeEntry {
	e := et.entries[nc]
	if e == nil {
		e = et.newRouteEntry(nc)
		et.entries[nc] = e
	}
	return e
}

// applySnapshot applies the type's allocations in snapshot s to the table.
// With full (s's epoch is newer than the last applied) s is the whole
// truth: shards it does not allocate become unknown. Otherwise s is merged
// over the table: the shards it allocates take its owner, the others keep
// theirs (from an earlier snapshot of the same epoch or a ShardLocation).
// Shard ids at or above numShards are ignored. conns caches, by s's node
// index, the connections resolved so far (shared by the types applying s).
// The table is published only if an entry changed. c.mu held.
func (et *entityType) applySnapshot(s *topo.Snapshot, conns []*nodeConn, full bool, now time.Time) {
	t := s.Table(et.name)
	if t == nil && !full {
		return
	}
	c := et.c
	et.mu.Lock()
	defer et.mu.Unlock()
	old := et.table.Load()
	ed := old.Edit()
	ents := make([]*routeEntry, len(conns)) // by node index
	for sid := range et.numShards {
		idx, ok := t.Owner(sid)
		if !ok {
			if full {
				ed.Clear(sid)
			}
			continue
		}
		e := ents[idx]
		if e == nil {
			nc := conns[idx]
			if nc == nil {
				nc = c.connLocked(s.Node(idx))
				conns[idx] = nc
			}
			e = et.entryLocked(nc)
			ents[idx] = e
		}
		if cur, _ := ed.Owner(sid); full || cur != e {
			e.nc.nudge() // (newly) routed to a node in backoff: retry it now
			ed.Set(sid, e)
		}
	}
	if r := ed.Routes(); r != &old.routes {
		et.publishLocked(r)
	}
}

// applyLocation routes shard to owner (a ShardLocation). c.mu held.
func (et *entityType) applyLocation(shard int, owner *nodeConn) {
	et.mu.Lock()
	defer et.mu.Unlock()
	if q := et.pending[shard]; q != nil && len(q.msgs) == 0 {
		delete(et.pending, shard) // a re-query answered
	}
	old := et.table.Load()
	r := old.WithOwner(shard, et.entryLocked(owner))
	if r == &old.routes {
		return
	}
	owner.nudge()
	et.publishLocked(r)
}

// publishLocked publishes r as the type's routes, after flushing, in
// order, the messages held for the shards r routes (flushHeldLocked): a
// Tell that sees r queues after them. The misconfiguration stays. et.mu
// held.
func (et *entityType) publishLocked(r *routes) {
	et.flushHeldLocked(r)
	next := *et.table.Load() // the hash and the misconfiguration stay
	next.routes = *r
	et.table.Store(&next)
}

// setBad publishes b as the type's misconfiguration (nil: none); the
// routes stay. c.mu held (every change of it is judged under c.mu).
func (et *entityType) setBad(b *badType) {
	et.mu.Lock()
	defer et.mu.Unlock()
	next := *et.table.Load()
	next.bad = b
	et.table.Store(&next)
}

// setHash publishes h as the type's shard hash when it differs; the
// routes (shard -> owner, which do not depend on the hash) stay. Messages
// held for a shard under the old hash keep that shard: the node they
// reach recomputes it and forwards them (a hop, never a split entity). c.mu
// held.
func (et *entityType) setHash(h ring.Hash) {
	et.mu.Lock()
	defer et.mu.Unlock()
	next := *et.table.Load()
	if next.hash == h {
		return
	}
	next.hash = h
	et.table.Store(&next)
}

// evict marks the shards owned by nc for a re-query after a jittered
// RequeryDelay. Their entries keep pointing at nc, so messages to them
// fail fast (ErrOwnerUnavailable) until the cluster names an owner that is
// reachable: the client never picks another node by itself. c.mu held.
func (et *entityType) evict(nc *nodeConn, now time.Time) {
	et.mu.Lock()
	defer et.mu.Unlock()
	e := et.entries[nc]
	if e == nil {
		return // never routed to nc
	}
	for _, sid := range et.table.Load().Shards(nil, e) {
		if _, ok := et.pending[sid]; !ok {
			et.pending[sid] = &shardQuery{next: now.Add(jitter(et.c.cfg.RequeryDelay)), requery: true}
		}
	}
}

// routesTo reports whether the table routes a shard to nc.
func (et *entityType) routesTo(nc *nodeConn) bool {
	et.mu.Lock()
	defer et.mu.Unlock()
	e := et.entries[nc]
	if e == nil {
		return false
	}
	r := et.table.Load()
	for sid := range r.Len() {
		if o, _ := r.Owner(sid); o == e {
			return true
		}
	}
	return false
}

// forget drops the entry of a connection no table routes to (the
// connection is being collected).
func (et *entityType) forget(nc *nodeConn) {
	et.mu.Lock()
	defer et.mu.Unlock()
	delete(et.entries, nc)
}
