// Package workload is the counter workload of shared/WORKLOAD.md, shared by
// the Go cluster node (cmd/node, node/nodetest) and the load generator: the
// message types (registered under "<module>.<Name>", module "app_messages"
// by default), the counter entity and the node-stats service.
//
// Configure adds the workload to a node.Config: the entity type "counter"
// (32 shards) and the service "node-stats" at /stats, both backed by one
// Tally per node incarnation, and a Config.OnDeadLetter hook (chained to
// any hook already set) that counts dropped Increments in that Tally.
//
// Besides WORKLOAD.md's GetStats/NodeStats, the node-stats service of a Go
// node answers GetShardTally with ShardTally, the per-shard accounting the
// load generator uses to tell apart why tells were lost (spec/DESIGN.md,
// "Workload accounting messages"; never sent to Casty clusters, which do
// not know the type).
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
// concurrently. The message types are plain values. The package starts no
// goroutines.
package workload
