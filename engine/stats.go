package engine

import (
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
)

// DropReason says why messages were refused or dropped: the key of
// Stats.Drops, and Drop.Reason and BufferFullError.Reason. Every message
// the client accepted or refused and did not deliver is counted under
// one. A DropReason is a small integer that indexes the client's drop
// counters directly; String (and MarshalText, so that JSON map keys read
// the same) gives its stable name, e.g. "queue_full". The zero value is
// no reason: it is never counted.
type DropReason uint8

// Drop reasons. Their names (String) are stable: exported metrics and
// logs use them.
const (
	// DropQueueFull ("queue_full"): a node connection's outbound queue
	// was full (Tell returned *BufferFullError).
	DropQueueFull DropReason = iota + 1
	// DropShardBuffer ("shard_buffer_full"): the per-shard buffer of a
	// shard whose location is unknown was full (Tell returned
	// *BufferFullError).
	DropShardBuffer
	// DropTotalBuffer ("total_buffer_full"): the client-wide bound on
	// those buffers was reached (Tell returned *BufferFullError).
	DropTotalBuffer
	// DropExpired ("expired"): a buffered message's location stayed
	// unknown for Config.BufferTimeout.
	DropExpired
	// DropOwnerUnavailable ("owner_unavailable"): the owner had no live
	// connection, or a suspect one (Tell returned *OwnerUnavailableError,
	// or a buffered message's owner was down or suspect when its location
	// arrived).
	DropOwnerUnavailable
	// DropUnavailable ("shard_unavailable"): the shard's location query
	// was answered with ShardUnavailable (no quorum, no owner): the
	// messages held for it failed, and new ones failed fast for a while
	// (*ShardUnavailableError).
	DropUnavailable
	// DropConnLost ("conn_lost"): frames queued or being written when a
	// connection failed.
	DropConnLost
	// DropClosed ("closed"): frames or buffered messages still held when
	// the client closed (Shutdown's drain was cut by its context, or Tell
	// raced it).
	DropClosed
	// DropEncode ("encode"): the message could not be encoded
	// (unregistered type, frame too large); Tell returned the error.
	DropEncode
	// DropMisconfigured ("misconfigured"): the message's entity type is
	// misconfigured (the cluster has another shard count, or does not
	// know the type): Tell returned *ShardsMismatchError or
	// *UnknownEntityTypeError.
	DropMisconfigured
	// DropQueueSojourn ("queue_sojourn"): a tell was refused because the
	// oldest frame in its node connection's outbound queue had waited
	// longer than Config.QueueTarget (Tell returned *BufferFullError; a
	// TellContext waits instead, and counts it only when its ctx ends).
	DropQueueSojourn

	dropReasonEnd // one past the last reason: the size of the counter array
)

// dropReasonNames are the reasons' names, indexed by reason.
var dropReasonNames = [dropReasonEnd]string{
	DropQueueFull:        "queue_full",
	DropShardBuffer:      "shard_buffer_full",
	DropTotalBuffer:      "total_buffer_full",
	DropExpired:          "expired",
	DropOwnerUnavailable: "owner_unavailable",
	DropUnavailable:      "shard_unavailable",
	DropConnLost:         "conn_lost",
	DropClosed:           "closed",
	DropEncode:           "encode",
	DropMisconfigured:    "misconfigured",
	DropQueueSojourn:     "queue_sojourn",
}

// valid reports whether r is one of the Drop* constants.
func (r DropReason) valid() bool { return r > 0 && r < dropReasonEnd }

// String returns the reason's stable name ("queue_full", ...), or
// "DropReason(N)" for a value that is none of the constants.
func (r DropReason) String() string {
	if !r.valid() {
		return "DropReason(" + strconv.Itoa(int(r)) + ")"
	}
	return dropReasonNames[r]
}

// MarshalText returns the reason's name; it fails for a value that is
// none of the constants. Stats.Drops encodes as a JSON object keyed by
// the names.
func (r DropReason) MarshalText() ([]byte, error) {
	if !r.valid() {
		return nil, fmt.Errorf("engine: unknown drop reason %d", uint8(r))
	}
	return []byte(dropReasonNames[r]), nil
}

// UnmarshalText sets r to the reason named text (as String returns it).
func (r *DropReason) UnmarshalText(text []byte) error {
	for i := DropReason(1); i < dropReasonEnd; i++ {
		if dropReasonNames[i] == string(text) {
			*r = i
			return nil
		}
	}
	return fmt.Errorf("engine: unknown drop reason %q", text)
}

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
	Reason   DropReason // the Stats().Drops key it is counted under
	Type     string     // entity type; "" for queued frames
	Shard    int        // the shard of Type; -1 for queued frames
	EntityID string     // "" for queued frames
	Count    int        // messages (1 for a held message) or frames dropped
}

// Stats is a point-in-time copy of the client's counters. Counters are
// cumulative since Dial; Buffered, Queued and Epoch are current values.
type Stats struct {
	TellsQueued   uint64 // messages accepted for sending, queued or buffered (Tell, TellContext, service Tell, and each Ask's message)
	FramesWritten uint64 // frames written to connections
	BytesWritten  uint64
	Writes        uint64 // write calls (FramesWritten/Writes is the batching factor)
	Buffered      int64  // messages held now, waiting for a shard location
	Queued        int64  // frames in connection queues now

	Drops map[DropReason]uint64 // by reason; every reason present

	AsksOK       uint64
	AsksTimedOut uint64
	AsksFailed   uint64 // failed with an error other than a timeout
	LateReplies  uint64 // replies to asks already finished (late or duplicate)
	// Undeliverable counts asks failed by a zerohop.Undeliverable reply
	// (*UndeliverableError; also in AsksFailed).
	Undeliverable uint64

	Connects        uint64 // successful connection openings (incl. reconnects)
	BinaryConnects  uint64 // of Connects, those whose handshake negotiated zhbin (Config.Binary)
	HeadConnects    uint64 // of BinaryConnects, those whose node announced heads (zhbin's compact heads)
	Reconnects      uint64
	ConnectFailures uint64 // attempts that failed: dial, handshake, or the transport's Attach
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
	// ConnEventsDropped counts connection state events not told to
	// Config.OnConnState because its buffer was full (a slow callback).
	ConnEventsDropped uint64

	Epoch int64 // highest allocation epoch applied; -1 before the first snapshot
}

// counters are the live counters; every field is safe for concurrent use.
// The per-message counter on the Tell path is striped by shard
// (stripedCounter) so parallel producers do not contend on one cache line.
type counters struct {
	tells    stripedCounter // TellsQueued
	buffered atomic.Int64
	drops    [dropReasonEnd]atomic.Uint64 // indexed by DropReason

	asksOK, asksTimedOut, asksFailed, lateReplies, undeliverable atomic.Uint64

	connects, reconnects, connectFailures, suspects, suspectsCleared, binaryConnects, headConnects atomic.Uint64

	snapshotsReceived, snapshotsApplied, snapshotsUnchanged, snapshotsFenced, epochResets, resubscribes atomic.Uint64

	locationQueries, locationTimeouts, locationsApplied, locationsFenced, unavailableAnswers atomic.Uint64

	watchCoalesced, decodeErrors, unknownTargets, connEventsDropped atomic.Uint64
}

// dropped reports d to Config.OnDrop, if set. Off the Tell hot path.
func (c *Client) dropped(d Drop) {
	if f := c.cfg.OnDrop; f != nil {
		f(d)
	}
}

// droppedFrames reports n frames discarded from a connection's queue.
func (c *Client) droppedFrames(reason DropReason, n int) {
	c.dropped(Drop{Reason: reason, Shard: -1, Count: n})
}

// drop counts n messages or frames dropped for reason. reason is one of
// the Drop* constants (every caller passes one, or a reason returned by
// enqueue): it indexes the counters directly, no search.
func (s *counters) drop(reason DropReason, n int) {
	s.drops[reason].Add(uint64(n))
}

// Stats returns a copy of the client's counters. Safe for concurrent use.
func (c *Client) Stats() Stats {
	s := &c.stats
	st := Stats{
		TellsQueued:        s.tells.value(),
		Buffered:           s.buffered.Load(),
		Drops:              make(map[DropReason]uint64, dropReasonEnd-1),
		AsksOK:             s.asksOK.Load(),
		AsksTimedOut:       s.asksTimedOut.Load(),
		AsksFailed:         s.asksFailed.Load(),
		LateReplies:        s.lateReplies.Load(),
		Undeliverable:      s.undeliverable.Load(),
		Connects:           s.connects.Load(),
		BinaryConnects:     s.binaryConnects.Load(),
		HeadConnects:       s.headConnects.Load(),
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
		ConnEventsDropped:  s.connEventsDropped.Load(),
		Epoch:              c.appliedEpoch(),
	}
	for r := DropReason(1); r < dropReasonEnd; r++ {
		st.Drops[r] = s.drops[r].Load()
	}
	c.mu.Lock()
	w := c.retired
	for _, nc := range c.connList { // conns also holds aliases
		st.Queued += int64(nc.q.len())
		w.add(nc)
	}
	for _, nc := range c.leaving {
		w.add(nc)
	}
	c.mu.Unlock()
	st.FramesWritten, st.BytesWritten, st.Writes = w.frames, w.bytes, w.writes
	return st
}

// writtenTotals are sums of connections' written counters: the client's
// FramesWritten, BytesWritten and Writes are counted once, per node (by
// each writer, per batch), and summed when read: over the connections,
// the collected ones still finishing (Client.leaving) and those finished
// (Client.retired), so the sums never go back.
type writtenTotals struct{ frames, bytes, writes uint64 }

func (w *writtenTotals) add(nc *nodeConn) {
	w.frames += nc.stats.framesWritten.Load()
	w.bytes += nc.stats.bytesWritten.Load()
	w.writes += nc.stats.writes.Load()
}

// retire moves a collected connection's written counters, final once its
// run returned (no writer left; called then, without locks held), from Client.leaving to
// Client.retired. A connection not collected stays in Client.connList.
func (nc *nodeConn) retire() {
	c := nc.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !nc.collected {
		return
	}
	nc.collected = false
	c.leaving = slices.DeleteFunc(c.leaving, func(x *nodeConn) bool { return x == nc })
	c.retired.add(nc)
}

// tellStripes is the number of stripes of a stripedCounter (a power of
// two, a few per core of the boxes measured).
const tellStripes = 8

// stripedCounter counts messages on stripes picked by a key of the
// message (its shard), each counter 64 bytes from the next and so on a
// cache line of its own: producers of different shards do not contend,
// and an add is one atomic add. It replaced an xsync.Counter, whose Add
// (a sync.Pool Get and Put around a compare-and-swap) was about 5% of the
// embedded tell flood's CPU (PERFORMANCE.md, "Client per-frame work").
// The zero value is ready; safe for concurrent use; not copyable.
type stripedCounter struct {
	_       cacheLinePad // off the line of whatever precedes it
	stripes [tellStripes]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

// inc counts one message of key (any int: a shard; 0 when there is none).
func (s *stripedCounter) inc(key int) {
	s.stripes[uint(key)%tellStripes].n.Add(1)
}

// value returns the sum of the stripes.
func (s *stripedCounter) value() uint64 {
	var v uint64
	for i := range s.stripes {
		v += s.stripes[i].n.Load()
	}
	return v
}
