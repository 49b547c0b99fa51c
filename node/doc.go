// Package node is a zerohop cluster node: it hosts sharded entities and
// discoverable services, elects a leader, allocates shards and serves
// clients (zerohop's engine and Casty v1's own ClusterClient) over Casty
// v1's wire protocol (shared/casty-v1/PROTOCOL.md) with the JSON codec.
//
// # API
//
//	n, err := node.Start(ctx, node.Config{Listen: "127.0.0.1:25520", Seeds: ...,
//	        Registry: reg, Entities: []node.EntityType{...}, Services: []node.Service{...}})
//	defer n.Close(ctx)        // graceful: leave, hand shards over, flush, wait
//
// Config's zero value means defaults; Validate reports every problem at
// once. Entities implement Entity (Receive(ctx, msg)); a Context lets them
// Tell/Reply to a wire.Ref. The in-process test cluster with the counter
// workload is package node/nodetest.
//
// # Paths served
//
//	/_cluster/_topology  SubscribeTopology (immediate snapshot to the ref,
//	                     over the connection it came on, then a push on
//	                     every change and every TopologyPushInterval),
//	                     UnsubscribeTopology. Closing the connection also
//	                     unsubscribes.
//	/_coord-{type}       GetShardLocation -> ShardLocation (any node; see
//	                     Allocation) and, between nodes, ShardLocation.
//	/_region-{type}      ShardEnvelope -> the entity's mailbox, or forwarded
//	                     once to the owner (counted).
//	service paths        plain messages to a Service's handler.
//
// # Transport
//
// Two ways to serve plaintext connections (Config.Transport):
//
//   - TransportGnet (default): a gnet v2 server in multicore mode; frames
//     are parsed in place in OnTraffic and handled on the event loop.
//   - TransportNet: a net.Listener, and a reader and a writer goroutine per
//     connection on the Go runtime's network poller; frames are read by a
//     wire.FrameReader and handled on the reader goroutine.
//
// Both share everything past the framing (handleFrame, mailboxes, links'
// outbound buffers): a connection is one link type (link.go: handshake,
// outbound buffer, teardown) over an I/O backend, gnetConn (link_gnet.go)
// or stdConn (link_std.go); a gnet link's inline runs (below) keep their
// state in an inlineRun (inline.go). Which is faster depends on where the clients run
// (PERFORMANCE.md, "Node transports"): for a node in its own process gnet
// measured ahead (tells/s, asks/s, round trips), so it is the default and
// cmd/node's; with the clients in the same process (an embedded cluster,
// as loadgen's) net is far ahead, because a gnet event loop sleeps in its
// own epoll_wait outside the Go scheduler and every round trip wakes its
// thread (on a VM whose idle vCPUs halt, tens of µs per wake), while a
// connection on the Go poller is picked up by the thread already running.
// TLS is always served by TransportNet's path, over crypto/tls (gnet has
// no TLS); set Config.TLS.ClientAuth for mTLS. Connections to other nodes
// (forwarded envelopes, coordinator questions, replies to refs hosted on
// members) are dialled by this node, one per member. A client identity is
// never dialled: a message to a ref that is not a member goes over the
// inbound connection registered under that identity (the newest connection
// of an identity wins), or is dropped and counted (Stats.DroppedReplies).
//
// The handshake reply carries the node's identity and the "zerohop"
// extension (system, role "node"). A connection whose extension names
// another system is refused (logged, closed); Casty clients send no
// extension and are accepted.
//
// Every outbound connection has a bounded buffer (Config.OutboundLimit,
// 64 MiB): a client that does not read its replies is cut off when it
// passes the bound (Stats.SlowConsumersCut). The writer is woken only on
// the empty -> non-empty transition and writes everything queued at once.
//
// Bad input: a framing error or an oversized frame closes that connection
// (Stats.FramingErrors); a message that does not decode is dropped, counted
// (Stats.DecodeFailures) and logged at a bounded rate, and the connection
// goes on; a connection whose first frame is not a valid handshake is closed.
//
// # Entities and backpressure
//
// Each shard of an entity type has one bounded mailbox (Config.MailboxSize);
// a fixed pool of workers (Config.Workers) runs mailboxes, at most one
// worker per mailbox at a time, so an entity handles its messages one at a
// time in arrival order with no goroutine per entity. When a mailbox is
// full, the connection that brought the message stops being read: a gnet
// connection leaves the rest of its input in gnet's buffer and is resumed by
// c.Wake from the worker that drains the mailbox below half; the reader
// goroutine of a std connection (TransportNet, TLS, peer) blocks until
// then. gnet still reads a paused socket into its buffer; past
// Config.PausedInboundLimit the event loop itself waits for room, which
// stops reading every connection of that loop (hard backpressure, never a
// drop). Envelopes parked while their shard had no
// owner are released into the mailbox past MailboxSize if needed (up to
// MailboxSize + MaxPendingRequests): nothing can be paused for them any
// more. Messages that arrive where nothing can be paused (local Tell) are
// dropped and counted when the mailbox is full (Stats.MailboxDropped).
//
// Inline runs (TransportGnet): an envelope read on a gnet event loop whose
// shard mailbox is idle (empty, no worker on it) is run at once on the
// event loop: the loop claims the mailbox with the flag a worker uses
// (scheduled), runs the entity, and releases it (to the run queue if
// messages arrived meanwhile), so per-entity order and the mailbox bounds
// are unchanged. While OnTraffic has run an entity inline, sends to its
// link only append to pending; OnTraffic writes them at its end (and
// before it blocks for mailbox room), instead of waking its own loop with
// Execute. A busy mailbox takes the worker path as before. Lone ask round
// trip (loadgen -workers 0 -ask-concurrency 1, 5 s, 4 runs alternated,
// noisy box): p50 97-107 -> 80-89 µs; 256 asks in flight and tells within
// noise. On TransportNet every envelope goes through the workers.
//
// # Membership
//
// hashicorp/memberlist runs the gossip (Config.Gossip, default listen
// port + 1000): memberlist's name is the node's advertised address, its
// metadata carries system, entity types, services and the joining and
// leaving flags. States map to Casty's MemberStatus: alive -> joining until
// the node has merged the cluster's allocation table after starting with
// seeds (its join's push/pull), then up; leaving once a graceful Close
// began; dead -> down; left -> removed. Down and removed members stay in
// snapshots for Membership.DownRetention. A joining member is neither a
// leader nor an allocation candidate, but keeps any shard the table gives
// it and its services stay in the registry. memberlist does not expose its suspect
// state, so "unreachable" is this node's own view: an alive member without
// a successful direct probe for Membership.UnreachableAfter times the
// number of other members, times (1 + memberlist's health score); down
// members are listed as unreachable too. The health factor follows
// memberlist's Lifeguard awareness: on a CPU-starved process direct acks
// miss ProbeTimeout and memberlist stretches its probe interval by the same
// factor, while indirect probes keep the member alive; a member that died
// does not raise the prober's health score, so its detection is not delayed.
// The leader is the lowest (host, port) among up members (Casty's rule).
//
// # Allocation
//
// The allocation table (type -> shard -> owner) is versioned by an epoch:
// a leader term in the high bits, a sequence in the low 20 bits. Only the
// leader writes, once per change: first request of a shard (fewest primaries
// among reachable up members hosting the type), re-allocation of the shards
// of members that are down or leaving. A node that becomes leader first runs
// a sync round (a memberlist push/pull with every alive member, which merges
// their tables), then starts term T+1 over the highest term it merged, so
// nothing it writes can collide with an epoch its predecessor wrote, even
// one that never reached it; it announces the term's first table to every
// alive member before allocating in it. Tables replicate by a direct push to
// every alive member (memberlist SendReliable), memberlist broadcasts and
// push/pull anti-entropy, and the leader answers GetShardLocation only once
// its current table has been pushed to every alive member, so that an
// allocation a client was told about survives the leader's death. A node
// adopts a table only if its epoch is higher, or equal
// and written by a lower address (deterministic after a partition). A
// leader that adopts a table written by another node stops allocating and
// re-takes leadership.
//
// Terms are handed over between live members, so that only a failure starts
// a new term. The right to write the epoch after a table belongs to one
// incarnation (nodeMeta.Inc, random per Start): the table's writer, until it
// hands it over. A node that stops leading (another member is now the
// lowest up address, or it is leaving) hands the right for its current
// table to the leader it sees, once per epoch, to that leader's incarnation;
// the hand-over travels in its push/pull state, and a node that gets a
// hand-over while not leading passes it on the same way (members forward
// hand-overs they see in their own state so the addressee learns of it). A
// takeover continues the current term at epoch+1 when this incarnation holds
// the right (it wrote the table and did not hand it over, e.g. a re-sync
// after a stall, or the table was handed over to it); while the table's
// writer is alive, reachable and the same incarnation, it waits for the
// hand-over (the sync round repeats every 100 ms) up to
// Membership.HandoverTimeout; otherwise (writer dead, restarted, or silent)
// it starts term T+1 as above. So a cluster that forms with its lowest
// address joining last, a leader that leaves gracefully or comes back after
// a stall keep term 1 and move no shard that did not have to move, and
// still no epoch is ever written twice: each epoch's successor has exactly
// one possible writer. Stats.LeaderChanges, TermsStarted, TermsContinued and
// TermsHandedOver count these events.
//
// The leader allocates shards that waiting requests need in one epoch, never
// while it walks the waiting queue. Installing a table first releases the
// envelopes parked for shards it now routes (to the mailbox or forwarded),
// then publishes the route built from it, so a parked envelope is never
// overtaken by a later one of the same connection.
//
// Any node answers GetShardLocation from its table once it has merged the
// cluster's table (after its join's push/pull). A follower that does not
// know the shard asks the leader over its own connection, with its own
// coordinator as reply_to, and answers the client itself when the leader's
// ShardLocation (or the new table) arrives: the leader never needs a
// connection to the client. Requests that cannot be answered yet (joining
// node, no leader, no node hosting the type) wait in a bounded queue
// (Config.MaxPendingRequests) with a deadline (Config.RequestTimeout);
// envelopes for unallocated shards wait there too.
//
// # Stalls
//
// A housekeeping watchdog ticks every 50 ms; a gap above max(1 s,
// 3 x ProbeInterval) means the process was stopped (SIGSTOP, frozen VM, or
// Pause in tests). Others may have declared this node dead and moved on
// under a newer term, so the node stops answering from its table and stops
// allocating until a sync round has merged theirs; lower epochs never
// replace higher ones, so a resumed node cannot roll the cluster back.
//
// The watchdog cannot tell a stop from scheduler starvation, and need not:
// on the shared 2-core machine, with other processes saturating it, a
// loaded 3-node in-process cluster measured whole-process freezes of 1-3.3 s
// (a 10 ms sleep in a separate goroutine overshot by the same amount on
// every node at once), which are stops as far as the cluster can tell. A
// stall is cheap when nothing happened meanwhile: the sync round finds no
// newer table and the leader continues its own term (no new term, no
// shard moves). Stats.MaxTickGap and Stats.Stalls show what the watchdog
// saw. (Before terms were handed over, each such stall, and each leader
// change while a cluster formed, started a new term: the "term 3 after a 5 s
// load run" of a healthy cluster.)
//
// # Bounds
//
// Every queue has a bound and a documented behaviour when it is full:
//
//	outbound bytes of a client connection  OutboundLimit (64 MiB): the
//	                                       connection is cut off (SlowConsumersCut)
//	outbound bytes to a member             min(OutboundLimit, PeerPendingLimit):
//	                                       closed, bytes dropped (DroppedPeerBytes)
//	entity and service mailboxes           MailboxSize: the connection pauses;
//	                                       local Tell fails (MailboxDropped);
//	                                       released parked envelopes may go to
//	                                       MailboxSize+MaxPendingRequests, then
//	                                       are dropped (MailboxDropped)
//	paused gnet input                      PausedInboundLimit: the loop waits
//	waiting GetShardLocation / envelopes   MaxPendingRequests: dropped
//	                                       (RequestsRejected); each expires after
//	                                       RequestTimeout (RequestsExpired)
//	topology subscribers                   MaxSubscribers: refused (RequestsRejected)
//	frames                                 MaxFrameSize: connection closed (FramingErrors)
//	worker run queue                       one slot per mailbox (never full)
//	table broadcasts                       one (a newer table replaces the older)
//	inbound connections                    MaxConnections (4096): one more is closed
//	                                       at once (ConnectionsRefused)
//	time to complete a frame               FrameTimeout (10 s) from its first bytes,
//	                                       after the handshake: connection closed
//	                                       (FrameTimeouts)
//	unfinished frames past 64 KiB          InboundBudget (64 MiB) for the node: the
//	  (InboundAllowance) per connection    connection whose frame gets no buffer is
//	                                       closed (InboundBudgetCuts; InboundBuffered)
//	entity ids read from connections       MaxEntityIDLen (256 bytes): dead letter
//	                                       (DeadLettersByReason["entity_id_too_long"])
//	live entities                          MaxEntities (1,000,000): a message to a new
//	                                       one is a dead letter ("entity_limit"),
//	                                       warned at a bounded rate (EntitiesLive)
//
// Everything else that is dropped is counted in Stats as well: undecodable
// messages, unknown paths, unexpected types, replies with no connection,
// late ShardLocation answers, rejected gossip, snapshots not sent.
//
// # Memory against any peer
//
// What a peer can make the node hold, with the defaults (each bound has
// its test in bounds_test.go and bounds_rss_test.go):
//
//   - A connection: a std link holds a 64 KiB read buffer and two
//     goroutines; a gnet link no read buffer of its own (gnet reads into
//     its loop's buffer and keeps at most the unfinished frame's first
//     64 KiB and one read). Both: the ingest memo, allocated at the first
//     region message (a 128 KiB table and at most 256 KiB of entity ids,
//     which are memoized only up to 64 bytes): up to about 450 KiB for a
//     std link, 1.8 GiB for MaxConnections (4096) of them; lower it on a
//     small machine. Beside that, the outbound buffers: OutboundLimit
//     (replies a client does not read) and PausedInboundLimit (input of a
//     gnet connection paused by a full mailbox) are per connection, not
//     per node.
//   - Unfinished frames: the first 64 KiB of each connection's are free;
//     past that a frame is read into buffers from the node's inbound
//     budget, which grow as its bytes arrive (doubling: a declared length
//     alone takes nothing) and never pass InboundBudget in total. The
//     buffers are mapped outside the Go heap (see inboundBudget: heap
//     buffers churned faster than the collector paced itself), at most
//     InboundBudget in use and InboundBudget/4 spare, unmapped when given
//     back past that or after 2 s without use, so the memory goes back to
//     the OS at once. The connection that cannot get a buffer is closed
//     (a std reader is not made to wait for budget: the peer holding it is
//     the likely culprit). Measured (TestInboundMemoryBound): 40
//     connections each holding an unfinished 15 MiB frame took the node
//     from 15 MB to 3.69 GB of RSS, kept after they closed; now the test
//     process peaks at 89-98 MiB from 14-18 MiB, other clients lose
//     nothing, and 2 s after they closed it is back within about 10 MiB
//     of where it started (both transports, 8 runs).
//   - Slow frames: FrameTimeout (10 s) cuts a frame whose first bytes came
//     and whose rest does not: a trickle of one byte per 100 ms does not
//     keep a connection. So a peer must send a frame at its pace: a 16 MiB
//     frame at 1.6 MB/s at least. Std links use a read deadline armed when
//     a read ends inside a frame (once per frame) and cleared when none is
//     unfinished; gnet links the housekeeping sweep (every 50 ms). Time
//     this process spent stopped (SIGSTOP, a frozen VM, Pause), seen as a
//     stall by the sweep, is not counted: a node resumed after 15 s does
//     not cut the clients whose frames its stop left unfinished. Idle
//     connections are never timed out.
//   - Entities: ids of at most MaxEntityIDLen (256) bytes, at most
//     MaxEntities (1,000,000) live. Measured with the workload's counter
//     and 15-byte ids: 100 bytes of heap per live entity (its map entry,
//     id and state), so about 100 MB at the limit, and up to about 350 MB
//     with ids of the maximum length; other entity types add their own
//     state. Whoever stops or drops entities subtracts them from the live
//     count (counters.entitiesLive).
//
// # Concurrency and lifecycle
//
// A Node is safe for concurrent use. Its goroutines, all owned by the Node
// and stopped by Close and Kill (both idempotent, both wait): the gnet
// engine and its event loops (TransportGnet; waited through gnet.Run's
// return), the workers, housekeeping, the table publisher, sync rounds, the
// accept loop (TransportNet or TLS), and a reader and a writer per std
// connection (accepted over TransportNet or TLS, or dialled; a dial
// goroutine becomes the reader). memberlist's own goroutines are stopped by
// its Shutdown, which does not wait for them: a probe or stream handler in
// flight may still call the delegates for a moment after Close returns;
// the delegates only touch this node's state under its locks and start
// nothing once it is closing.
//
// Node.mu guards the cluster state (members, table, leadership, pending
// requests, subscribers, snapshot). The hot path takes no lock of the node:
// the reader of a connection loads the route (atomic.Pointer, rebuilt on
// every table change), pushes into the shard's mailbox (its own small
// mutex) and takes Node.mu only for an unallocated shard.
//
// Lock order (a lock may be taken while holding those before it):
//
//	memberlist's internal locks (delegates run under them)
//	  -> Node.mu
//	    -> peersMu -> linksMu
//	    -> clientMu
//	    -> mailbox.mu, link.mu, the broadcast queue's lock, gate.mu (leaves)
//
// memberlist is never called with Node.mu held (it calls the delegates with
// its own lock held). A link's mu is released before the link is torn down
// (teardown takes linksMu, peersMu, clientMu); a mailbox's mu is released
// before a paused connection is woken.
//
// # Limitations
//
// No quorum. A leader is the lowest up address in this node's view, so a
// network partition elects a leader on each side and each side keeps
// allocating (the minority too) under its own terms. When the partition
// heals, tables replace each other by epoch, and equal epochs by the lower
// writer address: every node converges on one table, but allocations made
// on the losing side during the partition are lost, and during the
// partition one shard may have an owner on each side (in different epochs
// or in the two tables of one epoch). Entities are in memory: state of a
// shard whose owner died or moved is gone.
//
// "Unreachable" is approximated: memberlist does not expose its suspect
// state, so it is this node's own view of direct probes (scaled by its
// health score).
//
// A leader change between live members waits up to HandoverTimeout for the
// hand-over; if the hand-over got lost (its addressee died before passing
// it on) the new leader starts a new term after that wait.
//
// Joining is reported only after a start with seeds; a node that re-syncs
// after a stall keeps reporting up while it answers nothing from its table.
//
// Close of every node of a cluster at once (nodetest.LocalCluster.Close)
// takes well under a second: memberlist's waits for our leave broadcasts are
// cut to a few gossip rounds when no other member is up to hear them.
//
// Table pushes go to every alive member one after another over memberlist's
// reliable channel: a member that is dead but not yet detected delays the
// leader's answers that wait for replication by up to Membership.TCPTimeout
// per push.
package node
