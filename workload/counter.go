package workload

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/wire"
)

// Tally is one node's count of Increment messages processed by its counter
// entities, served by the node-stats service. Safe for concurrent use (the
// entities of different shards run on different workers); the zero value is
// ready. ResetStats racing with increments may keep a few of them.
type Tally struct {
	increments  atomic.Int64
	amountTotal atomic.Int64
	entities    atomic.Int64
	firstAt     atomic.Int64 // unix nanos, 0 if none
	lastAt      atomic.Int64
}

func (t *Tally) onIncrement(amount int) {
	now := time.Now().UnixNano()
	t.firstAt.CompareAndSwap(0, now)
	t.lastAt.Store(now)
	t.increments.Add(1)
	t.amountTotal.Add(int64(amount))
}

// Reset zeroes the tally (not the counters, nor the entity count).
func (t *Tally) Reset() {
	t.increments.Store(0)
	t.amountTotal.Store(0)
	t.firstAt.Store(0)
	t.lastAt.Store(0)
}

// Stats returns the tally as NodeStats for node.
func (t *Tally) Stats(nodeName string) NodeStats {
	return NodeStats{
		Node:        nodeName,
		Increments:  t.increments.Load(),
		AmountTotal: t.amountTotal.Load(),
		Entities:    t.entities.Load(),
		FirstAt:     unixSeconds(t.firstAt.Load()),
		LastAt:      unixSeconds(t.lastAt.Load()),
	}
}

func unixSeconds(nanos int64) float64 {
	if nanos == 0 {
		return 0
	}
	return math.Round(float64(nanos)/1e3) / 1e6
}

// Counter is the counter entity: Increment adds to its value, GetCount
// replies CountReply. Owned by the node's worker that runs its shard: not
// safe for concurrent use (the node never calls it concurrently). Created
// by the factory that Configure installs; its zero value is not usable.
type Counter struct {
	id    string
	value int64
	tally *Tally
}

// Receive implements node.Entity.
func (c *Counter) Receive(ctx *node.Context, msg any) {
	switch m := msg.(type) {
	case Increment:
		c.value += int64(m.Amount)
		c.tally.onIncrement(m.Amount)
	case GetCount:
		_ = ctx.Reply(m.ReplyTo, CountReply{EntityID: c.id, Value: c.value})
	}
}

// StatsService is the node-stats service of one node: GetStats replies the
// Tally as NodeStats, ResetStats zeroes it. Called one message at a time by
// the node; Tally must be set.
type StatsService struct {
	Tally *Tally
}

// Receive implements node.Entity.
func (s *StatsService) Receive(ctx *node.Context, msg any) {
	switch m := msg.(type) {
	case GetStats:
		_ = ctx.Reply(m.ReplyTo, s.Tally.Stats(ctx.Node().Addr().String()))
	case ResetStats:
		s.Tally.Reset()
	}
}

// Options selects the workload's settings (a plain value); zero values are the defaults
// of WORKLOAD.md.
type Options struct {
	System     string // default DefaultSystem
	Module     string // default DefaultModule
	EntityType string // default DefaultEntityType
	Shards     int    // default DefaultShards
}

// Configure adds the counter workload to cfg: the message types registered
// in cfg.Registry (created if nil), the counter entity type and the
// node-stats service at /stats, and the system name if cfg has none. Each
// call creates a fresh Tally (one per node), which it returns.
func Configure(cfg *node.Config, o Options) (*Tally, error) {
	if o.System == "" {
		o.System = DefaultSystem
	}
	if o.EntityType == "" {
		o.EntityType = DefaultEntityType
	}
	if o.Shards == 0 {
		o.Shards = DefaultShards
	}
	if cfg.System == "" {
		cfg.System = o.System
	}
	if cfg.Registry == nil {
		cfg.Registry = wire.NewRegistry()
	}
	if err := Register(cfg.Registry, o.Module); err != nil {
		return nil, err
	}
	tally := &Tally{}
	cfg.Entities = append(cfg.Entities, node.EntityType{
		Name:   o.EntityType,
		Shards: o.Shards,
		New: func(id string) node.Entity {
			tally.entities.Add(1)
			return &Counter{id: id, tally: tally}
		},
	})
	cfg.Services = append(cfg.Services, node.Service{Key: StatsKey, Path: StatsPath, Handler: &StatsService{Tally: tally}})
	return tally, nil
}
