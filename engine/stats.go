package engine

import (
	"sync/atomic"

	"github.com/puzpuzpuz/xsync/v4"
)

// Drop reasons (Stats.Drops keys and BufferFullError.Reason). Every message
// the client accepted or refused and did not deliver is counted under one.
const (
	// DropQueueFull: a node connection's outbound queue was full (Tell
	// returned *BufferFullError).
	DropQueueFull = "queue_full"
	// DropShardBuffer: the per-shard buffer of a shard whose location is
	// unknown was full (Tell returned *BufferFullError).
	DropShardBuffer = "shard_buffer_full"
	// DropTotalBuffer: the client-wide bound on those buffers was reached
	// (Tell returned *BufferFullError).
	DropTotalBuffer = "total_buffer_full"
	// DropExpired: a buffered message's location stayed unknown for
	// Config.BufferTimeout.
	DropExpired = "expired"
	// DropOwnerUnavailable: the owner had no live connection, or a
	// suspect one (Tell returned *OwnerUnavailableError, or a buffered
	// message's owner was down or suspect when its location arrived).
	DropOwnerUnavailable = "owner_unavailable"
	// DropUnavailable: the shard's location query was answered with
	// ShardUnavailable (no quorum, no owner): the messages held for it
	// failed, and new ones failed fast for a while (*ShardUnavailableError).
	DropUnavailable = "shard_unavailable"
	// DropConnLost: frames queued or being written when a connection
	// failed.
	DropConnLost = "conn_lost"
	// DropClosed: frames or buffered messages still held when the client
	// closed (Shutdown's drain was cut by its context, or Tell raced it).
	DropClosed = "closed"
	// DropEncode: the message could not be encoded (unregistered type,
	// frame too large); Tell returned the error.
	DropEncode = "encode"
)

// Drop describes messages the client accepted and then dropped, as told
// to Config.OnDrop. A plain value: it may be copied and kept.
//
// For a message held for a shard whose location was unknown, the client
// knows it exactly: Type, Shard and EntityID are set and Count is 1. For
// frames discarded from a connection's outbound queue (DropConnLost, and
// DropClosed of queued frames), it does not: a queue holds encoded frames
// of every kind (tells, asks, service messages, control messages such as
// SubscribeTopology), so Type and EntityID are "", Shard is -1, and Count
// is the number of frames dropped at once.
type Drop struct {
	Reason   string // a Drop* constant: the Stats().Drops key it is counted under
	Type     string // entity type; "" for queued frames
	Shard    int    // the shard of Type; -1 for queued frames
	EntityID string // "" for queued frames
	Count    int    // messages (1 for a held message) or frames dropped
}

var dropReasons = [...]string{DropQueueFull, DropShardBuffer, DropTotalBuffer, DropExpired,
	DropOwnerUnavailable, DropUnavailable, DropConnLost, DropClosed, DropEncode}

// Stats is a point-in-time copy of the client's counters. Counters are
// cumulative since Dial; Buffered, Queued and Epoch are current values.
type Stats struct {
	TellsQueued   uint64 // messages accepted for sending, queued or buffered (Tell, TellContext, service Tell, and each Ask's message)
	FramesWritten uint64 // frames written to connections
	BytesWritten  uint64
	Writes        uint64 // write calls (FramesWritten/Writes is the batching factor)
	Buffered      int64  // messages held now, waiting for a shard location
	Queued        int64  // frames in connection queues now

	Drops map[string]uint64 // by Drop* reason; every reason present

	AsksOK       uint64
	AsksTimedOut uint64
	AsksFailed   uint64 // failed with an error other than a timeout
	LateReplies  uint64 // replies to asks already finished (late or duplicate)
	// Undeliverable counts asks failed by a zerohop.Undeliverable reply
	// (*UndeliverableError; also in AsksFailed).
	Undeliverable uint64

	Connects        uint64 // successful connection openings (incl. reconnects)
	Reconnects      uint64
	ConnectFailures uint64
	Suspects        uint64 // connections marked suspect (up, but nothing received for SuspectAfter)
	SuspectsCleared uint64 // suspect connections that received again (back up)

	SnapshotsReceived  uint64 // from every subscription (every member: most are liveness signals only)
	SnapshotsApplied   uint64 // from the primary subscription or the leader, not fenced (SnapshotsUnchanged of them equal to the previous one)
	SnapshotsUnchanged uint64 // applied but equal to the current one: nothing rebuilt
	SnapshotsFenced    uint64 // ignored: epoch below the highest seen
	EpochResets        uint64 // the highest epoch was abandoned after a long fence (cluster restart)
	Resubscribes       uint64 // subscriptions moved to another contact (silence or failure)

	LocationQueries  uint64 // GetShardLocation sent
	LocationTimeouts uint64
	LocationsApplied uint64
	LocationsFenced  uint64
	// UnavailableAnswers counts ShardUnavailable answers to location
	// queries (the messages they failed are in Drops[DropUnavailable]).
	UnavailableAnswers uint64

	WatchCoalesced uint64 // listings replaced in a slow watcher's buffer
	DecodeErrors   uint64 // inbound payloads that did not decode
	UnknownTargets uint64 // inbound messages to a path the client does not serve

	Epoch int64 // highest allocation epoch applied; -1 before the first snapshot
}

// counters are the live counters; every field is safe for concurrent use.
// Per-message counters on the Tell path are striped (xsync.Counter) so
// parallel producers do not contend on one cache line.
type counters struct {
	tells         *xsync.Counter
	framesWritten atomic.Uint64
	bytesWritten  atomic.Uint64
	writes        atomic.Uint64
	buffered      atomic.Int64
	drops         [len(dropReasons)]atomic.Uint64

	asksOK, asksTimedOut, asksFailed, lateReplies, undeliverable atomic.Uint64

	connects, reconnects, connectFailures, suspects, suspectsCleared atomic.Uint64

	snapshotsReceived, snapshotsApplied, snapshotsUnchanged, snapshotsFenced, epochResets, resubscribes atomic.Uint64

	locationQueries, locationTimeouts, locationsApplied, locationsFenced, unavailableAnswers atomic.Uint64

	watchCoalesced, decodeErrors, unknownTargets atomic.Uint64
}

// dropped reports d to Config.OnDrop, if set. Off the Tell hot path.
func (c *Client) dropped(d Drop) {
	if f := c.cfg.OnDrop; f != nil {
		f(d)
	}
}

// droppedFrames reports n frames discarded from a connection's queue.
func (c *Client) droppedFrames(reason string, n int) {
	c.dropped(Drop{Reason: reason, Shard: -1, Count: n})
}

func (s *counters) drop(reason string, n int) {
	for i, r := range dropReasons {
		if r == reason {
			s.drops[i].Add(uint64(n))
			return
		}
	}
	panic("engine: unknown drop reason " + reason)
}

// Stats returns a copy of the client's counters. Safe for concurrent use.
func (c *Client) Stats() Stats {
	s := &c.stats
	st := Stats{
		TellsQueued:        uint64(s.tells.Value()),
		FramesWritten:      s.framesWritten.Load(),
		BytesWritten:       s.bytesWritten.Load(),
		Writes:             s.writes.Load(),
		Buffered:           s.buffered.Load(),
		Drops:              make(map[string]uint64, len(dropReasons)),
		AsksOK:             s.asksOK.Load(),
		AsksTimedOut:       s.asksTimedOut.Load(),
		AsksFailed:         s.asksFailed.Load(),
		LateReplies:        s.lateReplies.Load(),
		Undeliverable:      s.undeliverable.Load(),
		Connects:           s.connects.Load(),
		Reconnects:         s.reconnects.Load(),
		ConnectFailures:    s.connectFailures.Load(),
		Suspects:           s.suspects.Load(),
		SuspectsCleared:    s.suspectsCleared.Load(),
		SnapshotsReceived:  s.snapshotsReceived.Load(),
		SnapshotsApplied:   s.snapshotsApplied.Load(),
		SnapshotsUnchanged: s.snapshotsUnchanged.Load(),
		SnapshotsFenced:    s.snapshotsFenced.Load(),
		EpochResets:        s.epochResets.Load(),
		Resubscribes:       s.resubscribes.Load(),
		LocationQueries:    s.locationQueries.Load(),
		LocationTimeouts:   s.locationTimeouts.Load(),
		LocationsApplied:   s.locationsApplied.Load(),
		LocationsFenced:    s.locationsFenced.Load(),
		UnavailableAnswers: s.unavailableAnswers.Load(),
		WatchCoalesced:     s.watchCoalesced.Load(),
		DecodeErrors:       s.decodeErrors.Load(),
		UnknownTargets:     s.unknownTargets.Load(),
		Epoch:              c.appliedEpoch(),
	}
	for i, r := range dropReasons {
		st.Drops[r] = s.drops[i].Load()
	}
	c.mu.Lock()
	for _, nc := range c.connList { // conns also holds aliases
		st.Queued += int64(nc.q.len())
	}
	c.mu.Unlock()
	return st
}
