package engine

import (
	"testing"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/workload"
	"github.com/zerohop/zerohop/zhbin"
)

func binaryCodec(t testing.TB, reg *castyjson.Registry) *zhbin.Codec {
	t.Helper()
	c := zhbin.New(reg)
	if err := workload.RegisterBinary(c); err != nil {
		t.Fatal(err)
	}
	return c
}

// startBinaryCluster starts n nodes of the counter workload that speak
// zhbin (node.Config.Binary with the workload's types), each node's cfg
// adjusted by configure (nil: nothing more).
func startBinaryCluster(t *testing.T, n int, configure func(cfg *node.Config)) *nodetest.LocalCluster {
	t.Helper()
	return startCluster(t, n, nodetest.Options{Configure: func(_ int, cfg *node.Config) {
		cfg.Binary = binaryCodec(t, cfg.Registry)
		if configure != nil {
			configure(cfg)
		}
	}})
}

// dialBinary dials lc with a client that offers zhbin, its cfg adjusted by
// mod (nil: nothing more).
func dialBinary(t *testing.T, lc *nodetest.LocalCluster, mod func(*Config)) *Client {
	t.Helper()
	return dialCluster(t, lc, func(cfg *Config) {
		cfg.Binary = binaryCodec(t, cfg.Types)
		if mod != nil {
			mod(cfg)
		}
	})
}

// onlyConn returns c's first node connection (its only one, against one
// node).
func onlyConn(c *Client) *nodeConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connList[0]
}

// connCodecs counts c's connections by the codec their last handshake
// negotiated.
func connCodecs(c *Client) (bin, js int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nc := range c.connList {
		if nc.binary.Load() {
			bin++
		} else {
			js++
		}
	}
	return bin, js
}

func binaryConnections(lc *nodetest.LocalCluster, n int) (sum int64) {
	for i := range n {
		sum += lc.Node(i).Stats().BinaryConnections
	}
	return sum
}

// TestClusterBinary: a client with Config.Binary and nodes with
// node.Config.Binary speak zhbin on every connection; a client without it,
// or nodes without it, stay JSON; the workload's tells, asks and lookups
// work the same in every pairing.
func TestClusterBinary(t *testing.T) {
	const nodes = 3
	lc := startBinaryCluster(t, nodes, nil)
	t.Run("both offer", func(t *testing.T) {
		before := binaryConnections(lc, nodes)
		c := dialBinary(t, lc, nil)
		tellAskLookup(t, c, 32, 10, "bin")
		poll.Until(t, "every connection in zhbin", func() bool { b, j := connCodecs(c); return b == nodes && j == 0 })
		if got := binaryConnections(lc, nodes) - before; got < nodes {
			t.Errorf("nodes counted %d new binary connections, want at least %d", got, nodes)
		}
		if st := c.Stats(); st.DecodeErrors != 0 || st.BinaryConnects < nodes {
			t.Errorf("client: %d decode errors, %d binary connects; want 0 and at least %d", st.DecodeErrors, st.BinaryConnects, nodes)
		}
	})
	t.Run("client without", func(t *testing.T) {
		before := binaryConnections(lc, nodes)
		c := dialCluster(t, lc, nil)
		tellAskLookup(t, c, 32, 10, "json")
		if b, _ := connCodecs(c); b != 0 || c.Stats().BinaryConnects != 0 {
			t.Errorf("%d connections (%d connects) negotiated zhbin without the client offering it", b, c.Stats().BinaryConnects)
		}
		if got := binaryConnections(lc, nodes) - before; got != 0 {
			t.Errorf("nodes counted %d binary connections, want 0", got)
		}
	})
	t.Run("nodes without", func(t *testing.T) {
		plain := startCluster(t, 1, nodetest.Options{})
		c := dialBinary(t, plain, nil)
		tellAskLookup(t, c, 16, 5, "plain")
		if b, j := connCodecs(c); b != 0 || j == 0 {
			t.Errorf("connections: %d zhbin, %d JSON; want all JSON", b, j)
		}
	})
}
