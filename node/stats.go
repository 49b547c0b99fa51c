package node

import (
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
)

// Stats is a point-in-time copy of a node's counters. Counters only grow
// (except the gauges ConnectionsOpen and the high-water marks, which never
// shrink either). A Stats value may be copied freely.
type Stats struct {
	ConnectionsAccepted int64 // inbound connections accepted (plaintext and TLS)
	ConnectionsOpen     int64 // inbound connections currently open
	PeerDials           int64 // connections dialled to other nodes
	PeerDialFailures    int64
	FramesIn            int64
	FramesOut           int64
	BytesIn             int64
	BytesOut            int64 // bytes queued for sending
	HandshakesRefused   int64 // bad handshake or another system's name
	BinaryConnections   int64 // inbound connections that negotiated the zhbin codec (Config.Binary)
	FramingErrors       int64 // framing errors and oversized frames (connection closed)
	DecodeFailures      int64 // messages dropped because they did not decode
	UnknownTargets      int64 // messages to a path nobody serves (dropped)
	UnexpectedMessages  int64 // decoded messages of the wrong type for their path, and non-message frames after the handshake (dropped)
	Forwarded           int64 // envelopes forwarded to the owner the table names
	ForwardedReceived   int64 // envelopes received that another node forwarded
	Redirected          int64 // envelopes queued here for a shard that moved, forwarded to the new owner
	HopLimited          int64 // envelopes dropped after maxHops forwards (dead letters)
	HeldForMove         int64 // envelopes for a shard whose owner's lease expired, held until the table moves it
	HeldForTable        int64 // envelopes forwarded from a node with a newer table, held until this node applied it
	ForwardsUnsent      int64 // forwarded envelopes still queued when their member link failed or closed, each routed again by the current table (unsent.go): delivered here, parked, forwarded, or HopLimited
	PeerFull            int64 // frames a member link refused at PeerPendingLimit (the sender paused or, without one, dropped it)
	DroppedReplies      int64 // messages to a ref with no live connection
	DroppedPeerBytes    int64 // bytes queued for a peer lost on a failed dial or a closed connection that were not envelopes (those are ForwardsUnsent), or past the bound of the forwards read back
	DroppedClientBytes  int64 // bytes queued for a client lost when its connection closed
	SlowConsumersCut    int64 // connections cut off at the outbound bound
	MailboxFull         int64 // times a full mailbox paused a connection
	MailboxDropped      int64 // messages dropped on a full mailbox where nothing could pause
	MailboxHighWater    int64 // largest mailbox depth seen
	MailboxWaits        int64 // times a shard mailbox waited for the lease or the table
	MessagesProcessed   int64 // messages handled by entities and services
	EntitiesStarted     int64
	EntitiesStopped     int64 // entities stopped because their shard moved or the node left
	EntitiesLive        int64 // gauge: entities in memory now (bounded by MaxEntities)
	EntityPanics        int64
	Subscribers         int64 // current topology subscribers
	SnapshotsPushed     int64 // snapshot frames queued to subscribers
	SnapshotEncodes     int64 // snapshot payload encodings (one per change)
	SnapshotsDropped    int64 // snapshot frames not sent: encoding failed or over MaxFrameSize
	LocationsAnswered   int64 // ShardLocation replies sent
	UnavailableAnswers  int64 // ShardUnavailable replies sent to zerohop clients (no quorum, no owner)
	Allocations         int64 // shards allocated or moved by this node as leader
	Reallocations       int64 // shards moved by this node as leader because their owner's lease expired
	RequestsExpired     int64 // GetShardLocation or parked envelopes dropped at their deadline
	RequestsRejected    int64 // dropped because the pending queue was full or the request was invalid
	GossipRejected      int64 // gossip dropped: members with a bad name, bad metadata or another system, user messages
	ClusterRefused      int64 // consensus-port connections refused (authentication failed, too many at once)
	Rejoins             int64 // periodic re-joins that reached a member (partition healing)
	Renewals            int64 // lease renewals that succeeded
	RenewFailures       int64 // lease renewals that failed (no leader, timeout)
	LeaseRegained       int64 // renewals that followed a lapse of the lease
	Stalls              int64 // stalls detected by the watchdog
	Suspends            int64 // machine suspends detected (the lease was dropped)
	AllocationEpoch     int64 // current table epoch (consensus index of its last change)
	LeaderChanges       int64 // changes of the leader in this node's view (including the first leader)
	LeaderTerms         int64 // times this node became the consensus leader (and applied its barrier)
	// MaxTickGap is the longest gap seen between two housekeeping ticks
	// (50 ms apart when the process runs freely): scheduler latency under
	// load. A gap above the stall threshold counts as a stall (Stalls).
	MaxTickGap time.Duration
	// DeadLetters counts messages the node accepted and then dropped
	// (see DeadLetter), and DeadLettersByReason the same by reason (the
	// wire.Reason* constants; "other" for anything else).
	DeadLetters         int64
	DeadLettersByReason map[string]int64
	// UndeliverableSent counts the dead letters answered with
	// wire.Undeliverable (their reply_to ref was on a zerohop peer): asks
	// that failed at once with the reason instead of timing out.
	UndeliverableSent int64
	// MaxHealthScore is the highest memberlist health score seen
	// (Lifeguard awareness: 0 is healthy; it rises when this node's own
	// probes go unanswered in time, e.g. on a CPU-starved process, and
	// stretches probing and the unreachable detector).
	MaxHealthScore int64
	// Bounds against any peer (Config.MaxConnections, FrameTimeout,
	// InboundBudget, MaxEntities; entity ids over MaxEntityIDLen are
	// dead letters, DeadLettersByReason[wire.ReasonEntityID]).
	ConnectionsRefused int64 // inbound connections closed at once: MaxConnections were open
	FrameTimeouts      int64 // connections closed: a frame not complete within FrameTimeout
	InboundBudgetCuts  int64 // connections closed: their unfinished frame could not be charged to InboundBudget
	InboundBuffered    int64 // gauge: bytes of unfinished frames charged to InboundBudget now
}

// counters are the live counters behind Stats. Hot counters written by
// several goroutines at once are xsync.Counters; the rest are atomics.
type counters struct {
	framesIn, bytesIn, processed *xsync.Counter

	accepted, open, peerDials, peerDialFailures                        atomic.Int64
	handshakesRefused, framingErrors, decodeFailures, unknownTargets   atomic.Int64
	unexpected, forwarded, forwardedRecv, droppedReplies, droppedPeerB atomic.Int64
	forwardsUnsent, heldForTable, binaryLinks                          atomic.Int64
	undeliverableSent                                                  atomic.Int64
	slowCut, mailboxFull, mailboxDropped, mailboxHigh                  atomic.Int64
	entitiesStarted, entityPanics, subscribers, snapshotsPushed        atomic.Int64
	snapshotEncodes, locationsAnswered, allocations, requestsExpired   atomic.Int64
	requestsRejected, stalls, epoch                                    atomic.Int64
	droppedClientB, snapshotsDropped, gossipRejected                   atomic.Int64
	leaderChanges, leaderTerms, redirected, hopLimited                 atomic.Int64
	mailboxWaits, entitiesStopped, entitiesLive, unavailableAnswers    atomic.Int64
	reallocations, clusterRefused, rejoins, renewals, renewFailures    atomic.Int64
	leaseRegained, suspends, peerFull, heldForMove                     atomic.Int64
	maxTickGap, maxHealth                                              atomic.Int64 // nanoseconds; score
	deadLetters                                                        [len(deadReasons) + 1]atomic.Int64
	connRefused, frameTimeouts, budgetCuts, inboundHeld                atomic.Int64
}

// outCount is what a link queued for sending (Stats.FramesOut and
// BytesOut): counted under the link's mu, which enqueue holds anyway,
// instead of two xsync.Counter adds per frame (PERFORMANCE.md, "Node hot
// path"); Node.Stats sums the links (Node.outQueued).
type outCount struct {
	frames, bytes int64
}

func (o *outCount) add(p outCount) {
	o.frames += p.frames
	o.bytes += p.bytes
}

// inCount is what one reading side (a std reader goroutine, a gnet
// OnTraffic call) has read since it last added to framesIn and bytesIn:
// it adds once before it may block or return instead of twice per frame
// (each xsync.Counter add is a sync.Pool round trip; BenchmarkIngest,
// PERFORMANCE.md "Node hot path"). Owned by that reading side.
type inCount struct {
	frames, bytes int64
}

// add counts one frame of size bytes (header included).
func (ic *inCount) add(size int) {
	ic.frames++
	ic.bytes += int64(size)
}

// flush adds what ic counted to c and zeroes it.
func (ic *inCount) flush(c *counters) {
	if ic.frames != 0 {
		c.framesIn.Add(ic.frames)
		c.bytesIn.Add(ic.bytes)
		*ic = inCount{}
	}
}

func newCounters() *counters {
	return &counters{
		framesIn:  xsync.NewCounter(),
		bytesIn:   xsync.NewCounter(),
		processed: xsync.NewCounter(),
	}
}

func (c *counters) highWater(v int64) {
	for {
		cur := c.mailboxHigh.Load()
		if v <= cur || c.mailboxHigh.CompareAndSwap(cur, v) {
			return
		}
	}
}

func (c *counters) highTickGap(d time.Duration) {
	for {
		cur := c.maxTickGap.Load()
		if int64(d) <= cur || c.maxTickGap.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

func (c *counters) highHealth(v int) {
	for {
		cur := c.maxHealth.Load()
		if int64(v) <= cur || c.maxHealth.CompareAndSwap(cur, int64(v)) {
			return
		}
	}
}

func (c *counters) snapshot() Stats {
	s := Stats{
		ConnectionsAccepted: c.accepted.Load(),
		ConnectionsOpen:     c.open.Load(),
		PeerDials:           c.peerDials.Load(),
		PeerDialFailures:    c.peerDialFailures.Load(),
		FramesIn:            c.framesIn.Value(),
		BytesIn:             c.bytesIn.Value(),
		HandshakesRefused:   c.handshakesRefused.Load(),
		BinaryConnections:   c.binaryLinks.Load(),
		FramingErrors:       c.framingErrors.Load(),
		DecodeFailures:      c.decodeFailures.Load(),
		UnknownTargets:      c.unknownTargets.Load(),
		UndeliverableSent:   c.undeliverableSent.Load(),
		UnexpectedMessages:  c.unexpected.Load(),
		Forwarded:           c.forwarded.Load(),
		ForwardedReceived:   c.forwardedRecv.Load(),
		Redirected:          c.redirected.Load(),
		HopLimited:          c.hopLimited.Load(),
		PeerFull:            c.peerFull.Load(),
		HeldForMove:         c.heldForMove.Load(),
		HeldForTable:        c.heldForTable.Load(),
		ForwardsUnsent:      c.forwardsUnsent.Load(),
		DroppedReplies:      c.droppedReplies.Load(),
		DroppedPeerBytes:    c.droppedPeerB.Load(),
		DroppedClientBytes:  c.droppedClientB.Load(),
		SlowConsumersCut:    c.slowCut.Load(),
		MailboxFull:         c.mailboxFull.Load(),
		MailboxDropped:      c.mailboxDropped.Load(),
		MailboxHighWater:    c.mailboxHigh.Load(),
		MailboxWaits:        c.mailboxWaits.Load(),
		MessagesProcessed:   c.processed.Value(),
		EntitiesStarted:     c.entitiesStarted.Load(),
		EntitiesStopped:     c.entitiesStopped.Load(),
		EntitiesLive:        c.entitiesLive.Load(),
		EntityPanics:        c.entityPanics.Load(),
		Subscribers:         c.subscribers.Load(),
		SnapshotsPushed:     c.snapshotsPushed.Load(),
		SnapshotEncodes:     c.snapshotEncodes.Load(),
		SnapshotsDropped:    c.snapshotsDropped.Load(),
		LocationsAnswered:   c.locationsAnswered.Load(),
		UnavailableAnswers:  c.unavailableAnswers.Load(),
		Allocations:         c.allocations.Load(),
		Reallocations:       c.reallocations.Load(),
		RequestsExpired:     c.requestsExpired.Load(),
		RequestsRejected:    c.requestsRejected.Load(),
		GossipRejected:      c.gossipRejected.Load(),
		ClusterRefused:      c.clusterRefused.Load(),
		Rejoins:             c.rejoins.Load(),
		Renewals:            c.renewals.Load(),
		RenewFailures:       c.renewFailures.Load(),
		LeaseRegained:       c.leaseRegained.Load(),
		Stalls:              c.stalls.Load(),
		Suspends:            c.suspends.Load(),
		AllocationEpoch:     c.epoch.Load(),
		LeaderChanges:       c.leaderChanges.Load(),
		LeaderTerms:         c.leaderTerms.Load(),
		MaxTickGap:          time.Duration(c.maxTickGap.Load()),
		MaxHealthScore:      c.maxHealth.Load(),
		DeadLettersByReason: map[string]int64{},
		ConnectionsRefused:  c.connRefused.Load(),
		FrameTimeouts:       c.frameTimeouts.Load(),
		InboundBudgetCuts:   c.budgetCuts.Load(),
		InboundBuffered:     c.inboundHeld.Load(),
	}
	for i := range c.deadLetters {
		v := c.deadLetters[i].Load()
		if v == 0 {
			continue
		}
		name := "other"
		if i < len(deadReasons) {
			name = deadReasons[i]
		}
		s.DeadLettersByReason[name] = v
		s.DeadLetters += v
	}
	return s
}
