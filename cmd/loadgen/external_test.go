package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/testnet"
	"github.com/zerohop/zerohop/internal/testpki"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/workload"
)

// TestExternalTLSThroughAddressMap drives a cluster in external mode the
// way an operator would: -contact with the node's logical address, mutual
// TLS from PEM files (-tls-ca/-tls-cert/-tls-key), and -address-map sending
// every connection through a loopback forwarder that stands in for an SSH
// tunnel. It checks the flags reach the engine (the forwarder carried the
// traffic, the report says TLS) and that nothing was lost.
func TestExternalTLSThroughAddressMap(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	if testing.Short() {
		t.Skip("starts a TLS node")
	}
	dir := t.TempDir()
	pki := testpki.New(t)
	caFile, clientCert, clientKey := pki.WritePEM(t, dir)

	lc := nodetest.Start(t, 1, nodetest.Options{
		Configure: func(_ int, cfg *node.Config) { cfg.TLS = pki.ServerConfig(); cfg.GossipKey = testpki.GossipKey() },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logical := lc.ContactPoints()[0]
	fwd := testnet.StartForwarder(t, logical)

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{
		"-contact", logical, "-address-map", logical + "=" + fwd.Addr(),
		"-tls-ca", caFile, "-tls-cert", clientCert, "-tls-key", clientKey,
		"-duration", "1s", "-entities", "50", "-workers", "1", "-json", "-progress=false",
	}, &stdout, &stderr, openEngine)
	if code != 0 {
		t.Fatalf("got exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	if got["lost"] != 0.0 || got["tells_delivered"].(float64) == 0 {
		t.Errorf("got lost %v delivered %v, want 0 and > 0", got["lost"], got["tells_delivered"])
	}
	if got["cluster"] != "external" || got["transport"] != "net+tls" || got["nodes"] != 1.0 {
		t.Errorf("got cluster %v transport %v nodes %v, want external net+tls 1", got["cluster"], got["transport"], got["nodes"])
	}
	if got["accounting"] != accountingTallies || got["unexplained_lost"] != 0.0 {
		t.Errorf("got accounting %v unexplained_lost %v, want tallies and 0", got["accounting"], got["unexplained_lost"])
	}
	if n := fwd.Accepted(); n == 0 {
		t.Errorf("the forwarder carried no connection: -address-map was not applied")
	}
}

// TestClusterWithoutTallies drives a node that does not know
// GetShardTally, as a Casty v1 node would not (its registry lacks the
// type, so it cannot even decode the ask): the probe times out, the
// accounting says it is unavailable, and the run still works with the old
// rule (nothing lost, exit 0).
func TestClusterWithoutTallies(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	if testing.Short() {
		t.Skip("starts a node")
	}
	lc := nodetest.Start(t, 1, nodetest.Options{
		Configure: func(_ int, cfg *node.Config) {
			reg := castyjson.NewRegistry()
			for name, v := range map[string]any{
				"Increment": workload.Increment{}, "GetCount": workload.GetCount{}, "CountReply": workload.CountReply{},
				"GetStats": workload.GetStats{}, "ResetStats": workload.ResetStats{}, "NodeStats": workload.NodeStats{},
			} {
				reg.MustRegister(workload.DefaultModule+"."+name, v)
			}
			cfg.Registry = reg
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{
		"-contact", lc.ContactPoints()[0], "-duration", "1s", "-entities", "50", "-workers", "1", "-json", "-progress=false",
	}, &stdout, &stderr, openEngine)
	if code != 0 {
		t.Fatalf("got exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	if a, _ := got["accounting"].(string); !strings.HasPrefix(a, accountingUnavailable+"no node answered GetShardTally") {
		t.Errorf("got accounting %q, want unavailable: no node answered", a)
	}
	if got["lost"] != 0.0 || got["unexplained_lost"] != 0.0 || got["tells_delivered"].(float64) == 0 {
		t.Errorf("got lost %v unexplained %v delivered %v, want 0, 0, > 0", got["lost"], got["unexplained_lost"], got["tells_delivered"])
	}
}
