// Command demo is zerohop's counterpart of Casty's live/client_demo.py: it
// connects to a cluster serving the counter workload (WORKLOAD.md), tells and
// asks a sharded counter, looks up the node-stats service and asks every
// instance. It works against a real Casty v1 cluster (JSON serializer) and
// against a cluster of cmd/node processes.
//
//	go run ./examples/demo -contact 127.0.0.1:25520
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	contact := flag.String("contact", "127.0.0.1:25520", "comma-separated contact points host:port")
	system := flag.String("system", workload.DefaultSystem, "cluster system name")
	shards := flag.Int("shards", workload.DefaultShards, "shards of the counter entity type")
	module := flag.String("msg-module", workload.DefaultModule, "Python module of the workload messages")
	entity := flag.String("entity", "", "entity id (default: a fresh one per run)")
	flag.Parse()

	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, *module); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t0 := time.Now()
	c, err := engine.Dial(ctx, engine.Config{
		ContactPoints: strings.Split(*contact, ","),
		SystemName:    *system,
		Types:         reg,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.WaitTopology(ctx); err != nil {
		return fmt.Errorf("first topology: %w", err)
	}
	fmt.Printf("[%6.2fms] identity %s, first snapshot\n", ms(t0), c.Identity())

	counter, err := c.EntityRef(workload.DefaultEntityType, *shards)
	if err != nil {
		return err
	}
	id := *entity
	if id == "" {
		id = fmt.Sprintf("demo-%d", time.Now().UnixNano())
	}
	fmt.Printf("entity %q -> shard %d\n", id, ring.Shard(id, *shards))

	// Tell: held during the cache miss, then flushed in order to the owner.
	for _, amount := range []int{5, 3} {
		if err := counter.Tell(id, workload.Increment{Amount: amount}); err != nil {
			return fmt.Errorf("tell: %w", err)
		}
	}

	// Ask: the reply comes back on the same connection.
	t := time.Now()
	reply, err := engine.AskAs[workload.CountReply](ctx, c, counter, func(replyTo wire.Ref) any {
		return engine.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: replyTo}}
	})
	if err != nil {
		return fmt.Errorf("ask GetCount: %w", err)
	}
	fmt.Printf("ask GetCount(%s) -> %+v (%.2f ms)\n", id, reply, ms(t))
	if reply.Value != 8 {
		return fmt.Errorf("GetCount(%s) = %d, want 8", id, reply.Value)
	}

	// Lookup: local and synchronous, from the cached registry.
	listing := c.Lookup(workload.StatsKey)
	fmt.Printf("lookup(%q) -> %d instances\n", workload.StatsKey, len(listing.Instances))
	insts := listing.Instances
	sort.Slice(insts, func(i, j int) bool { return insts[i].Node.Less(insts[j].Node) })
	for _, inst := range insts {
		t := time.Now()
		st, err := engine.AskAs[workload.NodeStats](ctx, c, inst.Ref, func(replyTo wire.Ref) any {
			return workload.GetStats{ReplyTo: replyTo}
		})
		if err != nil {
			return fmt.Errorf("ask GetStats %s: %w", inst.Ref, err)
		}
		fmt.Printf("  %s node=%s -> increments=%d amount_total=%d entities=%d (%.2f ms)\n",
			inst.Ref, inst.Node, st.Increments, st.AmountTotal, st.Entities, ms(t))
	}
	if len(insts) == 0 {
		return fmt.Errorf("lookup(%q): no instances", workload.StatsKey)
	}

	st := c.Stats()
	fmt.Printf("stats: %+v\n", st)
	return nil
}

func ms(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
