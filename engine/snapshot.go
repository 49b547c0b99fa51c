package engine

import "github.com/zerohop/zerohop/topo"

// Topology returns the last applied topology snapshot, compiled (members,
// leader, unreachable set, allocation epoch, registry, shard tables), or
// nil before the first one. The snapshot is immutable and safe to keep;
// call Topology again for a newer one. It is the cluster's view as pushed;
// the client's own routing may know more (ShardLocation replies) or less
// (evicted nodes).
func (c *Client) Topology() *topo.Snapshot { return c.snap.Load() }
