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
// The client subscribes to the topology actor of every member it keeps a
// connection to: first its contact node (the primary subscription), then
// every live member of the snapshots and the leader. A node pushes its
// snapshot to each subscriber periodically (Go nodes every second, Casty
// nodes several times a second) and on every change, so every connection
// to a live node carries traffic, which is what the suspicion below
// watches. Only the snapshots of the primary and of the leader are
// applied; the other members' are liveness signals (members' views may lag
// each other; the client does not flip between them). Each applied
// TopologySnapshot flows through:
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
// pointers to one immutable entry per owner (its connection, the
// precomputed /_region-<type> URI on it and the precomputed head of every
// envelope frame to it: frame type, header_len and the escaped header,
// written once by the codec, so that a Tell encodes only the entity id and
// the message), published with an atomic pointer together with the type's
// misconfiguration, if any (routeTable: one load tells a Tell both). It is the client's merged truth for the type, not a copy of one
// snapshot: a snapshot of a newer epoch replaces it (shards it does not
// allocate become unknown), a changed snapshot of the same epoch is merged
// over it, and ShardLocation replies from the leader's coordinator (cache
// misses, re-queries after a failure) are merged into it between
// snapshots. An unchanged snapshot leaves it alone, so a ShardLocation
// stays until a snapshot that differs says otherwise. A type created with
// EntityRef after snapshots starts from the current snapshot's table.
//
// # Shard hash
//
// The hash that maps an entity id to its shard is cluster-wide
// configuration of the entity type (node.EntityType.Hash): MD5, Casty's,
// by default, XXH64 (ring.ShardXX) in a cluster of zerohop nodes
// configured for it. A zerohop node announces it with the type in its
// handshake ("entity_hashes", omitted for MD5); noteAnnounced, which
// already re-judges the types on each announcement, publishes it in the
// type's route table (routeTable.hash), so a Tell still does one atomic
// load. Before any announcement names the type, and against Casty nodes
// (no extension), the client routes with MD5.
//
// This is safe whatever the client believes: a node never trusts the
// shard a client routed by. It recomputes the entity's shard from the
// id with its own type's hash (the cluster's: a node configured with
// another hosts nothing of the type) and forwards the envelope to that
// shard's owner, or parks it while the shard has no owner. A client
// routing with the wrong hash (before the announcement, or told by a node
// whose view is stale) costs a forward per message, never an entity
// split across two nodes. TestClusterRoutesWithTheAnnouncedHash checks
// that with the announced hash there is no forward at all.
//
// MD5 costs about 130 ns an id, the largest single item of a JSON tell
// flood's profile (12 %, PERFORMANCE.md). A type routed with MD5 takes its
// shards from a memo of the ids used recently (ring.MD5Memo, 8192 one-word
// entries, 64 KiB per type, shared by every producer without a lock; 0
// allocations): an id sent to again costs an XXH64 of it and one atomic
// load. An entry is matched by 48 bits of the id's XXH64 besides its slot,
// so two ids could share one (once in years at millions of misses a
// second); that costs what the wrong hash costs above, a forward, never a
// misdelivery.
//
// topo.Routes rather than a table of the engine's own: Owner is a nil and
// bounds check and one index, inlined into Tell; the entries being shared
// pointers adds one dependent load to the value entries it replaced,
// which the routing step (MD5 included) does not show: about 117 ns
// before, 120 ns after, within noise; BenchmarkTell shows no significant
// change either.
//
// Tell loads the type's table, computes the shard with the table's hash
// (MD5, as Casty, unless the cluster announced another; below), and
// encodes the frame straight into a slot of the owner connection's
// lock-free outbound queue. Each connection has one writer that drains
// everything queued into one write per drain and sleeps only when the
// queue is empty (woken by the producer that makes it non-empty). Replies
// come back on the same connections (the client never listens) to
// /_ask/<32 hex>, /_topology_sub or /_proxy-<type>.
//
// Every frame enters a queue the same way, through nodeConn.enqueue
// (enqueue.go): claim a slot, encode into it, publish, counting a full
// queue and a frame that does not encode; tells, held messages, asks,
// service and control messages differ only in what is encoded and in
// the slots kept free for control frames. Routing (EntityRef, Tell) is in
// route.go, the route table in routetable.go, the messages held for
// shards of unknown location and their location queries in held.go.
//
// The maintenance goroutine (one per client) re-sends SubscribeTopology
// every RefreshInterval (pruning subscriptions to nodes that left the
// membership first), marks suspect the connections that received nothing
// for SuspectAfter, moves a silent primary subscription to the next
// contact, collects connections to nodes absent from the current
// snapshot's membership for 3*LivenessWindow, and drives location queries
// and buffer expiry.
//
// Suspect connections: each connection records when its reading side last
// received bytes (once per read batch). A subscribed connection that is up
// but has received nothing for Config.SuspectAfter (default 2 s: a paused,
// overloaded or cut-off node whose TCP connection is still open) is marked
// suspect by the maintenance tick: sends to it fail fast like sends to a
// down node (*OwnerUnavailableError, cause ErrSuspect), asks waiting on it
// fail, its shards are queried again, while the frames already queued stay
// queued. The first bytes it sends again make it up. The decision is the
// tick's, per connection: Tell reads the one state it always read, and
// the other nodes' shards are unaffected.
//
// Reconnection: a failed connection retries with jittered exponential
// backoff from ReconnectMin to ReconnectMax (default 1 s), cut short by
// any membership change in an applied snapshot, by the cluster reporting
// the node reachable again and by a shard routed to it (attempts stay
// ReconnectMin apart): a node restarted at the same address is connected
// again within about a second.
//
// Backpressure: Tell never blocks; when the owner connection's queue is
// full it returns ErrBufferFull. The queue is bounded in time as well
// (Config.QueueTarget, default 5 ms; a sojourn target in the spirit of
// CoDel): once the oldest frame left queued after each of the writer's
// drains has waited longer than the target for a whole
// Config.QueueInterval (default 100 ms: a burst or a writer not run for
// a moment is absorbed by the slots), tells to that node are
// refused the same way (*BufferFullError, counted as DropQueueSojourn),
// so that the queue holds about what keeps the link busy and an Ask sent
// behind a flood of tells waits about the target, not QueueFrames frames.
// Asks (and held messages flushed, and control frames) are never refused
// by it: an Ask is one frame per round trip, and refusing it would make
// a flood of tells starve the asks it is meant to serve; they keep the
// frame bound only, and their place in the connection's FIFO order (an
// Ask still sees every tell sent before it); tells leave the last
// QueueFrames/32 slots to them and to control frames, so a flood that
// fills the queue before the bound engages has its tells refused, not
// the asks behind them. No clock is read per Tell:
// the writer reads one per drain and producers stamp their slot with it,
// so ages are known to within one write; once the queue has been late,
// tells are also kept below what the writer was measured to write in the
// target, until it idles (outQueue in queue.go). The kernel's socket
// buffers and the node's mailboxes are queues too, beyond the client's
// sight, and by default the larger ones: Linux autotunes a loopback
// connection's send buffer to 4 MiB, so a flood fills it before the
// queue, and an Ask waits behind it. Config.SocketSendBuffer (and the
// node's SocketRecvBuffer and MailboxSize) bound them; PERFORMANCE.md,
// "Asks behind a flood", measures what that does to an Ask's latency.
// TellContext waits instead, full or late alike (the writer wakes waiting
// producers as it frees slots or the queue stops being late), which is
// what a producer faster than the network wants; while it waits it
// re-reads the shard's route at least every 50 ms and on every wake-up:
// it follows a shard the cluster moved, returns ErrOwnerUnavailable as
// soon as the owner is down or suspect, and the misconfiguration error as
// soon as the type is found misconfigured. Flush waits until everything
// accepted has been written.
//
// A shard with no known owner is a cache miss: its messages are held,
// bounded per shard and in total, while one GetShardLocation is in flight
// to the leader's coordinator (to the primary's when the snapshot names no
// leader or the leader is unreachable, if the primary is a zerohop node:
// it forwards the query or answers ShardUnavailable, where a Casty node
// that does not lead may stay silent); the held messages are flushed in
// order before the table naming the owner is published, so per-entity
// order holds. Held messages expire
// after Config.BufferTimeout. A zerohop node that can vouch for no owner
// (a side without quorum, no node able to own the shard) answers
// ShardUnavailable instead of ShardLocation: the held messages fail with
// *ShardUnavailableError (ErrNoQuorum for the no_quorum reason), new ones
// fail fast with it for a jittered RequeryDelay, then the location is
// asked for again. A node that accepted a message and then dropped it (a
// dead letter) answers a waiting Ask with zerohop.Undeliverable: the Ask
// fails with *UndeliverableError at once instead of timing out.
//
// # Observability
//
// Stats is the client-wide counters; Nodes the state (NodeState:
// connecting, connected, suspect, reconnecting, down, closed) and
// counters of each node connection: frames and bytes written and read,
// queue depth, connects, reconnects, suspicions and drops by reason;
// AskLatency the round trips of answered asks in fixed exponential
// buckets (10 us to 42 s, atomics, no lock). Config.OnConnState hears of
// each state change (ConnStateEvent) from a goroutine the client owns.
// None of it adds work to a Tell that succeeds: TestTellZeroAllocs holds,
// and the counters a Tell would touch are the writer's, per batch.
// Package metrics/promclient exports all of it to Prometheus (engine
// imports no metrics library); metrics/promnode exports a node's.
//
// # Accepted, then dropped
//
// A Tell that returned nil can still fail inside the client: a held
// message whose shard's location stays unknown for BufferTimeout
// (DropExpired), held messages failed by a ShardUnavailable answer
// (DropUnavailable), a held message whose owner is down or suspect when
// its location arrives (DropOwnerUnavailable; DropQueueFull, DropClosed or
// DropEncode when the owner's queue is full or closed or the frame too
// large), messages still held when Shutdown gives up its drain
// (DropClosed), and frames discarded from a connection's queue when the
// connection fails (DropConnLost) or the client closes (DropClosed).
// Config.OnDrop hears of each, as a Drop (its Reason is a DropReason,
// the key Stats().Drops counts it under; String gives the reason's stable
// name, e.g. "conn_lost"): a held message is known exactly
// (entity type, shard, entity id, Count 1); queued frames are not, since a
// queue holds encoded frames of every kind (tells, asks, service and
// control messages): Type "", Shard -1, Count the number of frames. An
// Ask's message is not reported (the Ask returns the error), nor is a
// refusal (the caller has the error). OnDrop runs on the goroutine that
// drops, possibly under the client's locks: it must only record and
// return. A caller that needs per-shard loss accounting (cmd/loadgen)
// counts the drops that have a shard per shard, and can only report the
// queued frames as a total.
//
// # Misconfiguration
//
// The usual mistakes fail at once (within the handshake, or one round
// trip) with an error that names the cause. The messages below are exact
// (TestMisconfigurationTable checks them), with the values of the example:
// node 10.0.0.1:25520, system "live", entity type "counter" with 32
// shards.
//
//	Mistake                         Error (type): message
//	contact point is an HTTP        *NotCastyError: the peer is not a Casty node (it looks like an HTTP
//	  server                          server): it did not answer the handshake, and answered
//	                                  "GET / HTTP/1.0\r\n\r\n" with "HTTP/1.0 404 Not Found\r\n"
//	                                  (an HTTP server that answers our handshake itself: "it answered
//	                                  the handshake with ..."; a probe after ProbeAfter, 500 ms,
//	                                  only to an address that never answered a handshake)
//	contact point sends anything    *NotCastyError: the peer is not a Casty node: it answered the
//	  but a Casty handshake           handshake with "garbage\x00\xff\n"
//	contact point speaks TLS,       ErrTLSRequired: engine: the node speaks TLS but Config.TLS is nil
//	  Config.TLS is nil
//	contact point closes after      *ClosedError: the node closed the connection right after the
//	  our handshake (a Casty node     handshake: check SystemName (we sent "live") and that the address
//	  refusing, a gossip port)        is a node's Casty port (not its gossip or consensus port): EOF
//	wrong SystemName (zerohop       *SystemError: node belongs to system "live", configured for "wrong"
//	  node: it says why)
//	wrong shard count (zerohop      *ShardsMismatchError: engine: entity type "counter" has 32 shards
//	  node announces it)              in the cluster (announced by 10.0.0.1:25520), not 16
//	wrong shard count (Casty: a     *ShardsMismatchError: engine: entity type "counter": the cluster
//	  table allocates shard >= n)     allocates shard 20 (on 10.0.0.1:25520), so it has more than the
//	                                  16 shards asked for
//	unknown entity type (zerohop    *UnknownEntityTypeError: engine: entity type "countr" is unknown to
//	  node announces its types)       the cluster (10.0.0.1:25520 announces counter)
//	message type unknown to the     *UndeliverableError: engine: message to counter entity "e1" (shard
//	  node (another module name),     3) undeliverable: unknown_message_type (the node does not know the
//	  an Ask to a zerohop node        message's type: check the name (Python module) it is registered
//	                                  under on both sides)
//	envelope for a type the         *UndeliverableError: engine: message to countr entity "e1"
//	  zerohop node does not host,     undeliverable: unknown_entity_type (the node hosts no entity type
//	  an Ask                          of that name)
//
// The handshake errors come wrapped: "engine: handshake with
// 10.0.0.1:25520 failed: " and, from Dial, "engine: no contact point
// reachable: ". A zerohop node announces, in its handshake's "zerohop"
// extension, the cluster's entity types with their shard counts (its own,
// then those its allocation table knows); a wrong count or an unknown type
// then fails EntityRef, and a ref made before an announcement of another
// count fails its Tell, TellContext and Ask (counted as
// DropMisconfigured). Casty
// announces nothing: there only a table allocating a shard id >= n shows a
// wrong count, and an unknown type or message type shows as asks that
// time out. Against a Casty node a message type it does not know is
// silently dropped too (Casty answers nothing).
//
// # Binary codec (zhbin)
//
// With Config.Binary (a zhbin.Codec over Types), the client's handshake
// offers "codecs": ["json", "zhbin"] and announces its binary type table;
// a connection whose node chooses "zhbin" with an equal table
// (zhbin.Negotiated, decided again at every handshake: nodeConn.binary)
// encodes the payloads of the frames queued on it from then on with the
// zhbin codec (Client.codecFor; the frame prefix and header are Casty's,
// unchanged), and every reply is read by the zhbin codec, which reads
// Casty JSON too. Every other connection, and every connection of a
// client without Binary, stays Casty JSON byte for byte. A frame is
// encoded when queued: frames queued before a reconnect keep the codec of
// the connection they were queued for (a node that stopped offering zhbin
// counts those still queued as undecodable).
//
// When the node's reply also announces "heads" (zhbin's "Compact heads"),
// an envelope's frame carries its route entry's head id instead of the
// head (routeEntry.ref): about 30 bytes instead of 190 for a tell. The
// connection's writer, which alone knows the link a frame goes out on,
// defines each id on each link before its first frame, and writes a frame
// whose id the link does not take (encoded for an earlier link) as the
// whole frame (headWriter), so no frame depends on the link it was
// encoded for. When the reply announces a "window" too (zhbin's
// "Window"), the writer keeps the frames it wrote on the link and the
// node has not acknowledged (wire.FrameCredit, read by the reading side:
// onCredit) below it, and the rest wait in the queue (writeLoop).
//
// # Invariants
//
//   - No listening socket, ever. The identity in handshakes and reply
//     addresses is a random 127.x.y.z:0 unless configured.
//   - Every queue and buffer is bounded (a connection's outbound queue in
//     frames, Config.QueueFrames, and for tells also in time: the sojourn
//     bound, Config.QueueTarget; TellContext waits once
//     Config.QueueWaitFrames of them are queued, 512 by default, the
//     queue's hot buffers); every message refused or dropped is
//     counted in Stats().Drops under its reason, and a refusal is an error
//     returned to the caller. A message accepted and dropped later (held
//     messages expiring, failed by ShardUnavailable, refused by their
//     owner's connection when their location arrives, or still held at
//     Shutdown; queued frames discarded when their connection fails or
//     the client closes) is also reported to Config.OnDrop, unless it was
//     an Ask's message (the Ask returns the error): see "Accepted, then
//     dropped".
//   - Epoch fencing: the route tables follow the highest allocation epoch
//     seen (the epoch of the snapshot in Client.snap); snapshots below it,
//     and ShardLocations from nodes whose latest snapshot epoch is below
//     it, are ignored (a restarted leader answering "me, at epoch 0"
//     cannot create duplicate entities). A node's epoch is known per
//     link: after a reconnect it is unknown (below every epoch) until the
//     node's first snapshot on the new link. After 3*LivenessWindow without
//     an applicable snapshot the fenced epoch is abandoned (the whole
//     cluster restarted).
//   - Client.snap holds the last applied snapshot and is replaced only by
//     a different one; route tables and listings are replaced only when
//     an entry changed.
//   - A shard whose owner is suspect or down fails fast with
//     ErrOwnerUnavailable: no send, and no TellContext, waits on a dead or
//     paused owner. The client never sends it to another node on its own
//     initiative: only the cluster (a snapshot or the leader's
//     coordinator) moves a shard.
//   - A misconfigured entity type never routes: once a zerohop node's
//     announcement contradicts a ref's shard count, or a topology table
//     allocates one of its shards at or past its count, its Tell,
//     TellContext and Ask return the error (counted, DropMisconfigured)
//     and EntityRef refuses the type (see "Misconfiguration").
//   - A type is routed with the shard hash the cluster announced for it:
//     the "entity_hashes" of a zerohop node's handshake (ring.HashXXH64
//     or MD5), MD5 (Casty's) before any announcement names the type and
//     against Casty nodes, which announce nothing (see "Shard hash").
//   - The client keeps a topology subscription on every member it keeps a
//     connection to (and on the primary and the leader), and only there:
//     a node that leaves the membership is unsubscribed, and Shutdown
//     unsubscribes from every node still subscribed.
//   - Nothing waits forever: asks have deadlines, held messages expire,
//     location queries time out and are retried with jitter, a silent
//     subscription moves to the next contact, a silent connection becomes
//     suspect, connections reconnect with jittered exponential backoff
//     capped at ReconnectMax.
//   - Observability never blocks the client: Config.OnConnState is called
//     from a goroutine of the client's own, fed by non-blocking sends into
//     a bounded buffer whose overflow is dropped and counted
//     (Stats.ConnEventsDropped); the counters of Nodes are written by each
//     connection's writer (per batch), reader (per read batch) and
//     supervisor, never by a Tell that succeeds; the client's written
//     totals are their sums (Stats), not a second count.
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
// writer) per node connection, one OnConnState caller when it is set,
// plus one reader per connection with the
// net transport (the gnet transport, package engine/gnettransport, reads
// every connection from one event loop). Shutdown waits for all of them.
// Importing engine starts no goroutine and links no gnet: a program
// selects the gnet transport by importing engine/gnettransport, which
// registers it (RegisterTransport) under TransportGnet. A connection's state is one
// atomic: its supervisor moves it between connecting, up and down, the
// maintenance tick from up to suspect, the reading side from suspect back
// to up (compare-and-swap each, so that a failure is never overwritten).
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
// whose type is registered in the castyjson.Registry (or implements
// castyjson.JSONAppender): TestTellZeroAllocs asserts it; on a zhbin
// connection, for a type registered in the zhbin codec
// (TestTellZeroAllocsBinary). The conversion of the
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
// (*OwnerUnavailableError; its Cause wraps ErrSuspect when the owner's
// connection is suspect), ErrAskTimeout (with context.DeadlineExceeded),
// ErrConnectionLost (*ConnError; Cause wraps ErrSuspect for an ask whose
// connection became suspect), ErrShardUnavailable and ErrNoQuorum
// (*ShardUnavailableError: a node answered the location query with
// ShardUnavailable), ErrUndeliverable (*UndeliverableError: an Ask's
// message was dropped by the node, which said so), ErrHandshake
// (*HandshakeError, wrapping ErrTLSRequired for a plaintext client facing
// a TLS node), ErrNoRoute, ErrExpired (the cause recorded for held
// messages dropped after BufferTimeout), *ShardsMismatchError,
// *UnknownEntityTypeError, *ReplyTypeError, *ConfigError; the causes of a
// *HandshakeError that name a misconfiguration: *NotCastyError,
// *SystemError, *ClosedError (see "Misconfiguration").
package engine
