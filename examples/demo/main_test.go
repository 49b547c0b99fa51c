package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/internal/leakcheck"
	"github.com/zerohop/zerohop/internal/testpki"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// goList returns the packages pkg depends on (go list -deps, tests
// excluded: what the program links).
func goList(t *testing.T, pkg string) []string {
	t.Helper()
	// go test puts its GOROOT/bin first in the test's PATH.
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// TestDemoLinksOnlyTheClient: the demo is a pure client. It links neither
// the node nor the node side of the workload, nor what only the node
// needs (memberlist, raft, gnet and its worker pool and logger: the gnet
// client transport is engine/gnettransport, which the demo does not
// select).
func TestDemoLinksOnlyTheClient(t *testing.T) {
	deps := goList(t, ".")
	forbidden := []string{
		"github.com/zerohop/zerohop/node",
		"github.com/zerohop/zerohop/workload/counter",
		"github.com/hashicorp/memberlist",
		"github.com/hashicorp/raft",
		"github.com/panjf2000/gnet",
		"github.com/panjf2000/ants",
		"go.uber.org/zap",
	}
	for _, p := range deps {
		for _, f := range forbidden {
			if p == f || strings.HasPrefix(p, f+"/") {
				t.Errorf("the demo links %s (%s): it must depend only on the client", p, f)
			}
		}
	}
	for _, want := range []string{"github.com/zerohop/zerohop/engine", "github.com/zerohop/zerohop/workload"} {
		found := false
		for _, p := range deps {
			found = found || p == want
		}
		if !found {
			t.Errorf("go list -deps does not list %s: the check above would pass for the wrong reason", want)
		}
	}
}

// TestDemoOverTLS runs the demo against a one-node cluster that serves
// mutual TLS: with the -tls-* flags it tells, asks and looks up as it does
// in plaintext; without them the dial fails naming TLS; bad flag
// combinations are refused before dialling.
func TestDemoOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a TLS node")
	}
	pki := testpki.New(t)
	caFile, clientCert, clientKey := pki.WritePEM(t, t.TempDir())
	lc := nodetest.Start(t, 1, nodetest.Options{
		Configure: func(_ int, cfg *node.Config) { cfg.TLS = pki.ServerConfig(); cfg.GossipKey = testpki.GossipKey() },
	})
	contact := lc.ContactPoints()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var out bytes.Buffer
	err := run(ctx, []string{"-contact", contact, "-tls-ca", caFile, "-tls-cert", clientCert, "-tls-key", clientKey,
		"-tls-server-name", "127.0.0.1"}, &out)
	if err != nil {
		t.Fatalf("demo over TLS: %v\n%s", err, out.String())
	}
	for _, want := range []string{"ask GetCount(", "Value:8", `lookup("node-stats") -> 1 instances`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	err = run(ctx, []string{"-contact", contact}, &out)
	if !errors.Is(err, engine.ErrTLSRequired) {
		t.Errorf("demo without -tls-*: got %v, want an error wrapping engine.ErrTLSRequired", err)
	}

	for _, args := range [][]string{
		{"-tls-cert", clientCert, "-tls-key", clientKey},
		{"-tls-ca", caFile, "-tls-cert", clientCert},
		{"-tls-server-name", "x"},
		{"-tls-ca", clientKey},
	} {
		if err := run(ctx, append([]string{"-contact", contact}, args...), &out); err == nil || errors.Is(err, engine.ErrTLSRequired) {
			t.Errorf("demo %v: got %v, want the flags refused", args, err)
		}
	}
}
