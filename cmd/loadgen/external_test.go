package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/testnet"
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
	pki := newTestPKI(t, dir)

	lc := nodetest.Start(t, 1, nodetest.Options{
		Configure: func(_ int, cfg *node.Config) { cfg.TLS = pki.serverConfig() },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logical := lc.ContactPoints()[0]
	fwd := testnet.StartForwarder(t, logical)

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{
		"-contact", logical, "-address-map", logical + "=" + fwd.Addr(),
		"-tls-ca", pki.caFile, "-tls-cert", pki.clientCert, "-tls-key", pki.clientKey,
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
	if n := fwd.Accepted(); n == 0 {
		t.Errorf("the forwarder carried no connection: -address-map was not applied")
	}
}

// testPKI is a CA with one certificate for 127.0.0.1 (used by the node as
// server and as client of its peers) and one client certificate, written as
// PEM files.
type testPKI struct {
	pool                  *x509.CertPool
	node                  tls.Certificate
	caFile                string
	clientCert, clientKey string
}

func newTestPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loadgen test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, cn string) ([]byte, *ecdsa.PrivateKey) {
		k := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	nodeDER, nodeKey := issue(2, "node")
	p.node = tls.Certificate{Certificate: [][]byte{nodeDER}, PrivateKey: nodeKey}
	clientDER, clientKey := issue(3, "loadgen")
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	p.clientCert = writePEM(t, dir, "client.pem", "CERTIFICATE", clientDER)
	keyDER, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = writePEM(t, dir, "client.key", "EC PRIVATE KEY", keyDER)
	return p
}

func (p *testPKI) serverConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.node},
		ClientCAs:    p.pool,
		RootCAs:      p.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
