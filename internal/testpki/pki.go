package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a CA and the certificates it issued.
type PKI struct {
	Pool   *x509.CertPool  // the CA, as roots and as client CAs
	Node   tls.Certificate // 127.0.0.1; server and client auth
	Client tls.Certificate // client auth

	caDER     []byte
	clientDER []byte
	clientKey *ecdsa.PrivateKey
}

// New makes a fresh CA and its two certificates.
func New(tb testing.TB) *PKI {
	tb.Helper()
	caKey := newKey(tb)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zerohop test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	issue := func(serial int64, cn string) ([]byte, *ecdsa.PrivateKey) {
		k := newKey(tb)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			tb.Fatal(err)
		}
		return der, k
	}
	p := &PKI{Pool: x509.NewCertPool(), caDER: caDER}
	p.Pool.AddCert(ca)
	nodeDER, nodeKey := issue(2, "node")
	p.Node = tls.Certificate{Certificate: [][]byte{nodeDER}, PrivateKey: nodeKey}
	p.clientDER, p.clientKey = issue(3, "client")
	p.Client = tls.Certificate{Certificate: [][]byte{p.clientDER}, PrivateKey: p.clientKey}
	return p
}

// ServerConfig serves with the node certificate and requires a client
// certificate signed by the CA (mTLS); it also trusts the CA as roots, for
// a node dialling its peers.
func (p *PKI) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Node}, ClientCAs: p.Pool, RootCAs: p.Pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

// ClientConfig trusts the CA and, withCert, presents the client
// certificate.
func (p *PKI) ClientConfig(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: p.Pool, MinVersion: tls.VersionTLS12}
	if withCert {
		c.Certificates = []tls.Certificate{p.Client}
	}
	return c
}

// WritePEM writes the CA certificate and the client certificate and key as
// PEM files in dir and returns their paths.
func (p *PKI) WritePEM(tb testing.TB, dir string) (caFile, clientCert, clientKey string) {
	tb.Helper()
	keyDER, err := x509.MarshalECPrivateKey(p.clientKey)
	if err != nil {
		tb.Fatal(err)
	}
	return writePEM(tb, dir, "ca.pem", "CERTIFICATE", p.caDER),
		writePEM(tb, dir, "client.pem", "CERTIFICATE", p.clientDER),
		writePEM(tb, dir, "client.key", "EC PRIVATE KEY", keyDER)
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func writePEM(tb testing.TB, dir, name, typ string, der []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// GossipKey is a fixed 32-byte gossip key for test clusters that run TLS
// (a node refuses TLS without one: members are authenticated by it).
func GossipKey() []byte { return []byte("zerohop-testpki-gossip-key-32byt") }
