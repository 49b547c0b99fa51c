package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/workload"
)

// testPKI is a CA with one server certificate (IP SAN 127.0.0.1) and one
// client certificate, made with crypto/x509.
type testPKI struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "zerohop test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) tls.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = leaf(2, "node", x509.ExtKeyUsageServerAuth)
	p.client = leaf(3, "client", x509.ExtKeyUsageClientAuth)
	return p
}

// serverTLS requires and verifies client certificates (mTLS).
func (p *testPKI) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, RootCAs: p.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

func (p *testPKI) clientTLS(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if withCert {
		c.Certificates = []tls.Certificate{p.client}
	}
	return c
}

// Behaviour 9 against the scripted node: mTLS works; no client certificate
// fails; a plaintext client against a TLS node fails with ErrTLSRequired.
func TestTLSFakeNode(t *testing.T) {
	pki := newTestPKI(t)
	cl := newFakeClusterOpts(t, 2, fakeOpts{tls: pki.serverTLS()})
	c := dialFake(t, cl, func(cfg *Config) { cfg.TLS = pki.clientTLS(true) })
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
	_, err = Dial(ctx, Config{ContactPoints: cl.contacts()[:1], SystemName: testSystem, Types: cl.reg, TLS: pki.clientTLS(false)})
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
	pki := newTestPKI(t)
	cl := newFakeCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Dial(ctx, Config{ContactPoints: cl.contacts(), SystemName: testSystem, Types: cl.reg,
		TLS: pki.clientTLS(true), ConnectTimeout: 500 * time.Millisecond})
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
