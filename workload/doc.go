// Package workload is the client side of the counter workload of
// shared/WORKLOAD.md: its defaults, its message types (registered under
// "<module>.<Name>", module "app_messages" by default) and Options, the
// settings both sides must agree on. The load generator, the examples and
// the engine's tests use it to talk to a cluster that serves the workload;
// the node side (the counter entity, the node-stats service, their Tally
// and Configure, which adds them to a node.Config) is package
// workload/counter.
//
// Besides WORKLOAD.md's GetStats/NodeStats, the node-stats service of a Go
// node answers GetShardTally with ShardTally, the per-shard accounting the
// load generator uses to tell apart why tells were lost (spec/DESIGN.md,
// "Workload accounting messages"; never sent to Casty clusters, which do
// not know the type).
//
// # Invariants
//
//   - The package imports no node code (node, memberlist, gnet, raft): a
//     pure client that uses it links none of them (examples/demo's
//     TestDemoLinksOnlyTheClient checks its dependencies).
//
// # Concurrency
//
// The message types and Options are plain values, safe to copy. Register
// writes to the registry it is given (see castyjson.Registry for its
// contract). The package starts no goroutines and has no state.
package workload
