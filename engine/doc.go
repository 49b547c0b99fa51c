// Package engine is zerohop's cluster client: it routes messages to the
// sharded entities and discoverable services of a Casty v1 cluster (or a
// zerohop cluster speaking the same protocol) over outbound TCP (or TLS)
// connections only, one per node, with zero hops: a Tell goes straight to
// the node that owns the entity.
//
//	c, err := engine.Dial(ctx, engine.Config{ContactPoints: []string{"10.0.1.10:25520"}, SystemName: "live", Types: reg})
//	defer c.Close()
//	counter, err := c.EntityRef("counter", 32)
//	err = counter.Tell("user-42", Increment{Amount: 1})
//	reply, err := engine.AskAs[CountReply](ctx, c, counter, func(replyTo wire.Ref) any {
//		return engine.ShardEnvelope{EntityID: "user-42", Message: GetCount{ReplyTo: replyTo}}
//	})
//	for _, inst := range c.Lookup("node-stats").Instances { _ = inst.Ref.Tell(ResetStats{}) }
//
// # How it works
//
// The client subscribes to a contact node's topology actor (and to the
// leader's). Each TopologySnapshot pushed to it flows through:
//
//  1. decode: the frame's payload into a wire.TopologySnapshot, on the
//     connection's reader (or the gnet event loop);
//  2. compile: topo.Compile turns it into an immutable *topo.Snapshot
//     (canonical members, leader, unreachable set, registry by key, one
//     dense shard table per type), outside any lock;
//  3. fence and store, under Client.mu: a snapshot whose epoch is below
//     the last applied one is dropped (see Invariants); otherwise
//     Client.snap (a topo.Holder) stores it, which publishes it only if it
//     differs from the current one. An equal snapshot, the usual push
//     (about one a second per subscription from Go nodes, four from
//     Casty's), stops here: only the liveness bookkeeping ran (counted in
//     Stats.SnapshotsUnchanged);
//  4. apply a changed snapshot, still under Client.mu: membership, learned
//     contacts and connections from Members/IsUnreachable, the leader's
//     subscription from Leader, each entity type's route table from
//     Table(type), and the service listings from ServiceKeys/Services.
//
// Lookup reads the listings, not the snapshot: the registry's entries
// bound to their node connection and URI (ServiceRefs), rebuilt only when
// the registry changed, so that Lookup takes no lock and allocates only
// the copy it returns. Watchers are told of the keys whose listing
// changed.
//
// The route table of a type is a topo.Routes[*routeEntry]: numShards
// pointers to one immutable entry per owner (its connection and the
// precomputed /_region-<type> URI on it), published with an atomic
// pointer. It is the client's merged truth for the type, not a copy of one
// snapshot: a snapshot of a newer epoch replaces it (shards it does not
// allocate become unknown), a changed snapshot of the same epoch is merged
// over it, and ShardLocation replies from the leader's coordinator (cache
// misses, re-queries after a failure) are merged into it between
// snapshots. An unchanged snapshot leaves it alone, so a ShardLocation
// stays until a snapshot that differs says otherwise. A type created with
// EntityRef after snapshots starts from the current snapshot's table.
//
// topo.Routes rather than a table of the engine's own: Owner is a nil and
// bounds check and one index, inlined into Tell; the entries being shared
// pointers adds one dependent load to the value entries it replaced,
// which the routing step (MD5 included) does not show: about 117 ns
// before, 120 ns after, within noise; BenchmarkTell shows no significant
// change either.
//
// Tell computes the shard (MD5, as Casty), loads the type's table, and
// encodes the frame straight into a slot of the owner connection's
// lock-free outbound queue. Each connection has one writer that drains
// everything queued into one write per drain and sleeps only when the
// queue is empty (woken by the producer that makes it non-empty). Replies
// come back on the same connections (the client never listens) to
// /_ask/<32 hex>, /_topology_sub or /_proxy-<type>.
//
// The maintenance goroutine (one per client) re-sends SubscribeTopology
// every RefreshInterval (pruning subscriptions to former leaders first),
// moves a silent subscription to the next contact, collects connections
// to nodes absent from the current snapshot's membership for
// 3*LivenessWindow, and drives location queries and buffer expiry.
//
// Backpressure: Tell never blocks; when the owner connection's queue is
// full it returns ErrBufferFull. TellContext waits for room instead (the
// writer wakes waiting producers as it frees slots), which is what a
// producer faster than the network wants. Flush waits until everything
// accepted has been written.
//
// A shard with no known owner is a cache miss: its messages are held,
// bounded per shard and in total, while one GetShardLocation is in flight
// to the leader's coordinator; the held messages are flushed in order
// before the table naming the owner is published, so per-entity order
// holds. Held messages expire after Config.BufferTimeout.
//
// # Invariants
//
//   - No listening socket, ever. The identity in handshakes and reply
//     addresses is a random 127.x.y.z:0 unless configured.
//   - Every queue and buffer is bounded; every message refused or dropped is
//     counted in Stats().Drops under its reason, and a refusal is an error
//     returned to the caller.
//   - Epoch fencing: the route tables follow the highest allocation epoch
//     seen (the epoch of the snapshot in Client.snap); snapshots below it,
//     and ShardLocations from nodes whose latest snapshot epoch is below
//     it, are ignored (a restarted leader answering "me, at epoch 0"
//     cannot create duplicate entities). After 3*LivenessWindow without
//     an applicable snapshot the fenced epoch is abandoned (the whole
//     cluster restarted).
//   - Client.snap holds the last applied snapshot and is replaced only by
//     a different one; route tables and listings are replaced only when
//     an entry changed.
//   - A shard whose owner has no live connection fails fast with
//     ErrOwnerUnavailable. The client never sends it to another node on its
//     own initiative: only the cluster (a snapshot or the leader's
//     coordinator) moves a shard.
//   - Nothing waits forever: asks have deadlines, held messages expire,
//     location queries time out and are retried with jitter, a silent
//     subscription moves to the next contact, connections reconnect with
//     jittered exponential backoff.
//
// # Concurrency contract
//
// Client, *EntityRef, ServiceRef and *Watcher are safe for concurrent use.
// The compiled snapshot (Client.snap), the route tables and the listings
// are immutable once published, each behind one atomic pointer; readers
// load them once per operation (Tell, Lookup) and take no lock. Stats
// takes Client.mu briefly to sum the connection queues.
// Writers are serialized: the snapshot, the listings and the table
// entries a snapshot implies are replaced under Client.mu, and a table is
// replaced under its entityType.mu as well (ShardLocations, evictions and
// the flush of held messages take Client.mu, then entityType.mu).
// Goroutines: one maintenance loop per client, one supervisor (also the
// writer) per node connection, plus one reader per connection with the
// net transport (the gnet transport reads every connection from one event
// loop). Shutdown waits for all of them.
//
// Lock order: Client.mu, then entityType.mu, then askTable.mu, then
// Watcher.mu. topo.Compile runs before Client.mu is taken. No lock is
// taken on the Tell path of a routed shard.
//
// Buffer ownership: inbound frame bodies alias the transport's read buffer
// and are valid only during dispatch (decoding copies what it keeps);
// outbound frames are encoded into queue slots owned by the producer until
// published, then by the writer until copied into its batch.
//
// # Allocations
//
// Tell to a routed shard allocates nothing inside the client for a message
// whose type is registered in the wire.Registry (or implements
// wire.JSONAppender): TestTellZeroAllocs asserts it. The conversion of the
// message to the `any` parameter happens at the call site and is Go's: it
// does not allocate for pointers, zero-size values, single-byte values and
// 8-byte pointer-free values below 256 (e.g. Increment{Amount: 1}); other
// values are copied to the heap by the conversion (one small allocation)
// unless the caller passes a pointer (*Increment encodes like Increment)
// or reuses an interface value.
//
// # Errors
//
// ErrClosed, ErrBufferFull (*BufferFullError), ErrOwnerUnavailable
// (*OwnerUnavailableError), ErrAskTimeout (with context.DeadlineExceeded),
// ErrConnectionLost (*ConnError), ErrHandshake (*HandshakeError, wrapping
// ErrTLSRequired for a plaintext client facing a TLS node), ErrNoRoute,
// ErrExpired (the cause recorded for held messages dropped after
// BufferTimeout), *ShardsMismatchError, *ReplyTypeError, *ConfigError.
package engine
