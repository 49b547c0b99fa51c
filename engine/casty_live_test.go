package engine

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// TestCastyLive runs tell, ask, lookup and a service ask against a real
// Casty v1 cluster (../shared/casty-v1/live/cluster.py --serializer json)
// whose contact points are in ZEROHOP_CASTY_CONTACTS ("host:port,...").
// Skipped without it (CI has no Casty).
func TestCastyLive(t *testing.T) {
	contacts := os.Getenv("ZEROHOP_CASTY_CONTACTS")
	if contacts == "" {
		t.Skip("ZEROHOP_CASTY_CONTACTS not set (needs a running Casty v1 cluster)")
	}
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			reg := testRegistry(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := Dial(ctx, Config{ContactPoints: strings.Split(contacts, ","), SystemName: workload.DefaultSystem, Types: reg, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			if err := c.WaitTopology(ctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("first snapshot after %v, identity %v", time.Since(start), c.Identity())
			l := c.Lookup(workload.StatsKey)
			t.Logf("lookup %s: %d instances", l.Key, len(l.Instances))
			for _, inst := range l.Instances {
				_ = inst.Ref.Tell(workload.ResetStats{})
			}
			ref, _ := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
			prefix := fmt.Sprintf("live-%s-%d", tr, time.Now().UnixNano())
			const entities, per = 20, 10
			for i := 0; i < per; i++ {
				for e := 0; e < entities; e++ {
					if err := ref.Tell(fmt.Sprintf("%s-%d", prefix, e), workload.Increment{Amount: 1}); err != nil {
						t.Fatal(err)
					}
				}
			}
			for e := 0; e < entities; e++ {
				id := fmt.Sprintf("%s-%d", prefix, e)
				t0 := time.Now()
				r, err := getCount(ctx, c, ref, id)
				if err != nil || r.Value != per {
					t.Fatalf("ask %s: %+v, %v", id, r, err)
				}
				if e == 0 {
					t.Logf("first ask %v", time.Since(t0))
				}
			}
			var incs int64
			for _, inst := range l.Instances {
				ns, err := AskAs[workload.NodeStats](ctx, c, inst.Ref, func(r wire.Ref) any { return workload.GetStats{ReplyTo: r} })
				if err != nil {
					t.Fatalf("service ask %s: %v", inst.Ref, err)
				}
				t.Logf("%s: %+v", inst.Ref, ns)
				incs += ns.Increments
			}
			if incs != entities*per {
				t.Fatalf("nodes counted %d increments, want %d", incs, entities*per)
			}
			t.Logf("stats %+v", c.Stats())
		})
	}
}
