package wire

// zerohop's own messages. They travel in ordinary message frames and
// encode with the same JSON codec as Casty's types, under "zerohop.*"
// names that Casty never uses. A zerohop node sends them only to peers
// whose handshake carried the "zerohop" extension (zerohop clients and
// nodes); Casty peers never receive one, so the protocol Casty sees is
// unchanged. castyjson.NewRegistry registers them.
const (
	TypeShardUnavailable = "zerohop.ShardUnavailable"
	TypeUndeliverable    = "zerohop.Undeliverable"
	TypeGetNodeState     = "zerohop.GetNodeState"
	TypeNodeState        = "zerohop.NodeState"
	TypeShardClaim       = "zerohop.ShardClaim"
)

// PathNode is the path of a zerohop node's introspection actor: it
// answers GetNodeState with NodeState.
const PathNode = "/_node"

// Reasons carried by ShardUnavailable and Undeliverable.
const (
	// ReasonNoQuorum: the node cannot reach a quorum of the cluster (no
	// leader, or its own ownership lease lapsed), so it vouches for no
	// owner and allocates nothing.
	ReasonNoQuorum = "no_quorum"
	// ReasonNoOwner: no member can own the shard (none hosts the type, or
	// none holds a valid lease).
	ReasonNoOwner = "no_owner"
	// ReasonStaleOwner: the envelope reached a node that no longer owns
	// its shard and could not be forwarded to the current owner.
	ReasonStaleOwner = "stale_owner"
	// ReasonHopLimit: the envelope was forwarded the maximum number of
	// times without reaching the owner (the table was moving under it).
	ReasonHopLimit = "hop_limit"
	// ReasonEntityLimit: the node already runs Config.MaxEntities
	// entities and would have had to start another.
	ReasonEntityLimit = "entity_limit"
	// ReasonEntityID: the entity id is longer than the node accepts.
	ReasonEntityID = "entity_id_too_long"
	// ReasonMailboxFull: the shard's mailbox was full where nothing could
	// be paused.
	ReasonMailboxFull = "mailbox_full"
	// ReasonExpired: the envelope waited for its shard's owner longer than
	// the node's request timeout.
	ReasonExpired = "expired"
	// ReasonShuttingDown: the node stopped before it could deliver or
	// forward the envelope.
	ReasonShuttingDown = "shutting_down"
	// ReasonUnknownMessageType: the shard's owner does not know the
	// message's type (not in its registry: a different name or module).
	ReasonUnknownMessageType = "unknown_message_type"
	// ReasonUnknownEntityType: the node hosts no entity type of that name
	// (the envelope came to /_region-{type} for a type it does not know).
	ReasonUnknownEntityType = "unknown_entity_type"
)

// ShardUnavailable is a zerohop node's answer to a zerohop client's
// GetShardLocation (sent to the client's /_proxy-{type}, where a Casty
// node would send ShardLocation) when it cannot name an owner it vouches
// for. Reason is one of the Reason* constants. A Casty client gets no
// answer in that case (Casty's coordinator does the same while it has no
// allocation to give).
type ShardUnavailable struct {
	ShardID int    `casty:"shard_id"`
	Reason  string `casty:"reason"`
}

// Undeliverable is sent by a zerohop node to the reply_to ref of a message
// it accepted and then dropped (a dead letter), when the message has a
// reply_to field and the sender is a zerohop peer: a waiting ask fails at
// once with the reason instead of timing out. Type, Shard and EntityID
// name the entity the message was for.
type Undeliverable struct {
	Reason   string `casty:"reason"`
	Type     string `casty:"type"`
	Shard    int    `casty:"shard"`
	EntityID string `casty:"entity_id"`
}

// GetNodeState asks a zerohop node (at PathNode) for its NodeState.
type GetNodeState struct {
	ReplyTo Ref `casty:"reply_to"`
}

// NodeState is a zerohop node's view of itself and the cluster, for
// operators, the chaos suite's ownership watcher and load generators.
//
// Times are CLOCK_MONOTONIC nanoseconds of the node's machine (MonoNow is
// when the state was taken): comparable between processes of one machine,
// meaningless across machines.
type NodeState struct {
	Node        NodeAddress  `casty:"node"`
	ID          string       `casty:"id"`
	Incarnation int64        `casty:"incarnation"` // random per start
	Role        string       `casty:"role"`        // consensus role: leader, follower, candidate, none
	Leader      *NodeAddress `casty:"leader"`      // the leader this node follows, if any
	Term        int64        `casty:"term"`
	CommitIndex int64        `casty:"commit_index"`
	Applied     int64        `casty:"applied"`     // last consensus index applied to the table
	Epoch       int64        `casty:"epoch"`       // allocation epoch of the table
	Voters      int          `casty:"voters"`      // voters in the configuration this node knows
	Synced      bool         `casty:"synced"`      // the node has caught up with the cluster since it started
	Leaving     bool         `casty:"leaving"`     // a graceful leave is in progress
	MonoNow     int64        `casty:"mono_now"`    // CLOCK_MONOTONIC ns when taken
	LeaseUntil  int64        `casty:"lease_until"` // CLOCK_MONOTONIC ns; 0: no valid lease
	// Claims are the shards this node serves at MonoNow: the table names it
	// owner and its lease is valid. A claim's Until is LeaseUntil: the node
	// stops serving the shard then at the latest, unless it renews.
	Claims []ShardClaim `casty:"claims"`
	// Released are the most recent claims this node ended (at most 256),
	// each with Until the exact moment it stopped serving the shard (the
	// shard moved, the lease lapsed, the node left).
	Released []ShardClaim     `casty:"released"`
	Members  []Member         `casty:"members"`
	Counters map[string]int64 `casty:"counters"` // selected Stats, by snake_case name
}

// ShardClaim is one shard a node serves, or served: under the allocation
// made at consensus index Epoch, from Since to Until (CLOCK_MONOTONIC ns;
// see NodeState.Claims and Released for what Until means in each).
type ShardClaim struct {
	Type  string `casty:"type"`
	Shard int    `casty:"shard"`
	Epoch int64  `casty:"epoch"`
	Since int64  `casty:"since"`
	Until int64  `casty:"until"`
}
