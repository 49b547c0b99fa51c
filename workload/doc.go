// Package workload is the counter workload of shared/WORKLOAD.md, shared by
// the Go cluster node (cmd/node, node/nodetest) and the load generator: the
// message types (registered under "<module>.<Name>", module "app_messages"
// by default), the counter entity and the node-stats service.
//
// Configure adds the workload to a node.Config: the entity type "counter"
// (32 shards) and the service "node-stats" at /stats, both backed by one
// Tally per node.
//
// # Invariants
//
//   - A Counter's value is the sum of the Increment amounts it processed
//     since its entity started; entities live in memory on the node that
//     owns their shard.
//   - A Tally counts the Increments processed by the node's counters since
//     its last reset (NodeStats.Increments, AmountTotal, FirstAt, LastAt)
//     and the counter entities started on the node (Entities, never reset).
//
// # Concurrency
//
// The node calls each Counter and the StatsService one message at a time
// (its entity contract); counters of different shards run on different
// workers, so Tally is updated with atomics and is safe for concurrent use.
// The message types are plain values. The package starts no goroutines.
package workload
