package engine

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zerohop/zerohop/internal/gnetconn"
	"github.com/zerohop/zerohop/workload"
)

// transportAttachFails is a transport (gnet's, registered once for the
// package's tests) whose Attach refuses every connection to the address
// in attachFailsTo, as a transport out of resources would.
const transportAttachFails = "test-attach-fails"

var (
	attachFailsOnce sync.Once
	attachFailsTo   atomic.Pointer[string]
	errAttachTest   = errors.New("test: attach refused")
)

type attachFails struct {
	Transport
}

func (t attachFails) Attach(conn net.Conn, rx Receiver) (Link, error) {
	if p := attachFailsTo.Load(); p != nil && conn.RemoteAddr().String() == *p {
		_ = conn.Close()
		return nil, errAttachTest
	}
	return t.Transport.Attach(conn, rx)
}

// TestAttachFailureCounted: a connection whose transport refuses to attach
// it after the handshake is a failed attempt, counted in Stats and in the
// node's status (ConnectFailures) with the refusal as its cause, and the
// node is retried like any other failure.
func TestAttachFailureCounted(t *testing.T) {
	attachFailsOnce.Do(func() {
		RegisterTransport(transportAttachFails, func(tc TransportConfig) (Transport, error) {
			in, err := gnetconn.NewClient(tc)
			if err != nil {
				return nil, err
			}
			return attachFails{in}, nil
		})
	})
	cl := newFakeCluster(t, 2)
	const shard = 3
	id := entityOnShard(t, shard, 32, "af")
	cl.setAlloc("counter", shard, 1)
	n1 := cl.nodes[1]
	attachFailsTo.Store(&n1.listen)
	defer attachFailsTo.Store(nil)
	c := dialFake(t, cl, func(cfg *Config) { cfg.Transport = transportAttachFails })
	ref, _ := c.EntityRef("counter", 32)
	_ = ref.Tell(id, workload.Increment{Amount: 1}) // opens the connection to node 1 (the tell itself may be refused)
	waitFor(t, "two failed attaches to node 1", func() bool {
		for _, ns := range c.Nodes() {
			if ns.Node == n1.addr {
				return ns.ConnectFailures >= 2 && errors.Is(ns.Cause, errAttachTest)
			}
		}
		return false
	})
	if st := c.Stats(); st.ConnectFailures < 2 {
		t.Errorf("Stats().ConnectFailures = %d, want >= 2 (node 1's failed attaches)", st.ConnectFailures)
	}
	if n1.count(id) != 0 {
		t.Errorf("node 1 counted %d, want 0: no connection to it was ever attached", n1.count(id))
	}
}
