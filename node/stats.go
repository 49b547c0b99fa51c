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
	FramingErrors       int64 // framing errors and oversized frames (connection closed)
	DecodeFailures      int64 // messages dropped because they did not decode
	UnknownTargets      int64 // messages to a path nobody serves (dropped)
	UnexpectedMessages  int64 // decoded messages of the wrong type for their path, and non-message frames after the handshake (dropped)
	Forwarded           int64 // envelopes forwarded once to the owner
	ForwardedReceived   int64 // envelopes received from a node that forwarded them
	DroppedReplies      int64 // messages to a ref with no live connection
	DroppedPeerBytes    int64 // bytes queued for a peer lost on a failed dial or a closed connection
	DroppedClientBytes  int64 // bytes queued for a client lost when its connection closed
	LateLocations       int64 // ShardLocation answers from the leader that no request waited for (dropped)
	SlowConsumersCut    int64 // connections cut off at the outbound bound
	MailboxFull         int64 // times a full mailbox paused a connection
	MailboxDropped      int64 // messages dropped on a full mailbox where nothing could pause
	MailboxHighWater    int64 // largest mailbox depth seen
	MessagesProcessed   int64 // messages handled by entities and services
	EntitiesStarted     int64
	EntityPanics        int64
	Subscribers         int64 // current topology subscribers
	SnapshotsPushed     int64 // snapshot frames queued to subscribers
	SnapshotEncodes     int64 // snapshot payload encodings (one per change)
	SnapshotsDropped    int64 // snapshot frames not sent: encoding failed or over MaxFrameSize
	LocationsAnswered   int64 // ShardLocation replies sent
	Allocations         int64 // shards allocated or re-allocated by this node as leader
	RequestsExpired     int64 // GetShardLocation or parked envelopes dropped at their deadline
	RequestsRejected    int64 // dropped because the pending queue was full or the request was invalid
	TablesMerged        int64 // allocation tables adopted from other nodes
	TablesIgnored       int64 // received tables older than ours
	GossipRejected      int64 // gossip dropped: undecodable tables or state, members with a bad name, bad metadata or another system
	Stalls              int64 // stalls detected by the watchdog
	AllocationEpoch     int64 // current table epoch
	LeaderChanges       int64 // changes of the leader in this node's view (including the first leader)
	TermsStarted        int64 // leadership terms this node started (a new term in the epoch's high bits)
	TermsContinued      int64 // takeovers that continued a term: handed over by its previous writer, or our own after a re-sync
	TermsHandedOver     int64 // epochs this node handed over to the next leader when it stopped leading
	// MaxTickGap is the longest gap seen between two housekeeping ticks
	// (50 ms apart when the process runs freely): scheduler latency under
	// load. A gap above the stall threshold counts as a stall (Stalls).
	MaxTickGap time.Duration
	// DeadLetters counts messages the node accepted and then dropped
	// (see DeadLetter), and DeadLettersByReason the same by reason (the
	// wire.Reason* constants; "other" for anything else).
	DeadLetters         int64
	DeadLettersByReason map[string]int64
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
	EntitiesLive       int64 // gauge: live entities (bounded by MaxEntities)
}

// counters are the live counters behind Stats. Hot counters written by
// several goroutines at once are xsync.Counters; the rest are atomics.
type counters struct {
	framesIn, bytesIn, framesOut, bytesOut, processed *xsync.Counter

	accepted, open, peerDials, peerDialFailures                        atomic.Int64
	handshakesRefused, framingErrors, decodeFailures, unknownTargets   atomic.Int64
	unexpected, forwarded, forwardedRecv, droppedReplies, droppedPeerB atomic.Int64
	slowCut, mailboxFull, mailboxDropped, mailboxHigh                  atomic.Int64
	entitiesStarted, entityPanics, subscribers, snapshotsPushed        atomic.Int64
	snapshotEncodes, locationsAnswered, allocations, requestsExpired   atomic.Int64
	requestsRejected, tablesMerged, tablesIgnored, stalls, epoch       atomic.Int64
	droppedClientB, lateLocations, snapshotsDropped, gossipRejected    atomic.Int64
	leaderChanges, termsStarted, termsContinued, termsHandedOver       atomic.Int64
	maxTickGap, maxHealth                                              atomic.Int64 // nanoseconds; score
	deadLetters                                                        [len(deadReasons) + 1]atomic.Int64
	connRefused, frameTimeouts, budgetCuts, inboundHeld, entitiesLive  atomic.Int64
}

func newCounters() *counters {
	return &counters{
		framesIn:  xsync.NewCounter(),
		bytesIn:   xsync.NewCounter(),
		framesOut: xsync.NewCounter(),
		bytesOut:  xsync.NewCounter(),
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
		FramesOut:           c.framesOut.Value(),
		BytesIn:             c.bytesIn.Value(),
		BytesOut:            c.bytesOut.Value(),
		HandshakesRefused:   c.handshakesRefused.Load(),
		FramingErrors:       c.framingErrors.Load(),
		DecodeFailures:      c.decodeFailures.Load(),
		UnknownTargets:      c.unknownTargets.Load(),
		UnexpectedMessages:  c.unexpected.Load(),
		Forwarded:           c.forwarded.Load(),
		ForwardedReceived:   c.forwardedRecv.Load(),
		DroppedReplies:      c.droppedReplies.Load(),
		DroppedPeerBytes:    c.droppedPeerB.Load(),
		DroppedClientBytes:  c.droppedClientB.Load(),
		LateLocations:       c.lateLocations.Load(),
		SlowConsumersCut:    c.slowCut.Load(),
		MailboxFull:         c.mailboxFull.Load(),
		MailboxDropped:      c.mailboxDropped.Load(),
		MailboxHighWater:    c.mailboxHigh.Load(),
		MessagesProcessed:   c.processed.Value(),
		EntitiesStarted:     c.entitiesStarted.Load(),
		EntityPanics:        c.entityPanics.Load(),
		Subscribers:         c.subscribers.Load(),
		SnapshotsPushed:     c.snapshotsPushed.Load(),
		SnapshotEncodes:     c.snapshotEncodes.Load(),
		SnapshotsDropped:    c.snapshotsDropped.Load(),
		LocationsAnswered:   c.locationsAnswered.Load(),
		Allocations:         c.allocations.Load(),
		RequestsExpired:     c.requestsExpired.Load(),
		RequestsRejected:    c.requestsRejected.Load(),
		TablesMerged:        c.tablesMerged.Load(),
		TablesIgnored:       c.tablesIgnored.Load(),
		GossipRejected:      c.gossipRejected.Load(),
		Stalls:              c.stalls.Load(),
		AllocationEpoch:     c.epoch.Load(),
		LeaderChanges:       c.leaderChanges.Load(),
		TermsStarted:        c.termsStarted.Load(),
		TermsContinued:      c.termsContinued.Load(),
		TermsHandedOver:     c.termsHandedOver.Load(),
		MaxTickGap:          time.Duration(c.maxTickGap.Load()),
		MaxHealthScore:      c.maxHealth.Load(),
		DeadLettersByReason: map[string]int64{},
		ConnectionsRefused:  c.connRefused.Load(),
		FrameTimeouts:       c.frameTimeouts.Load(),
		InboundBudgetCuts:   c.budgetCuts.Load(),
		InboundBuffered:     c.inboundHeld.Load(),
		EntitiesLive:        c.entitiesLive.Load(),
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
