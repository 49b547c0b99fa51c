package counter_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// TestStatsServiceAnswersGetShardTally drives a one-node in-process
// cluster through the engine: Increments to a few entities, then
// GetShardTally to the node-stats service, whose answer names the node, its
// tally's incarnation and the amounts applied per shard.
func TestStatsServiceAnswersGetShardTally(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	lc := nodetest.Start(t, 1, nodetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, ""); err != nil {
		t.Fatal(err)
	}
	c, err := engine.Dial(ctx, engine.Config{ContactPoints: lc.ContactPoints(), SystemName: workload.DefaultSystem, Types: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitTopology(ctx); err != nil {
		t.Fatal(err)
	}
	ref, err := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int64, workload.DefaultShards)
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		if err := ref.TellContext(ctx, id, workload.Increment{Amount: i + 1}); err != nil {
			t.Fatal(err)
		}
		want[ring.Shard(id, workload.DefaultShards)] += int64(i + 1)
	}
	var insts []engine.Instance
	for len(insts) == 0 {
		if insts = c.Lookup(workload.StatsKey).Instances; len(insts) == 0 {
			select {
			case <-ctx.Done():
				t.Fatal("no node-stats instance listed")
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	// Tells are applied asynchronously: poll until every amount shows.
	for {
		st, err := engine.AskAs[workload.ShardTally](ctx, c, insts[0].Ref, func(replyTo wire.Ref) any {
			return workload.GetShardTally{ReplyTo: replyTo}
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Node != lc.Addr(0).String() || st.Incarnation != lc.Tally(0).Incarnation() || st.Final {
			t.Fatalf("got node %q incarnation %d final %v, want %s, %d, false", st.Node, st.Incarnation, st.Final, lc.Addr(0), lc.Tally(0).Incarnation())
		}
		if len(st.Applied) != workload.DefaultShards || len(st.Retired) != workload.DefaultShards || len(st.Dead) != workload.DefaultShards {
			t.Fatalf("got %d/%d/%d shards, want %d each", len(st.Applied), len(st.Retired), len(st.Dead), workload.DefaultShards)
		}
		if slices.Equal(st.Applied, want) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("got applied %v, want %v", st.Applied, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
