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
// The client subscribes to a contact node's topology actor and compiles
// every TopologySnapshot into one immutable route table per entity type
// (shard -> node connection and the precomputed /_region-<type> URI on
// it), published with an atomic pointer. Tell computes the shard (MD5, as
// Casty), loads the table, and encodes the frame straight into a slot of
// that node connection's lock-free outbound queue. Each connection has
// one writer that drains everything queued into one write per drain and
// sleeps only when the queue is empty (woken by the producer that makes it
// non-empty). Replies come back on the same connections (the client never
// listens) to /_ask/<32 hex>, /_topology_sub or /_proxy-<type>.
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
//     seen; snapshots, and ShardLocations from nodes whose latest snapshot
//     epoch is below it, are ignored (a restarted leader answering "me, at
//     epoch 0" cannot create duplicate entities).
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
// Route tables and listings are immutable once published; readers load
// them once per operation. Goroutines: one maintenance loop per client,
// one supervisor (also the writer) per node connection, plus one reader per
// connection with the net transport (the gnet transport reads every
// connection from one event loop). Shutdown waits for all of them.
//
// Lock order: Client.mu, then entityType.mu, then askTable.mu, then
// Watcher.mu. No lock is taken on the Tell path of a routed shard.
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
// *ShardsMismatchError, *ReplyTypeError, *ConfigError.
package engine
