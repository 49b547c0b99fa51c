package engine_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// The examples run against an in-process one-node cluster serving the
// counter workload of WORKLOAD.md (system "live", entity type "counter" with
// 32 shards, the "node-stats" service), so go test checks their output.
// Against a real cluster, ContactPoints are its nodes' "host:port".

// exampleCluster starts the in-process cluster and returns its contact
// points and a function that stops it. It returns once the node has
// registered its node-stats service, so that the first topology snapshot a
// client receives lists it.
func exampleCluster() (contacts []string, stop func()) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lc, err := nodetest.StartLocalCluster(ctx, 1, nodetest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	stop = func() { _ = lc.Close(context.Background()) }
	for !slices.ContainsFunc(lc.Node(0).Topology().Registry, func(e wire.ServiceEntry) bool { return e.Key == workload.StatsKey }) {
		if ctx.Err() != nil {
			stop()
			log.Fatal("example cluster: node-stats never registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return lc.ContactPoints(), stop
}

// exampleClient starts the cluster and dials it as ExampleDial does.
func exampleClient() (c *engine.Client, stop func()) {
	contacts, stopCluster := exampleCluster()
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, workload.DefaultModule); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := engine.Dial(ctx, engine.Config{ContactPoints: contacts, SystemName: workload.DefaultSystem, Types: reg})
	if err == nil {
		err = c.WaitTopology(ctx)
	}
	if err != nil {
		stopCluster()
		log.Fatal(err)
	}
	return c, func() { _ = c.Close(); stopCluster() }
}

// Dial connects to a cluster through any of its nodes. The registry maps
// Go structs to the Python dataclass names the cluster uses.
func ExampleDial() {
	contacts, stop := exampleCluster() // "host:port" of the cluster's nodes
	defer stop()

	reg := castyjson.NewRegistry() // Casty's protocol types are pre-registered
	// Increment, GetCount, CountReply, ... as "app_messages.Increment", ...
	if err := workload.Register(reg, "app_messages"); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := engine.Dial(ctx, engine.Config{
		ContactPoints: contacts,
		SystemName:    "live",
		Types:         reg,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Routing works at once (messages are held until the shard table
	// arrives); WaitTopology waits for the first snapshot.
	if err := c.WaitTopology(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("members:", len(c.Topology().Members()))
	// Output:
	// members: 1
}

// An EntityRef sends to the entities of one sharded type, straight to the
// node that owns each entity's shard. Flush waits until every accepted
// message is written.
func ExampleEntityRef_Tell() {
	c, stop := exampleClient()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	counter, err := c.EntityRef("counter", 32) // the cluster's shard count for the type
	if err != nil {
		log.Fatal(err)
	}
	for range 10 {
		if err := counter.Tell("user-42", workload.Increment{Amount: 1}); err != nil {
			log.Fatal(err) // e.g. ErrBufferFull: TellContext waits for room instead
		}
	}
	if err := c.Flush(ctx); err != nil {
		log.Fatal(err)
	}

	// Messages to one entity arrive in the order they were told.
	reply, err := engine.AskAs[workload.CountReply](ctx, c, counter, func(replyTo wire.Ref) any {
		return engine.ShardEnvelope{EntityID: "user-42", Message: workload.GetCount{ReplyTo: replyTo}}
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.EntityID, reply.Value)
	// Output:
	// user-42 10
}

// Ask carries a reply address in the message and waits for the reply; the
// reply is a value of its registered Go type.
func ExampleClient_Ask() {
	c, stop := exampleClient()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	counter, err := c.EntityRef("counter", 32)
	if err != nil {
		log.Fatal(err)
	}
	// A message to a sharded entity travels in a ShardEnvelope.
	reply, err := c.Ask(ctx, counter, func(replyTo wire.Ref) any {
		return engine.ShardEnvelope{EntityID: "user-7", Message: workload.GetCount{ReplyTo: replyTo}}
	})
	if err != nil {
		log.Fatal(err) // ErrAskTimeout, *UndeliverableError, *ConnError, ...
	}
	switch r := reply.(type) {
	case workload.CountReply:
		fmt.Printf("%s has counted %d\n", r.EntityID, r.Value)
	case castyjson.Unknown:
		fmt.Println("a reply of a type the registry does not know:", r.Type)
	}
	// Output:
	// user-7 has counted 0
}

// AskAs is Ask with the reply converted to the type the caller expects.
func ExampleAskAs() {
	c, stop := exampleClient()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	counter, err := c.EntityRef("counter", 32)
	if err != nil {
		log.Fatal(err)
	}
	for _, amount := range []int{2, 3, 4} {
		if err := counter.Tell("cart-1", workload.Increment{Amount: amount}); err != nil {
			log.Fatal(err)
		}
	}
	reply, err := engine.AskAs[workload.CountReply](ctx, c, counter, func(replyTo wire.Ref) any {
		return engine.ShardEnvelope{EntityID: "cart-1", Message: workload.GetCount{ReplyTo: replyTo}}
	})
	if err != nil {
		log.Fatal(err) // a reply of another type is a *ReplyTypeError
	}
	fmt.Println("cart-1:", reply.Value)
	// Output:
	// cart-1: 9
}

// Lookup reads the service registry of the client's cached topology: no
// network, so it may be called on every request. Each instance's Ref is an
// Ask (and Tell) target.
func ExampleClient_Lookup() {
	c, stop := exampleClient()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	listing := c.Lookup("node-stats")
	fmt.Println("node-stats instances:", len(listing.Instances))
	for _, inst := range listing.Instances {
		stats, err := engine.AskAs[workload.NodeStats](ctx, c, inst.Ref, func(replyTo wire.Ref) any {
			return workload.GetStats{ReplyTo: replyTo}
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("increments counted by the node:", stats.Increments)
	}
	fmt.Println("payment instances:", len(c.Lookup("payment").Instances))
	// Output:
	// node-stats instances: 1
	// increments counted by the node: 0
	// payment instances: 0
}

// Watch delivers a key's listing at once, then every change; a slow reader
// gets the latest listing, not every intermediate one.
func ExampleClient_Watch() {
	c, stop := exampleClient()
	defer stop()

	w, err := c.Watch("node-stats")
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case listing := <-w.C():
			if len(listing.Instances) == 0 {
				continue // not registered yet: wait for the next change
			}
			fmt.Println(listing.Key, "instances:", len(listing.Instances))
			return
		case <-timeout:
			log.Fatal("node-stats never appeared")
		}
	}
	// Output:
	// node-stats instances: 1
}

// Stats is a copy of the client's counters: what it accepted, wrote and
// dropped (by DropReason), its asks, connections and topology.
func ExampleClient_Stats() {
	c, stop := exampleClient()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	counter, err := c.EntityRef("counter", 32)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 100 {
		if err := counter.Tell(fmt.Sprintf("user-%d", i), workload.Increment{Amount: 1}); err != nil {
			log.Fatal(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		log.Fatal(err)
	}

	st := c.Stats()
	var dropped uint64
	for _, n := range st.Drops {
		dropped += n
	}
	fmt.Println("accepted:", st.TellsQueued)
	fmt.Println("dropped:", dropped, "of which queue full:", st.Drops[engine.DropQueueFull])
	// Output:
	// accepted: 100
	// dropped: 0 of which queue full: 0
}
