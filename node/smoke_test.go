package node_test

import (
	"testing"
	"time"

	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// forEachTransport runs test once per node transport: the tests of
// connection handling (framing, handshakes, backpressure, cut-offs) run on
// both the std links and the gnet event loops.
func forEachTransport(t *testing.T, test func(t *testing.T, transport string)) {
	for _, tp := range []string{node.TransportNet, node.TransportGnet} {
		t.Run(tp, func(t *testing.T) { test(t, tp) })
	}
}

func TestClusterServesClient(t *testing.T) {
	t.Parallel()
	forEachTransport(t, testClusterServesClient)
}

func testClusterServesClient(t *testing.T, transport string) {
	c := nodetest.Start(t, 3, nodetest.Options{Configure: func(_ int, cfg *node.Config) { cfg.Transport = transport }})
	leader, ok := c.Node(0).Leader()
	if !ok {
		t.Fatal("no leader after convergence")
	}
	id := wire.NodeAddress{Host: "127.9.8.7", Port: 0}
	rc := dialClient(t, c.Addr(0), id, nil)
	if rc.reply.Node() != c.Addr(0) {
		t.Fatalf("handshake reply %v, want %v", rc.reply.Node(), c.Addr(0))
	}
	ts := rc.snapshot()
	if len(ts.Members) != 3 || ts.Leader == nil || *ts.Leader != leader {
		t.Fatalf("snapshot members %v leader %v, want 3 members, leader %v", ts.Members, ts.Leader, leader)
	}
	if len(ts.Registry) != 3 {
		t.Fatalf("registry %v, want 3 entries", ts.Registry)
	}
	// Locate user-0's shard through the leader's coordinator.
	shard := ring.Shard("user-0", workload.DefaultShards)
	lc := rc
	if leader != c.Addr(0) {
		lc = dialClient(t, leader, id, nil)
	}
	lc.send(wire.PathCoordPrefix+"counter", wire.GetShardLocation{ShardID: shard, ReplyTo: lc.ref("/_proxy-counter")})
	v, err := lc.recv("/_proxy-counter", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	loc := v.(wire.ShardLocation)
	if loc.ShardID != shard || loc.Node.IsZero() {
		t.Fatalf("location %+v", loc)
	}
	oc := dialClient(t, loc.Node, id, nil)
	for range 3 {
		oc.send(wire.PathRegionPrefix+"counter", wire.ShardEnvelope{EntityID: "user-0", Message: workload.Increment{Amount: 5}})
	}
	r := oc.ask(wire.PathRegionPrefix+"counter", func(ref wire.Ref) any {
		return wire.ShardEnvelope{EntityID: "user-0", Message: workload.GetCount{ReplyTo: ref}}
	})
	if cr, ok := r.(workload.CountReply); !ok || cr.Value != 15 || cr.EntityID != "user-0" {
		t.Fatalf("count reply %#v, want user-0 = 15", r)
	}
	st := oc.ask(workload.StatsPath, func(ref wire.Ref) any { return workload.GetStats{ReplyTo: ref} })
	if ns, ok := st.(workload.NodeStats); !ok || ns.Increments != 3 || ns.AmountTotal != 15 || ns.Entities != 1 || ns.FirstAt == 0 || ns.LastAt < ns.FirstAt {
		t.Fatalf("stats %#v", st)
	}
	oc.send(workload.StatsPath, workload.ResetStats{})
	st = oc.ask(workload.StatsPath, func(ref wire.Ref) any { return workload.GetStats{ReplyTo: ref} })
	if ns := st.(workload.NodeStats); ns.Increments != 0 || ns.FirstAt != 0 || ns.Entities != 1 || ns.Node != loc.Node.String() {
		t.Fatalf("stats after reset %#v", st)
	}
}
