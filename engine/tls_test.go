package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/testpki"
	"github.com/zerohop/zerohop/workload"
)

// Behaviour 9 against the scripted node: mTLS works; no client certificate
// fails; a plaintext client against a TLS node fails with ErrTLSRequired.
func TestTLSFakeNode(t *testing.T) {
	pki := testpki.New(t)
	cl := newFakeClusterOpts(t, 2, fakeOpts{tls: pki.ServerConfig()})
	c := dialFake(t, cl, func(cfg *Config) { cfg.TLS = pki.ClientConfig(true) })
	ref, _ := c.EntityRef("counter", 32)
	for i := 0; i < 10; i++ {
		if err := ref.Tell("tls-user", workload.Increment{Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := getCount(context.Background(), c, ref, "tls-user")
	if err != nil || r.Value != 10 {
		t.Fatalf("ask over TLS: %+v, %v", r, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Dial(ctx, Config{ContactPoints: cl.contacts()[:1], SystemName: testSystem, Types: cl.reg, TLS: pki.ClientConfig(false)})
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("TLS without client certificate: got %v, want a handshake error", err)
	}
	t.Logf("no client certificate: %v", err)
	_, err = Dial(ctx, Config{ContactPoints: cl.contacts()[:1], SystemName: testSystem, Types: cl.reg})
	if !errors.Is(err, ErrTLSRequired) || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("plaintext client vs TLS node: got %v, want ErrTLSRequired", err)
	}
	t.Logf("plaintext vs TLS: %v", err)
}

// A TLS client against a plaintext node fails clearly too (no hang).
func TestTLSClientPlaintextNode(t *testing.T) {
	pki := testpki.New(t)
	cl := newFakeCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Dial(ctx, Config{ContactPoints: cl.contacts(), SystemName: testSystem, Types: cl.reg,
		TLS: pki.ClientConfig(true), ConnectTimeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("got %v", err)
	}
	t.Logf("TLS vs plaintext: %v", err)
}

// gnet has no TLS: the config says so.
func TestTLSRequiresNetTransport(t *testing.T) {
	cfg := Config{ContactPoints: []string{"127.0.0.1:1"}, SystemName: "live", TLS: &tls.Config{}, Transport: TransportGnet}
	cfg.EnsureDefaults()
	var ce *ConfigError
	if err := cfg.Validate(); !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
}
