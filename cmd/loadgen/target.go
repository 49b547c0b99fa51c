package main

import "context"

// target is what a load run drives: a cluster client bound to one entity
// type of the counter workload (WORKLOAD.md). The engine-backed target is in
// client.go; tests drive the runner with an in-memory one.
//
// Implementations are safe for concurrent use by every worker and asker.
type target interface {
	// Tell sends Increment{Amount: 1} to entity id without waiting for the
	// network. When the client's queue toward the owner is full it waits for
	// room until ctx ends (then it returns ctx's error). An error means the
	// tell was not accepted.
	Tell(ctx context.Context, id string) error
	// Backpressure reports whether a Tell error only means "a bounded
	// buffer is full, try again later" (see the policy in runner.tellOne).
	Backpressure(err error) bool
	// GetCount asks entity id for its counter. When ctx has no deadline
	// the ask is bounded by -ask-timeout (engine.Config.AskTimeout).
	GetCount(ctx context.Context, id string) (int64, error)
	// Buffered is the number of messages the client accepted and has not
	// written to a socket yet.
	Buffered() int64
	// Flush waits until every accepted message is written, or ctx ends.
	Flush(ctx context.Context) error
	// ResetStats sends ResetStats to every node-stats service instance and
	// returns how many it reached.
	ResetStats(ctx context.Context) (int, error)
	// NodeStats asks every node-stats service instance for its tally.
	NodeStats(ctx context.Context) ([]nodeTally, error)
	// The per-shard tallies of the loss accounting (tally.go).
	tallySource
	// ClientDrops is what the client accepted and dropped later, so far
	// (engine.Config.OnDrop): a loss the client counted, not the nodes.
	ClientDrops() clientDrops
	// ClientStats is the client's own counters, for the report.
	ClientStats() map[string]int64
	// Transport names the client transport in use ("gnet", "net", "net+tls").
	Transport() string
	// Close shuts the client down, flushing within ctx.
	Close(ctx context.Context) error
}

// nodeTally is the part of a node-stats reply (workload.NodeStats) that the
// report uses.
type nodeTally struct {
	Increments int64
	FirstAt    float64 // Unix seconds of the first Increment since the reset, 0 if none
	LastAt     float64
}

// clientDrops are the tells the client accepted (Tell returned nil) and
// dropped later without sending them (engine.Config.OnDrop), as counted
// at one moment.
type clientDrops struct {
	// ByShard: tells of the workload's entity type held for a shard whose
	// location was unknown and dropped (expired, failed by ShardUnavailable,
	// their owner down when the location came, the client closing), per
	// shard. Each tell is Increment{Amount: 1}: tells and amounts agree.
	ByShard []int64
	// Queued: frames discarded from connection queues (the connection
	// failed, or the client closed). The client does not know their kind
	// or shard: tells, asks and control messages alike.
	Queued int64
	// LostLinks: the nodes (as the topology names them) whose connection
	// failed at least once while it was open (reset or closed by the
	// node or the network, not by this client): what the kernel held for
	// them, written and not yet received, went with the link. Sorted.
	LostLinks []string
}
