package workload

import (
	"fmt"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/zhbin"
)

// Defaults of the counter workload (WORKLOAD.md).
const (
	DefaultSystem     = "live"
	DefaultEntityType = "counter"
	DefaultShards     = 32
	DefaultModule     = "app_messages"
	StatsKey          = "node-stats"
	StatsPath         = "/stats"
)

// Options selects the workload's settings (a plain value); zero values are
// the defaults of WORKLOAD.md. The node side (counter.Configure) reads all
// of them; a client needs the same System, Module, EntityType and Shards to
// reach it (a zerohop client learns ShardHash from the node's handshake).
type Options struct {
	System     string    // default DefaultSystem
	Module     string    // default DefaultModule
	EntityType string    // default DefaultEntityType
	Shards     int       // default DefaultShards
	ShardHash  ring.Hash // the entity type's shard hash; default (zero) ring.HashMD5, Casty's
}

// Increment adds Amount to an entity's counter.
type Increment struct {
	Amount int `casty:"amount"`
}

// GetCount asks an entity for its counter; the answer is a CountReply.
type GetCount struct {
	ReplyTo wire.Ref `casty:"reply_to"`
}

// CountReply is the answer to GetCount.
type CountReply struct {
	EntityID string `casty:"entity_id"`
	Value    int64  `casty:"value"`
}

// GetStats asks a node-stats service for its node's tally; the answer is NodeStats.
type GetStats struct {
	ReplyTo wire.Ref `casty:"reply_to"`
}

// ResetStats zeroes a node's tally (not the counters).
type ResetStats struct{}

// NodeStats is a node's tally of Increment messages since the last reset.
// FirstAt and LastAt are Unix seconds, 0 if none.
type NodeStats struct {
	Node        string  `casty:"node"`
	Increments  int64   `casty:"increments"`
	AmountTotal int64   `casty:"amount_total"`
	Entities    int64   `casty:"entities"`
	FirstAt     float64 `casty:"first_at"`
	LastAt      float64 `casty:"last_at"`
}

// GetShardTally asks a zerohop node's node-stats service for its per-shard
// tally; the answer is ShardTally. Casty v1 nodes do not know the type (an
// ask of it times out), and the Go node serves it only with this package's
// StatsService.
type GetShardTally struct {
	ReplyTo wire.Ref `casty:"reply_to"`
}

// ShardTally is one node incarnation's per-shard accounting of the counter
// entity type (indexes are shard numbers; every list has one entry per
// shard), in sums of Increment amounts:
//
//   - Applied[s]: held by the node's live counters of shard s;
//   - Retired[s]: held by counters of shard s the node stopped
//     (node.Stopper): that state is gone;
//   - Dead[s]: Increments for shard s the node accepted and dropped, each
//     counted (node.Config.OnDeadLetter).
//
// Over an incarnation's life Applied + Retired is every amount it applied.
// Incarnation is random per node start (see Tally), so a restarted node at
// the same address is told apart. Final says the node has handed
// everything over and is leaving: these numbers will not change. Unlike
// NodeStats, ResetStats does not zero them.
type ShardTally struct {
	Node        string  `casty:"node"`
	Incarnation int64   `casty:"incarnation"`
	Applied     []int64 `casty:"applied"`
	Retired     []int64 `casty:"retired"`
	Dead        []int64 `casty:"dead"`
	Final       bool    `casty:"final"`
}

// Register registers the workload's message types in reg under
// "<module>.<Name>" (module defaults to DefaultModule when empty).
func Register(reg *castyjson.Registry, module string) error {
	if module == "" {
		module = DefaultModule
	}
	for _, t := range []struct {
		name   string
		sample any
	}{
		{"Increment", Increment{}},
		{"GetCount", GetCount{}},
		{"CountReply", CountReply{}},
		{"GetStats", GetStats{}},
		{"ResetStats", ResetStats{}},
		{"NodeStats", NodeStats{}},
		{"GetShardTally", GetShardTally{}},
		{"ShardTally", ShardTally{}},
	} {
		if err := reg.Register(module+"."+t.name, t.sample); err != nil {
			return fmt.Errorf("workload: register %s: %w", t.name, err)
		}
	}
	return nil
}

// RegisterBinary registers the counter workload's per-entity messages in
// the zhbin codec c (issue 12), under fixed ids that both ends of a
// connection must agree on: Increment 1, GetCount 2, CountReply 3. The
// types must be registered in c's JSON registry first (Register). The
// others (stats, tallies) are rare and keep travelling as JSON.
func RegisterBinary(c *zhbin.Codec) error {
	for _, t := range []struct {
		id     int
		sample any
	}{
		{1, Increment{}},
		{2, GetCount{}},
		{3, CountReply{}},
	} {
		if err := c.Register(t.id, t.sample); err != nil {
			return fmt.Errorf("workload: register binary: %w", err)
		}
	}
	return nil
}
