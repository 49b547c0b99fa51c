package chaos

import "time"

// Acceptance thresholds of issue 9. Every check of a scenario compares a
// measured figure with one of these; the report prints both.
const (
	// FollowerFailoverMax: a killed follower's shards are claimed by other
	// nodes within this long of the kill.
	FollowerFailoverMax = 3 * time.Second
	// LeaderFailoverMax: a killed leader's shards, likewise.
	LeaderFailoverMax = 4 * time.Second
	// HealConvergeMax: after a partition heals, every node reports one
	// leader and one epoch (one table) within this long.
	HealConvergeMax = 10 * time.Second
	// PauseRecoveryMax: after an owner is paused, tells to other nodes'
	// shards are back to PauseRecoveryFraction of the pre-fault rate within
	// this long, and stay there.
	PauseRecoveryMax = 3 * time.Second
	// NodeRateWindow and NodeRateStep: the sliding window over the nodes'
	// tallies (polled every TallyInterval) that places the end of a stall
	// within about 0.8 x NodeRateWindow.
	NodeRateWindow = 300 * time.Millisecond
	NodeRateStep   = 50 * time.Millisecond
	// ClientCutDetectMax: once the client's path to an owner is cut
	// (client-cut), its shards' tells fail fast from this long after the
	// cut at the latest: the engine's SuspectAfter (2 s), its maintenance
	// tick and a 1 s loadgen sample.
	ClientCutDetectMax = 4 * time.Second
	// ClientCutRecoveryMax: after the client's path heals, tells to the
	// cut owner's shards are back to PauseRecoveryFraction of their rate
	// before the cut within this long, and stay there.
	ClientCutRecoveryMax = 5 * time.Second
	// PauseRecoveryFraction: see PauseRecoveryMax.
	PauseRecoveryFraction = 0.80
	// HostileRSSMax: a node's RSS while 40 connections each hold a 15 MiB
	// partial frame.
	HostileRSSMax = 256 << 20
	// HostileRSSReturnSlack: after those connections close, RSS comes back
	// within this much of the baseline taken before them.
	HostileRSSReturnSlack = 64 << 20
	// HostileRSSSettle: the RSS reported after the close is taken this
	// long after it.
	HostileRSSSettle = 5 * time.Second
	// HostileRSSReturnWithin: how long RSS may take to come back.
	HostileRSSReturnWithin = 20 * time.Second
	// TrickleCloseWithin: a frame trickled at one byte per 100 ms is
	// closed by the node within this long (its frame timeout, 10 s by
	// default, plus slack).
	TrickleCloseWithin = 30 * time.Second
	// TrickleFrameBytes is the trickled frame's declared length: at one
	// byte per 100 ms it would take 410 s to finish. (A short frame
	// finishes within the frame timeout and rightly keeps its connection:
	// a trickle of 64-byte frames is not a stuck frame.)
	TrickleFrameBytes = 4096
)

// Scenario shapes (the numbers).
const (
	// PauseFor is how long pause-owner keeps its node SIGSTOPped.
	PauseFor = 15 * time.Second
	// PartitionFor is how long the partition scenario keeps its node cut off.
	PartitionFor = 10 * time.Second
	// ClientCutFor is how long client-cut keeps the client's path to its
	// node blackholed: several SuspectAfter, and past the node's
	// FrameTimeout (10 s), which a frame cut in the middle meets.
	ClientCutFor = 12 * time.Second
	// HostileConns and HostileFrameBytes: the partial giant frames.
	HostileConns      = 40
	HostileFrameBytes = 15 << 20
	// HostileAbortRSS stops feeding partial frames once the node's RSS
	// passes it (the node already broke HostileRSSMax; the box is shared).
	HostileAbortRSS = 1 << 30
	// HugeIDBytes and HugeIDs: the entity ids that must be refused: ~1 MB,
	// just under the JSON decoder's 1 MiB string limit, so that only an
	// entity id cap refuses them.
	HugeIDBytes = 1_000_000
	HugeIDs     = 20
	// FloodExtra: connections opened beyond the node's limit in the
	// connection flood (or in all, when the node has no -max-connections).
	FloodExtra = 200
	// FloodLimit is passed as -max-connections when the node supports it
	// (else its default, node.DefaultMaxConnections, is flooded).
	FloodLimit = 128
	// HostileFrameTimeout is passed as -frame-timeout when the node
	// supports it (else node.DefaultFrameTimeout applies).
	HostileFrameTimeout = 5 * time.Second
	// RogueObserve is how long the rogue node gets to join.
	RogueObserve = 8 * time.Second
	// RogueIncrements is how many Increments rogue-client sends.
	RogueIncrements = 5
	// StableWait bounds the wait for the table to cover every shard after
	// start (or a restart).
	StableWait = 20 * time.Second
	// PreFault is the load measured before a fault (the reference rate).
	PreFault = 3 * time.Second
	// PostFault is how long the load goes on after a fault (or heal) is
	// over, so recovery and convergence are observed under load.
	PostFault = 8 * time.Second
	// PauseRate is pause-owner's load: a flood for the paused node (its
	// socket buffers and the client's buffer for it fill within
	// milliseconds) at a fixed rate, not flat out. Measured: flat out, the
	// accepted rate follows the CPU the box's other tenants leave (one
	// run: 760k/s before the pause, 540-690k/s in stretches of the pause
	// and after it with no stall of the client), so an 80% threshold on it
	// judged the neighbours; at a fixed rate well under the ceiling
	// (about 1.1M/s with 3 nodes on the 2 cores) only a stalled client
	// drops below it.
	PauseRate = 200_000
	// ClientCutRate is client-cut's load (scenario_cut.go says why).
	ClientCutRate = 200_000
	// LoadRate is loadgen's default -rate (tells/s): a steady flood that
	// leaves the 2-core box room for the nodes, the watcher and the faults.
	LoadRate = 20000
	// LeaveExitWithin bounds a graceful leave (SIGTERM to exit).
	LeaveExitWithin = 30 * time.Second
)
