package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/testnet"
	"github.com/zerohop/zerohop/internal/testpki"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
)

// TestExternalTLSThroughAddressMap drives a cluster in external mode the
// way an operator would: -contact with the node's logical address, mutual
// TLS from PEM files (-tls-ca/-tls-cert/-tls-key), and -address-map sending
// every connection through a loopback forwarder that stands in for an SSH
// tunnel. It checks the flags reach the engine (the forwarder carried the
// traffic, the report says TLS) and that nothing was lost.
func TestExternalTLSThroughAddressMap(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a TLS node")
	}
	dir := t.TempDir()
	pki := testpki.New(t)
	caFile, clientCert, clientKey := pki.WritePEM(t, dir)

	lc := nodetest.Start(t, 1, nodetest.Options{
		Configure: func(_ int, cfg *node.Config) { cfg.TLS = pki.ServerConfig() },
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
