// Package node is a zerohop cluster node: it hosts sharded entities and
// discoverable services, agrees with the other members on who owns each
// shard through a consensus log (hashicorp/raft), and serves clients
// (zerohop's engine and Casty v1's own ClusterClient) over Casty v1's wire
// protocol (shared/casty-v1/PROTOCOL.md) with the JSON codec, or with
// zerohop clients that negotiate it, the zhbin binary codec.
//
// # API
//
//	n, err := node.Start(ctx, node.Config{Listen: "127.0.0.1:25520", Seeds: ...,
//	        GossipKey: key, Registry: reg, Entities: []node.EntityType{...}, Services: []node.Service{...}})
//	err = n.Leave(ctx)        // graceful: drain, hand the shards over, forward stragglers
//	defer n.Close(ctx)        // Leave (if not done), flush, stop every goroutine, wait
//
// Config's zero value means defaults; Validate reports every problem at
// once. Entities implement Entity (Receive(ctx, msg)) and, to learn when
// their state ends, Stopper; a Context lets them Tell/Reply to a
// wire.Ref, and its Now is the clock reading the node made for the
// message's lease check (an entity needs no clock read of its own). Every message the node accepted and then dropped is a
// DeadLetter (Config.OnDeadLetter, Stats). State returns the node's view
// (wire.NodeState, also served at /_node). The in-process test cluster
// with the counter workload is package node/nodetest.
//
// The node is a set of objects, each owning its state and lock, wired by
// Node: membership (membership.go: memberlist, the re-join loop), the
// consensus (consensus.go raft and its stores, fsm.go the replicated
// table and lease registry, leader.go the leader's duties, control.go the
// members' requests to the leader, clusterport.go the authenticated port
// they share), the lease holder (lease.go), the locator (locate.go:
// location requests and envelopes waiting for an owner), the topology
// subscriptions (topology.go), the regions (region.go, mailbox.go,
// worker.go), the graceful leave (leave.go), and the connections (link.go
// over link_gnet.go or link_std.go, peers.go, budget.go).
//
// # Paths served
//
//	/_cluster/_topology  SubscribeTopology (immediate snapshot to the ref,
//	                     over the connection it came on, then a push on
//	                     every change and every TopologyPushInterval),
//	                     UnsubscribeTopology. Closing the connection also
//	                     unsubscribes.
//	/_coord-{type}       GetShardLocation -> ShardLocation (any node; see
//	                     Allocation); to a zerohop client, ShardUnavailable
//	                     when the node cannot vouch for an owner (no quorum,
//	                     no candidate).
//	/_region-{type}      ShardEnvelope -> the entity's mailbox when the table
//	                     names this node owner; else forwarded to the owner
//	                     the table names (at most maxHops = 2 times in all:
//	                     the hop count and the forwarder's epoch travel in
//	                     the sender URI, /_fwdN.EPOCH; a forward from a
//	                     newer table waits until this node applied it), or
//	                     parked while the shard has no owner.
//	/_node               GetNodeState -> NodeState (consensus role, lease,
//	                     claims, members, counters).
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
// extension (system, role "node", and its entity types with their shard
// counts and, for those not MD5, their shard hashes: "entity_hashes"; the
// cluster's registered count and hash once the table knows the type).
// The node maps an entity id to its shard with its type's hash
// (EntityType.ShardOf: MD5 by default, XXH64 when configured) and never
// trusts the shard a client routed by: an envelope for a shard it does
// not own is forwarded or parked. A connection whose extension names another system is refused
// (logged, counted): the node answers with its handshake carrying the
// reason ("refused"), reads nothing more, and closes the connection once
// that reply is written; Casty clients send no extension and are accepted.
//
// With Config.Binary set, a client whose extension offers "zhbin" with a
// binary type table equal to the node's (zhbin.Negotiated) gets a reply
// choosing "codec": "zhbin", and that link's codec (link.codec, set at the
// handshake before the link is registered, never changed) is the zhbin
// codec: it decodes the client's payloads (zhbin or JSON) and encodes the
// replies sent over that link (tell and replyTo pick the codec of the link
// the frame goes over, destLink). Every other link's codec is the JSON
// Registry: a Casty client, a client that does not offer zhbin or whose
// table differs, and every member link (this node's dials offer JSON
// only), so Casty peers see Casty JSON byte for byte; a zhbin payload on a
// JSON link is a decode failure. Stats.BinaryConnections counts the links
// that negotiated zhbin.
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
// metadata carries system, consensus address, entity types, services and
// the joining and leaving flags. States map to Casty's MemberStatus: alive
// -> joining until the node has caught up with the consensus (its first
// lease), then up; leaving once a graceful leave began; dead -> down; left
// -> removed. Down and removed members stay in snapshots for
// Membership.DownRetention. memberlist does not expose its suspect state,
// so "unreachable" is this node's own view: an alive member without a
// successful direct probe for Membership.UnreachableAfter times the number
// of other members, times (1 + memberlist's health score); down members are
// listed as unreachable too (the health factor follows memberlist's
// Lifeguard awareness, so a CPU-starved prober does not report its peers).
//
// memberlist never contacts a member it declared dead again, so the two
// sides of a healed partition would stay apart for good. Every
// Membership.RejoinInterval (2 s), while a member is down (not left) or a
// seed is not among the alive members, the node joins the seeds and those
// members' gossip addresses (rejoinLoop): the push/pull exchange tells each
// side the other is alive (a member told it is dead refutes it), and the
// consensus, which never split (below), carries on.
//
// Membership decides nothing about shards. It feeds the snapshots, tells
// the consensus leader which members to add to or remove from the raft
// configuration, and tells raft the members' consensus addresses.
//
// # Consensus and allocation
//
// Decisions go through a raft log (hashicorp/raft; consensus.go) on the
// consensus port (Config.Raft, default listen port + 2000). Its replicated
// state (fsm.go) is the allocation table (type -> shard -> owner, and the
// index at which each owner got its shard) and a registry of the nodes that
// renew ownership leases (their types and incarnation). The raft leader is
// the cluster leader that snapshots announce; it acts only after a barrier
// has applied every earlier entry (leader.go). The allocation epoch is the
// raft index of the last command that changed the table: epochs never go
// backwards, and two different tables never share one.
//
// The node with no seeds and no state bootstraps a one-voter cluster; a
// node with seeds joins the gossip, the leader adds it to the raft
// configuration as a non-voter, and promotes it to voter at its first lease
// renewal (it has caught up). A node that left gracefully is removed; one
// that died stays a voter (it may come back; removing it would not make a
// quorum easier to reach). With -data-dir (Config.DataDir) the log and
// snapshots are on disk (raft-boltdb and snapshot files), so a restarted
// node rejoins as itself with its state; in memory, a restarted node must be
// given seeds (it rejoins as a new replica; given none it would bootstrap a
// cluster of its own).
//
// A node serves its links before its membership and consensus have
// started (clients reconnect to a restarted node at once). Both are
// published through atomic pointers (Node.members, Node.cons): until then
// links and workers see no members, the empty table and no leader, and
// the consensus is published whole (raft, fsm and port built), never
// while it is being built (TestClientsWhileStarting, under -race).
//
// Every change to the table is a compare-and-set move command (from the
// owner the leader saw to the new one): a decision made on a view the log
// has since overtaken does not apply. The leader allocates a shard on its
// first GetShardLocation (any node asks it on the client's behalf, over the
// control RPC, and answers the client once its own replica has applied the
// allocation: the leader never needs a connection to the client); it picks
// the candidate (registered, hosting the type, not leaving, lease not
// expired, alive in the gossip) with the fewest shards of the type, ties to
// the lowest address. It re-allocates a node's shards only after that node's
// lease has certainly expired (below), or when the node, restarted, no
// longer hosts the type. A side without a quorum (the minority of a
// partition) has no leader: it allocates and moves nothing.
//
// Installing a table (onTable, on raft's FSM goroutine) first releases the
// envelopes parked for shards it now routes (to the mailbox or forwarded),
// then publishes the route built from it, so a parked envelope is never
// overtaken by a later one of the same connection.
//
// Any node answers GetShardLocation from its table while it holds a valid
// lease (it is in contact with a quorum). Without one, a zerohop client is
// told ShardUnavailable{no_quorum} at once and a Casty client's request
// waits (Casty's coordinator also answers nothing while it has no
// allocation); requests wait in a bounded queue (MaxPendingRequests) with a
// deadline (RequestTimeout), with the envelopes for unallocated shards.
//
// # Ownership leases
//
// A node runs an entity only while (a) the table it has applied names it
// owner of the entity's shard under the allocation the entity was created
// in, and (b) it holds an unexpired ownership lease. Both are checked
// before every message an entity receives (worker.go, serving), on the
// node's monotonic clock.
//
// A node renews its lease through the log every Consensus.LeaseDuration/5
// (lease 2 s, lease.go): t0 := now; the leader appends renew(node) and
// answers with its index once committed; the node waits until its own
// replica has applied that index; the lease then runs to t0 + LeaseDuration.
// The leader treats a node's lease as expired when LeaseDuration + grace
// (a tenth of it, at least 50 ms) has passed on the leader's clock since its
// replica applied the node's last renewal; only then does it move the
// node's shards. Applying comes after committing, committing after the
// holder's t0: the leader's start is never earlier than the holder's, so
// its "expired" comes after the holder stopped. A new leader has applied
// every renewal its predecessors acknowledged before it acts (barrier), at
// the time it applied them, which is later still; a leader that stalled
// restarts every node's clock (later is the safe side). Renewing also ties
// the lease to the table: a node holding the lease from renewal R has
// applied every move committed before R, and no move of its shards can be
// committed after R while that lease runs. So at no instant do two nodes
// run the same entity, under any partition, pause or restart. The chaos
// suite's watcher and the tests check it from NodeState's claims.
//
// Clock assumptions: each node's monotonic clock (CLOCK_MONOTONIC, Go's)
// keeps running while its process is stopped (SIGSTOP) or starved, and the
// clocks of two nodes run at rates within 5% of each other (grace /
// (2 x LeaseDuration)); no synchronised wall clocks are needed. A machine
// that is suspended stops CLOCK_MONOTONIC: the housekeeping watchdog
// compares it with CLOCK_BOOTTIME every 50 ms and drops the lease when the
// machine slept (Stats.Suspends); a hypervisor that freezes a VM without
// the guest's clocks noticing is outside these assumptions. The residual
// window: a process stopped between the check and the entity's Receive
// (nanoseconds) and for longer than the grace would run that one message
// late; only a fencing token in the entity's own storage could close it,
// and entities here are in memory.
//
// Liveness: a dead or cut-off node's shards serve again about
// LeaseDuration + grace after its last renewal (plus the move's commit and
// the new owner's first renewal): 1.8 to 2.6 s with the defaults; a dead
// leader's after the election (raft's heartbeat and election timeouts,
// 500ms each by default: a new leader 0.8 to 1.2 s after the kill), then
// half a lease for the live members to renew with it, and the same lease
// expiry counted from the old owner's last renewal: 2.0 to 2.3 s measured
// (chaos leader-kill, leader-kill-5). A node that is merely slow (a stall longer
// than its lease) loses its shards like a dead one: its entities restart
// elsewhere. A lease lapse that the table did not follow (an election
// slower than the lease) blocks the node's mailboxes until it renews:
// messages wait (connections pause), nothing is dropped.
//
// # After a pause or partition
//
// A node that resumes (SIGSTOP, a frozen VM, Pause) or whose partition
// heals checks before it runs anything it queued: its lease has expired, so
// its mailboxes wait until it has renewed, which applies the current table
// first. Then a shard that moved is handled by the mailbox's runner: its
// entities are stopped (Stopper.Stop with StopMoved; their state is gone),
// and every envelope it queued is forwarded once more to the current owner
// (Stats.Redirected), or dropped as a dead letter (counted by reason, an
// Undeliverable answer to a waiting zerohop ask) when it has used its hops
// or no connection leads to the owner. Never applied to a stale entity.
// Forwards to a member whose connection is full pause what they came from
// (the reading connection, or the mailbox) until it has room
// (Stats.PeerFull): backpressure, not a drop.
//
// # Graceful leave
//
// Leave (Close calls it; cmd/node on SIGTERM): the node announces it is
// leaving (gossip, and a leave command: no new shard is given to it); every
// shard mailbox runs the messages it held when the leave began, then stops
// its entities (StopLeaving) and serves nothing more; the node asks the
// leader to move all its shards (one command) and waits until its replica
// applied it; then everything queued meanwhile, and whatever still arrives,
// is forwarded to the new owners; it leaves the consensus (handing the
// leadership over first when it leads) and the gossip, and keeps
// forwarding until no envelope came for 300 ms and nothing is queued, at
// most Config.DrainWindow. A tell that reached the node before or during
// its leave is run there or forwarded: none is lost (entity state restarts
// on the new owner). HandedOver reports the hand-over (the workload's tally
// is then final). Without a quorum the hand-over is skipped: the shards
// move once the lease has expired, as after a crash.
//
// # Authentication
//
// A process becomes a member only with the cluster's credentials:
// Config.GossipKey (-gossip-key, ZEROHOP_GOSSIP_KEY) is memberlist's
// keyring (encrypted, authenticated gossip; GossipKeys for a rotation), and
// the consensus port requires an HMAC-SHA256 challenge-response with a key
// derived from it on every connection, in both directions (clusterport.go),
// and mutual TLS with the node's certificate when the node runs TLS. TLS
// without a gossip key is refused (a client certificate alone would make a
// member). So a rogue process without the key cannot join the gossip, reach
// raft, renew a lease or be given a shard; nothing on the client port
// confers anything: role "node" in a handshake changes nothing, and an
// envelope that reaches a non-owner is forwarded, whoever sent it. Without
// a key (the default, for tests and the embedded cluster) members are not
// authenticated, and Start logs a warning.
//
// # Stalls
//
// A housekeeping watchdog ticks every 50 ms; a gap above max(1 s,
// 3 x ProbeInterval) is counted as a stall (Stats.Stalls, MaxTickGap): the
// process was stopped or starved. Nothing else is needed for safety (the
// lease is checked per message), but the node resets its view of its peers'
// probes (their silence was its own), and a leader restarts its peers'
// lease clocks rather than take their shards for its own stall. On the
// shared 2-core machine, with other processes saturating it, whole-process
// freezes of 1-3.3 s were measured; a freeze longer than the lease makes
// the frozen node's shards move.
//
// # Bounds
//
// Every queue has a bound and a documented behaviour when it is full:
//
//	outbound bytes of a client connection  OutboundLimit (64 MiB): the
//	                                       connection is cut off (SlowConsumersCut)
//	outbound bytes to a member             min(OutboundLimit, PeerPendingLimit):
//	                                       forwards pause their source until it
//	                                       drains (PeerFull); other frames are
//	                                       dropped and counted (DroppedReplies);
//	                                       bytes queued when the member dies are
//	                                       counted (DroppedPeerBytes)
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
//	forwards of one envelope               maxHops (2): then a dead letter (HopLimited)
//	consensus-port hellos in progress      64: more are closed at once (ClusterRefused)
//	released claims kept for NodeState     256 (the oldest go)
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
// rejected gossip, refused consensus connections, snapshots not sent, and
// every message accepted then dropped is a dead letter (DeadLetters, by
// reason). Two dead letters come from a client's misconfiguration: an
// envelope whose message type the owner does not know (it decodes as
// castyjson.Unknown: "unknown_message_type", never handed to the entity)
// and one sent to the region of a type this node does not host
// ("unknown_entity_type", counted in UnknownTargets too). Like every dead
// letter with a reply_to on a zerohop peer, they answer the waiting ask
// with wire.Undeliverable naming the reason (UndeliverableSent).
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
//     small machine. A zhbin connection that announced heads
//     (Config.BinaryHeads) also keeps a table of at most wire.MaxHeads (64)
//     entries, allocated at its first definition, with a copy of the
//     header (at most wire.MaxHeadLen, 512 bytes) only for a target that is
//     not a hosted region, and a scratch buffer for the frames through
//     those (kept up to 64 KiB): at most about 100 KiB more a connection.
//     Beside that, the outbound buffers: OutboundLimit
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
// # Invariants
//
// Each is checked by the tests named (TESTING.md maps them to the
// mutations that must fail them):
//
//   - No entity runs on a node that is not its shard's owner in the table it
//     applied, or without an unexpired lease (worker.go modeOf/serving;
//     TestNonOwnerNeverRunsAnEntity, TestPausedOwnerRunsNothingStale).
//   - At no instant do two nodes serve one shard (the leader moves a shard
//     only after its owner's lease certainly expired; TestLeaseExpiryJudgement,
//     TestKilledOwnersShardsMoveOnlyAfterTheirLease's claim watcher).
//   - No allocation without a quorum: only the raft leader proposes, and a
//     move applies only if its precondition still holds
//     (TestFSMMovesAreCompareAndSet, TestMinorityAllocatesNothing).
//   - An entity type has one shard count and one shard hash in the cluster:
//     the first registration's (fsm.go); a node configured with another
//     count or hash for the type hosts nothing of it (no shard is moved to
//     it; it forwards what reaches it) and announces the cluster's to its
//     clients (TestFSMRefusesIneligibleOwners,
//     TestFSMHashDisagreementHostsNothing, TestHashDisagreementHostsNothing).
//   - Epochs never go backwards and name one table each
//     (TestFSMMovesAreCompareAndSet, checkUniqueOwners in the failover
//     tests, FuzzFSMApply).
//   - A queued envelope of a shard that moved is forwarded (hop-limited) or
//     a counted dead letter, never applied to a stale entity
//     (TestPausedOwnerRunsNothingStale, TestNonOwnerNeverRunsAnEntity); a
//     forward from a node with a newer table waits until this node has
//     applied it rather than bounce back (TestForwardFromANewerTableWaits);
//     no mailbox forwards or parks, and no forward received goes on, by a
//     route older than the table its replica applied (onTable releases
//     what waited for that table before it publishes the route), and a
//     forward carries the applied table's epoch
//     (TestNoForwardByARouteBehindTheTable).
//   - A graceful leave loses no tell that reached the node
//     (TestGracefulLeaveLosesNothing).
//   - Only key holders are members (TestRogueNodeCannotJoin,
//     TestConsensusPortHello).
//   - A healed partition re-merges into one membership, one leader, one
//     table (TestPartitionHeals).
//   - Every queue is bounded and every drop counted (the Bounds table;
//     bounds_test.go, TestFullMailboxPausesTheConnection): a forward still
//     queued when its member link fails is routed again by the current
//     table: delivered here if this node owns the shard now, whatever its
//     hops (TestUnsentForwardsAreRoutedAgain), forwarded at the cost of a
//     hop, and, to be forwarded with no hop left, a dead letter of its
//     shard, not anonymous bytes (unsent.go, TestUnsentForwardsAreDeadLetters).
//   - Closing a connection removes its topology subscriber; a change is
//     pushed at once, and the snapshot also every TopologyPushInterval
//     (TestTopologyPushOnChangeAndPeriodic).
//
// # Concurrency and lifecycle
//
// A Node is safe for concurrent use. Its goroutines, all owned by the Node
// and stopped by Close and Kill (both idempotent, both wait): the gnet
// engine and its event loops (TransportGnet; waited through gnet.Run's
// return), the workers, housekeeping, the lease renewal loop, the
// allocator (locate.go), the re-join loop, the leadership watcher and, while
// leading, the leader loop, the consensus port's accept loop and one
// goroutine per control connection, the accept loop (TransportNet or TLS),
// and a reader and a writer per std connection. raft's goroutines are
// stopped by its Shutdown, which the node waits for (after closing the
// consensus connections, so that none waits on a silent peer).
// memberlist's own goroutines are stopped by its Shutdown, which does not
// wait for them: a probe or stream handler in flight may still call the
// delegates for a moment after Close returns; the delegates only touch the
// membership's state under its lock.
//
// There is no node-wide lock. The hot path takes none of the node's: the
// reader of a connection loads the route (atomic.Pointer, rebuilt on every
// table change), pushes into the shard's mailbox (its own small mutex);
// the runner checks the route and the lease (atomics) per message. The
// objects' locks (membership.mu, fsm.mu, locator.mu, subscriptions.mu,
// blockedSet.mu) guard their own state.
//
// Lock order (a lock may be taken while holding those before it):
//
//	memberlist's internal locks (delegates run under them) -> membership.mu
//	raft's FSM goroutine -> fsm.mu (released before onTable)
//	subscriptions.mu -> membership.mu (building a snapshot)
//	locator.mu -> peersMu -> linksMu -> link.mu (Stats sums the links' out counts; teardown moves them)
//	locator.mu -> mailbox.mu, link.mu
//	blockedSet.mu -> mailbox.mu
//	clientMu, mailbox.mu, link.mu, gate.mu (leaves)
//
// memberlist and raft are never called with an object's lock held. A
// link's mu is released before the link is torn down (teardown takes
// linksMu, peersMu, clientMu) and before waiters are woken; a mailbox's mu
// is released before a paused connection is woken.
//
// # Limitations
//
// Entities are in memory: the state of a shard whose owner died, was
// paused past its lease, or handed it over is gone (Stopper tells an
// entity when that happens on a live node; loadgen counts it as
// state_lost). Per-entity order holds on one owner; across a move, an
// envelope forwarded by the old owner may arrive after one a client sent
// straight to the new owner.
//
// A node restarted without its data directory and without seeds
// bootstraps a cluster of its own; give a restarted node seeds or its
// -data-dir.
//
// Members that died are never removed from the raft configuration
// automatically: a 3-node cluster that lost two members for good has no
// quorum until they come back (remove them with a graceful leave of a
// replacement, or restart them).
//
// "Unreachable" is approximated: memberlist does not expose its suspect
// state, so it is this node's own view of direct probes (scaled by its
// health score).
//
// Bytes queued to a member when it dies are lost with it (counted,
// DroppedPeerBytes), as are the tells in a crashed node's memory.
package node
