package wire

// Python type names of Casty v1's protocol messages (PROTOCOL.md section 6).
const (
	TypeNodeAddress         = "casty.cluster.state.NodeAddress"
	TypeMemberStatus        = "casty.cluster.state.MemberStatus"
	TypeMember              = "casty.cluster.state.Member"
	TypeShardAllocation     = "casty.cluster.state.ShardAllocation"
	TypeServiceEntry        = "casty.cluster.state.ServiceEntry"
	TypeSubscribeTopology   = "casty.cluster.topology.SubscribeTopology"
	TypeUnsubscribeTopology = "casty.cluster.topology.UnsubscribeTopology"
	TypeTopologySnapshot    = "casty.cluster.topology.TopologySnapshot"
	TypeShardEnvelope       = "casty.cluster.envelope.ShardEnvelope"
	TypeGetShardLocation    = "casty.cluster.coordinator.GetShardLocation"
	TypeShardLocation       = "casty.cluster.coordinator.ShardLocation"
)

// Well-known actor paths (PROTOCOL.md section 7).
const (
	PathTopology      = "/_cluster/_topology"
	PathTopologySub   = "/_topology_sub"
	PathCoordPrefix   = "/_coord-"
	PathRegionPrefix  = "/_region-"
	PathProxyPrefix   = "/_proxy-"
	PathAskPrefix     = "/_ask/"
	ClientSystemSufix = "-client"
)

// NodeAddress is casty.cluster.state.NodeAddress: a node's logical identity.
// It is a comparable value type; the zero value is "no address".
type NodeAddress struct {
	Host string `casty:"host"`
	Port int    `casty:"port"`
}

// MemberStatus is the enum casty.cluster.state.MemberStatus, encoded on the
// wire by member name ({"__enum__": ..., "value": "up"}). The zero value is
// invalid; Python's values 1..5 are kept so that the order matches Casty's.
type MemberStatus uint8

// Member statuses, in Casty's order.
const (
	StatusJoining MemberStatus = iota + 1
	StatusUp
	StatusLeaving
	StatusDown
	StatusRemoved
)

// Member is casty.cluster.state.Member.
type Member struct {
	Address NodeAddress  `casty:"address"`
	Status  MemberStatus `casty:"status"`
	Roles   []string     `casty:"roles,frozenset"`
	ID      string       `casty:"id"`
}

// ShardAllocation is casty.cluster.state.ShardAllocation.
type ShardAllocation struct {
	Primary  NodeAddress   `casty:"primary"`
	Replicas []NodeAddress `casty:"replicas,tuple"`
}

// ServiceEntry is casty.cluster.state.ServiceEntry: service Key is served at
// Path on Node.
type ServiceEntry struct {
	Key  string      `casty:"key"`
	Node NodeAddress `casty:"node"`
	Path string      `casty:"path"`
}

// TopologySnapshot is casty.cluster.topology.TopologySnapshot, pushed by a
// node's topology actor to every subscriber. ShardAllocations maps shard type
// -> shard id -> allocation and holds only allocated shards.
type TopologySnapshot struct {
	Members          []Member                           `casty:"members,frozenset"`
	Leader           *NodeAddress                       `casty:"leader"`
	ShardAllocations map[string]map[int]ShardAllocation `casty:"shard_allocations"`
	AllocationEpoch  int64                              `casty:"allocation_epoch"`
	Unreachable      []NodeAddress                      `casty:"unreachable,frozenset"`
	Registry         []ServiceEntry                     `casty:"registry,frozenset"`
}

// SubscribeTopology is casty.cluster.topology.SubscribeTopology, sent to
// /_cluster/_topology. It is idempotent and always answered with a snapshot.
type SubscribeTopology struct {
	ReplyTo Ref `casty:"reply_to"`
}

// UnsubscribeTopology is casty.cluster.topology.UnsubscribeTopology.
type UnsubscribeTopology struct {
	Subscriber Ref `casty:"subscriber"`
}

// ShardEnvelope is casty.cluster.envelope.ShardEnvelope, sent to
// /_region-{type} on the node that owns the entity's shard.
type ShardEnvelope struct {
	EntityID string `casty:"entity_id"`
	Message  any    `casty:"message"`
}

// GetShardLocation is casty.cluster.coordinator.GetShardLocation, sent to
// /_coord-{type} on the leader.
type GetShardLocation struct {
	ShardID int `casty:"shard_id"`
	ReplyTo Ref `casty:"reply_to"`
}

// ShardLocation is casty.cluster.coordinator.ShardLocation, the coordinator's
// answer to GetShardLocation.
type ShardLocation struct {
	ShardID  int           `casty:"shard_id"`
	Node     NodeAddress   `casty:"node"`
	Replicas []NodeAddress `casty:"replicas,tuple"`
}
