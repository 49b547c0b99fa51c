package engine

import (
	"context"
	"errors"
	"fmt"
	"github.com/zerohop/zerohop/ring"
	"os"
	"strconv"
	"strings"
	"syscall"
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

// TestCastyLiveFailover kills one node of a real Casty v1 cluster
// (ZEROHOP_CASTY_VICTIM_PID, the node process listening on
// ZEROHOP_CASTY_VICTIM_ADDR; run cluster.py with --tolerate-child-exit)
// and follows the client: the victim's shards fail fast, the others keep
// working, and the client follows the cluster's re-allocation.
func TestCastyLiveFailover(t *testing.T) {
	contacts := os.Getenv("ZEROHOP_CASTY_CONTACTS")
	pidS, victimS := os.Getenv("ZEROHOP_CASTY_VICTIM_PID"), os.Getenv("ZEROHOP_CASTY_VICTIM_ADDR")
	if contacts == "" || pidS == "" || victimS == "" {
		t.Skip("ZEROHOP_CASTY_CONTACTS, ZEROHOP_CASTY_VICTIM_PID and ZEROHOP_CASTY_VICTIM_ADDR not set")
	}
	pid, err := strconv.Atoi(pidS)
	if err != nil {
		t.Fatal(err)
	}
	victim, err := wire.ParseNodeAddress(victimS)
	if err != nil {
		t.Fatal(err)
	}
	reg := testRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Dial(ctx, Config{ContactPoints: strings.Split(contacts, ","), SystemName: workload.DefaultSystem, Types: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitTopology(ctx); err != nil {
		t.Fatal(err)
	}
	ref, _ := c.EntityRef(workload.DefaultEntityType, workload.DefaultShards)
	prefix := fmt.Sprintf("fo-%d", time.Now().UnixNano())
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		if err := ref.Tell(ids[i], workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var onVictim, elsewhere []string
	for _, id := range ids {
		if _, err := getCount(ctx, c, ref, id); err != nil {
			t.Fatal(err)
		}
		if e, ok := ref.et.table.Load().Owner(ring.Shard(id, workload.DefaultShards)); ok && e.nc.addr == victim {
			onVictim = append(onVictim, id)
		} else {
			elsewhere = append(elsewhere, id)
		}
	}
	t.Logf("%d entities on the victim %v, %d elsewhere", len(onVictim), victim, len(elsewhere))
	if len(onVictim) == 0 {
		t.Skip("no entity on the victim")
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	kill := time.Now()
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var firstFailFast, rerouted time.Duration
	var otherFailures int
	for time.Since(kill) < 40*time.Second && rerouted == 0 {
		err := ref.Tell(onVictim[0], workload.Increment{Amount: 1})
		switch {
		case err == nil && firstFailFast > 0:
			if e, ok := ref.et.table.Load().Owner(ring.Shard(onVictim[0], workload.DefaultShards)); ok && e.nc.addr != victim {
				rerouted = time.Since(kill)
			}
		case errors.Is(err, ErrOwnerUnavailable) && firstFailFast == 0:
			firstFailFast = time.Since(kill)
		}
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		if _, err := getCount(actx, c, ref, elsewhere[0]); err != nil {
			otherFailures++
			t.Logf("%v: ask to a surviving node's entity: %v", time.Since(kill), err)
		}
		acancel()
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("fail fast after %v, re-routed by the cluster after %v (0: never), %d failed asks elsewhere; stats %+v", firstFailFast, rerouted, otherFailures, c.Stats())
	if firstFailFast == 0 {
		t.Fatal("no fail fast")
	}
}
