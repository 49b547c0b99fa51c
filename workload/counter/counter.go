package counter

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// Tally is one node's count of Increment messages processed by its counter
// entities, served by the node-stats service: the whole-node NodeStats
// (reset by ResetStats) and the per-shard ShardTally (never reset; see
// ShardTally for what each sum means). Safe for concurrent use (the
// entities of different shards run on different workers); must not be
// copied. Create it with NewTally (Configure does); the zero value counts
// NodeStats only (no shards, incarnation 0). ResetStats racing with
// increments may keep a few of them.
//
// Every sum lives in its shard's slot, one cache line per shard, and an
// Increment touches only its shard's line: uncontended atomic adds, a
// load, a store of the time once per lastAtGrain (and a compare-and-swap for a new maximum), no lock, no clock read (the time is the node's, read once
// per message for its lease check: node.Context.Now). A node runs a shard
// on one worker at a time, so no two goroutines write a slot at once;
// NodeStats sums the slots when read. A stop moves a counter's value from
// applied to retired under mu, and ShardTally reads under mu, so a reader
// never sees the value in both sums or in neither (that would count it
// lost twice or not at all). Measured against one set of whole-node
// atomics and a time.Now per Increment: PERFORMANCE.md, "Node hot path".
type Tally struct {
	entities atomic.Int64

	incarnation int64       // immutable after NewTally
	shards      []shardSums // immutable length; one per shard of the entity type
	other       shardSums   // NodeStats sums of Increments of a shard out of range (zero Tally); applied/retired/dead unused
	final       atomic.Bool
	mu          sync.Mutex // orders stops (applied -> retired) against ShardTally's reads
}

// shardSums are one shard's sums, padded to a cache line: the per-shard
// ShardTally sums (never reset) and its part of NodeStats (zeroed by
// Reset).
type shardSums struct {
	applied atomic.Int64
	retired atomic.Int64
	dead    atomic.Int64

	increments atomic.Int64
	amount     atomic.Int64
	firstAt    atomic.Int64 // unix nanos, 0 if none since the last Reset
	lastAt     atomic.Int64
	_          [8]byte
}

// incarnationLimit bounds random incarnations to 53 bits, so that they
// stay exact as JSON numbers in any language (the wire and -json reports).
const incarnationLimit = 1 << 53

// NewTally returns a tally for an entity type of shards shards, with a
// random incarnation in [1, 2^53). A Tally lives as long as its node
// incarnation (one per node start: Configure creates it with the node's
// Config), so a random number drawn here is a correct incarnation for the
// accounting: a node restarted at the same address gets another one.
func NewTally(shards int) *Tally {
	return &Tally{incarnation: rand.Int64N(incarnationLimit-1) + 1, shards: make([]shardSums, max(shards, 0))}
}

// Incarnation returns the tally's incarnation (0 for a zero Tally).
func (t *Tally) Incarnation() int64 { return t.incarnation }

// SetFinal marks the tally final: the node has stopped its counters
// (their values moved to retired) and handed its shards over, and is
// leaving; ShardTally says so from now on. The node side calls it after a
// graceful leave's hand-over, before the node stops answering (cmd/node,
// nodetest).
func (t *Tally) SetFinal() { t.final.Store(true) }

// Final reports whether SetFinal was called.
func (t *Tally) Final() bool { return t.final.Load() }

// onIncrement counts one Increment of amount applied to a counter of shard
// at now (unix nanos). Hot path (the node's worker, per message): atomics
// on the shard's own cache line only.
func (t *Tally) onIncrement(shard, amount int, now int64) {
	s := &t.other
	if uint(shard) < uint(len(t.shards)) {
		s = &t.shards[shard]
		s.applied.Add(int64(amount))
	}
	s.increments.Add(1)
	s.amount.Add(int64(amount))
	if s.firstAt.Load() == 0 {
		s.firstAt.CompareAndSwap(0, now)
	}
	// lastAt to within lastAtGrain: a load per Increment, and a store (an
	// exchange, the costliest of these on amd64) once per grain.
	if now-s.lastAt.Load() >= lastAtGrain {
		s.lastAt.Store(now)
	}
}

// lastAtGrain is how stale a shard's lastAt may be: NodeStats' LastAt is
// the last Increment's time to within it (a run's rate is taken over
// seconds).
const lastAtGrain = int64(time.Millisecond)

// onStop moves value, the state of a stopped counter of shard, from
// applied to retired.
func (t *Tally) onStop(shard int, value int64) {
	if uint(shard) >= uint(len(t.shards)) {
		return
	}
	s := &t.shards[shard]
	t.mu.Lock()
	s.applied.Add(-value)
	s.retired.Add(value)
	t.mu.Unlock()
}

// onDead counts amount of a dropped Increment for shard.
func (t *Tally) onDead(shard int, amount int64) {
	if uint(shard) < uint(len(t.shards)) {
		t.shards[shard].dead.Add(amount)
	}
}

// Reset zeroes the whole-node tally (not the counters, nor the entity
// count, nor the per-shard sums, which account for the counters' state).
func (t *Tally) Reset() {
	reset := func(s *shardSums) {
		s.increments.Store(0)
		s.amount.Store(0)
		s.firstAt.Store(0)
		s.lastAt.Store(0)
	}
	reset(&t.other)
	for i := range t.shards {
		reset(&t.shards[i])
	}
}

// Stats returns the tally as NodeStats for node: the sums of every shard's
// slot, the earliest first and the latest last time.
func (t *Tally) Stats(nodeName string) workload.NodeStats {
	var incs, amount, first, last int64
	add := func(s *shardSums) {
		incs += s.increments.Load()
		amount += s.amount.Load()
		if f := s.firstAt.Load(); f != 0 && (first == 0 || f < first) {
			first = f
		}
		last = max(last, s.lastAt.Load())
	}
	add(&t.other)
	for i := range t.shards {
		add(&t.shards[i])
	}
	return workload.NodeStats{
		Node:        nodeName,
		Increments:  incs,
		AmountTotal: amount,
		Entities:    t.entities.Load(),
		FirstAt:     unixSeconds(first),
		LastAt:      unixSeconds(last),
	}
}

// ShardTally returns the per-shard sums as ShardTally for node (fresh
// slices, owned by the caller).
func (t *Tally) ShardTally(nodeName string) workload.ShardTally {
	n := len(t.shards)
	st := workload.ShardTally{Node: nodeName, Incarnation: t.incarnation,
		Applied: make([]int64, n), Retired: make([]int64, n), Dead: make([]int64, n)}
	// Final first: a tally read as final was complete when it was read.
	st.Final = t.final.Load()
	t.mu.Lock()
	for i := range t.shards {
		s := &t.shards[i]
		st.Applied[i] = s.applied.Load()
		st.Retired[i] = s.retired.Load()
		st.Dead[i] = s.dead.Load()
	}
	t.mu.Unlock()
	return st
}

func unixSeconds(nanos int64) float64 {
	if nanos == 0 {
		return 0
	}
	return math.Round(float64(nanos)/1e3) / 1e6
}

// Counter is the counter entity: Increment adds to its value, GetCount
// replies CountReply; it implements node.Stopper (its value moves to its
// tally's retired sum when the node stops it). Owned by the node's worker
// that runs its shard: not safe for concurrent use (the node never calls it
// concurrently). Created by the factory that Configure installs; its zero
// value is not usable.
type Counter struct {
	id    string
	shard int // the node's shard of id: the type's hash, as the node routes (ctx.Shard())
	value int64
	tally *Tally
}

var _ node.Stopper = (*Counter)(nil)

// Receive implements node.Entity.
func (c *Counter) Receive(ctx *node.Context, msg any) {
	switch m := msg.(type) {
	case workload.Increment:
		c.value += int64(m.Amount)
		c.tally.onIncrement(c.shard, m.Amount, ctx.Now().UnixNano())
	case workload.GetCount:
		_ = ctx.Reply(m.ReplyTo, workload.CountReply{EntityID: c.id, Value: c.value})
	}
}

// Stop implements node.Stopper: the counter's state ends here, so its
// value moves from the tally's applied sum of its shard to the retired
// sum. A second Stop moves nothing.
//
// The shard is the one the counter was created with, which is the node's
// ctx.Shard() for it (the node routes ids with its type's hash,
// node.EntityType.ShardOf),
// taken once so that Increment and Stop always use the same slot.
func (c *Counter) Stop(_ *node.Context, _ node.StopReason) {
	c.tally.onStop(c.shard, c.value)
	c.value = 0
}

// StatsService is the node-stats service of one node: GetStats replies the
// Tally as NodeStats, GetShardTally replies it as ShardTally, ResetStats
// zeroes the NodeStats part. Called one message at a time by the node;
// Tally must be set.
type StatsService struct {
	Tally *Tally
}

// Receive implements node.Entity.
func (s *StatsService) Receive(ctx *node.Context, msg any) {
	switch m := msg.(type) {
	case workload.GetStats:
		_ = ctx.Reply(m.ReplyTo, s.Tally.Stats(ctx.Node().Addr().String()))
	case workload.GetShardTally:
		// A node that handed its shards over has stopped every counter:
		// its numbers are final (read before the tally, so a tally read as
		// final was complete when read).
		if ctx.Node().HandedOver() {
			s.Tally.SetFinal()
		}
		_ = ctx.Reply(m.ReplyTo, s.Tally.ShardTally(ctx.Node().Addr().String()))
	case workload.ResetStats:
		s.Tally.Reset()
	}
}

// Configure adds the counter workload to cfg: the message types registered
// in cfg.Registry (created if nil), the counter entity type (o.Shards
// shards under o.ShardHash) and the node-stats service at /stats, and the system name if cfg has none. Each
// call creates a fresh Tally (one per node incarnation: call it for every
// start), which it returns.
//
// It also installs cfg.OnDeadLetter, calling the hook already set (if any)
// after its own work: a dead-lettered Increment of the counter type adds
// its amount to the tally's dead sum of its shard. A hook set after
// Configure must chain the one Configure installed, or the tally misses
// dead letters.
func Configure(cfg *node.Config, o workload.Options) (*Tally, error) {
	if o.System == "" {
		o.System = workload.DefaultSystem
	}
	if o.EntityType == "" {
		o.EntityType = workload.DefaultEntityType
	}
	if o.Shards == 0 {
		o.Shards = workload.DefaultShards
	}
	if cfg.System == "" {
		cfg.System = o.System
	}
	if cfg.Registry == nil {
		cfg.Registry = castyjson.NewRegistry()
	}
	if err := workload.Register(cfg.Registry, o.Module); err != nil {
		return nil, err
	}
	tally := NewTally(o.Shards)
	shards, hash := o.Shards, o.ShardHash
	cfg.Entities = append(cfg.Entities, node.EntityType{
		Name:   o.EntityType,
		Shards: shards,
		Hash:   hash,
		New: func(id string) node.Entity {
			tally.entities.Add(1)
			return &Counter{id: id, shard: hash.Shard(id, shards), tally: tally}
		},
	})
	cfg.Services = append(cfg.Services, node.Service{Key: workload.StatsKey, Path: workload.StatsPath, Handler: &StatsService{Tally: tally}})
	typ, prev := o.EntityType, cfg.OnDeadLetter
	cfg.OnDeadLetter = func(d node.DeadLetter) {
		if d.Type == typ {
			if amount, ok := incrementAmount(d.Msg); ok {
				shard := d.Shard
				if uint(shard) >= uint(shards) && d.EntityID != "" {
					shard = hash.Shard(d.EntityID, shards)
				}
				tally.onDead(shard, amount)
			}
		}
		if prev != nil {
			prev(d)
		}
	}
	return tally, nil
}

// incrementAmount returns the amount of a dead letter's message when it is
// an Increment (bare, as the node hands it to the entity, or still in its
// envelope).
func incrementAmount(msg any) (int64, bool) {
	switch m := msg.(type) {
	case workload.Increment:
		return int64(m.Amount), true
	case *workload.Increment:
		if m != nil {
			return int64(m.Amount), true
		}
	case wire.ShardEnvelope:
		return incrementAmount(m.Message)
	}
	return 0, false
}
