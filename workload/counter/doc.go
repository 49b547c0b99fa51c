// Package counter serves the counter workload of shared/WORKLOAD.md on a
// zerohop node (cmd/node, node/nodetest): the counter entity (Counter),
// the node-stats service (StatsService) and the Tally behind both. The
// message types are package workload's, which clients use without linking
// this package or the node.
//
// Configure adds the workload to a node.Config: the message types, the
// entity type "counter" (32 shards) and the service "node-stats" at
// /stats, both backed by one Tally per node incarnation, and a
// Config.OnDeadLetter hook (chained to any hook already set) that counts
// dropped Increments in that Tally.
//
// # Invariants
//
//   - A Counter's value is the sum of the Increment amounts it processed
//     since its entity started; entities live in memory on the node that
//     owns their shard.
//   - A Tally counts the Increments processed by the node's counters since
//     its last reset (NodeStats.Increments, AmountTotal, FirstAt, LastAt)
//     and the counter entities started on the node (Entities, never reset).
//   - Per shard s, never reset: applied[s] is the sum of the values of the
//     node's live counters of s, retired[s] the sum of the values its
//     stopped counters held when they stopped (Counter.Stop), dead[s] the
//     amounts of Increments for s the node dropped (dead letters). So
//     applied + retired is every amount the incarnation applied, and a
//     counter's value is in exactly one of applied and retired.
//   - A Tally's incarnation is random per Tally, and a node makes one
//     Tally per start: it identifies the node incarnation in ShardTally.
//
// # Concurrency
//
// The node calls each Counter and the StatsService one message at a time
// (its entity contract); counters of different shards run on different
// workers, so Tally is updated with atomics and is safe for concurrent use
// (a stop and a ShardTally read also take the Tally's mutex; an Increment
// never does). The dead-letter hook may run on any node goroutine,
// concurrently. The package starts no goroutines.
package counter
