package node_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/internal/testpki"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
)

// TestMutualTLSCluster runs a 2-node mTLS cluster: a client with a
// certificate is served (including a follower asking the leader over the
// TLS peer connection); one without is refused.
func TestMutualTLSCluster(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	pki := testpki.New(t)
	c := nodetest.Start(t, 2, nodetest.Options{Configure: func(_ int, cfg *node.Config) {
		cfg.TLS = pki.ServerConfig()
		cfg.GossipKey = testpki.GossipKey()
	}})
	follower := c.Addr(sortedIdx2(c)[1])
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", follower.String(),
		pki.ClientConfig(true))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rc := clientOver(t, conn, follower, wire.NodeAddress{Host: "127.55.0.1", Port: 0})
	if ts := rc.snapshot(); len(ts.Members) != 2 {
		t.Fatalf("members %v", ts.Members)
	}
	if loc := rc.locate(4); loc.Node.IsZero() {
		t.Fatalf("location %+v", loc)
	}
	// No client certificate: refused.
	bad, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", follower.String(), pki.ClientConfig(false))
	if err == nil {
		defer bad.Close()
		_ = bad.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = bad.Write(wire.AppendHandshakeFrame(nil, wire.Handshake{Host: "127.55.0.2"}))
		if _, err = bad.Read(make([]byte, 16)); err == nil {
			t.Fatal("client without a certificate was served")
		}
	}
	poll.Until(t, "refusal counted", func() bool { return c.Node(sortedIdx2(c)[1]).Stats().HandshakesRefused > 0 })
}

func sortedIdx2(c *nodetest.LocalCluster) []int {
	if c.Addr(1).Less(c.Addr(0)) {
		return []int{1, 0}
	}
	return []int{0, 1}
}

// clientOver runs the client handshake over an established connection.
func clientOver(t *testing.T, conn net.Conn, addr, id wire.NodeAddress) *rawClient {
	t.Helper()
	rc := &rawClient{t: t, c: conn, fr: wire.NewFrameReader(conn, 0), reg: newRegistry(t), id: id, system: "live", node: addr}
	if _, err := conn.Write(wire.AppendHandshakeFrame(nil, wire.Handshake{Host: id.Host, Port: id.Port})); err != nil {
		t.Fatal(err)
	}
	typ, body, err := rc.next(5 * time.Second)
	if err != nil || typ != wire.FrameHandshake {
		t.Fatalf("handshake reply: %d %v", typ, err)
	}
	if rc.reply, err = wire.ParseHandshake(body); err != nil {
		t.Fatal(err)
	}
	return rc
}
