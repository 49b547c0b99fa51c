package workload

import (
	"fmt"

	"github.com/zerohop/zerohop/wire"
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

// Register registers the workload's message types in reg under
// "<module>.<Name>" (module defaults to DefaultModule when empty).
func Register(reg *wire.Registry, module string) error {
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
	} {
		if err := reg.Register(module+"."+t.name, t.sample); err != nil {
			return fmt.Errorf("workload: register %s: %w", t.name, err)
		}
	}
	return nil
}
