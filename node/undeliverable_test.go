package node_test

import (
	"slices"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/internal/netconn"
	"github.com/zerohop/zerohop/internal/poll"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// TestUndeliverableNamesTheReason: an ask to an entity type the node does
// not host, or with a message type it does not know, is answered at once
// with wire.Undeliverable naming the reason (a zerohop client), counted
// (DeadLettersByReason, UndeliverableSent); a Casty client's gets no
// answer (the protocol Casty sees is unchanged).
func TestUndeliverableNamesTheReason(t *testing.T) {
	c := nodetest.Start(t, 1, nodetest.Options{})
	n := c.Node(0)
	rc := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.77.1.1", Port: 0}, netconn.Extension("live", wire.RoleClient))
	before := n.Stats()
	cases := []struct {
		name, typ, reason string
		msg               func(wire.Ref) any
	}{
		{"unknown entity type", "no-such-type", wire.ReasonUnknownEntityType,
			func(r wire.Ref) any { return workload.GetCount{ReplyTo: r} }},
		{"unknown message type", workload.DefaultEntityType, wire.ReasonUnknownMessageType,
			func(r wire.Ref) any {
				return castyjson.Unknown{Type: "other_module.GetCount", Fields: map[string]any{"reply_to": r}}
			}},
	}
	for i, tc := range cases {
		path := "/_ask/u" + string(rune('0'+i))
		rc.send(wire.PathRegionPrefix+tc.typ, wire.ShardEnvelope{EntityID: "e1", Message: tc.msg(rc.ref(path))})
		v, err := rc.recv(path, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		u, ok := v.(wire.Undeliverable)
		if !ok || u.Reason != tc.reason || u.Type != tc.typ || u.EntityID != "e1" {
			t.Fatalf("%s: got %#v, want Undeliverable %q for %s/e1", tc.name, v, tc.reason, tc.typ)
		}
	}
	poll.Until(t, "counted", func() bool {
		st := n.Stats()
		return st.UndeliverableSent == before.UndeliverableSent+2 &&
			st.DeadLettersByReason[wire.ReasonUnknownEntityType] == before.DeadLettersByReason[wire.ReasonUnknownEntityType]+1 &&
			st.DeadLettersByReason[wire.ReasonUnknownMessageType] == before.DeadLettersByReason[wire.ReasonUnknownMessageType]+1
	})

	// A Casty client (no extension): dropped and counted, not answered.
	casty := dialClient(t, n.Addr(), wire.NodeAddress{Host: "127.77.1.2", Port: 0}, nil)
	casty.send(wire.PathRegionPrefix+"no-such-type", wire.ShardEnvelope{EntityID: "e1", Message: workload.GetCount{ReplyTo: casty.ref("/_ask/c")}})
	poll.Until(t, "counted", func() bool {
		return n.Stats().DeadLettersByReason[wire.ReasonUnknownEntityType] == before.DeadLettersByReason[wire.ReasonUnknownEntityType]+2
	})
	if got := n.Stats().UndeliverableSent; got != before.UndeliverableSent+2 {
		t.Fatalf("UndeliverableSent %d after a Casty client's ask, want %d", got, before.UndeliverableSent+2)
	}
	casty.snapshot() // the connection goes on; no Undeliverable came before the snapshot
}

// TestHandshakeAnnouncesClusterTypes: a node's handshake reply names its
// own entity types and, once its allocation table knows them, the types
// other members host, each with the cluster's shard count.
func TestHandshakeAnnouncesClusterTypes(t *testing.T) {
	t.Parallel() // waits on cluster timers: overlaps the others' waits (the package's -count=5 fits go test's 10 min)
	c := nodetest.Start(t, 2, nodetest.Options{Configure: func(i int, cfg *node.Config) {
		if i == 1 {
			cfg.Entities = append(cfg.Entities, node.EntityType{Name: "extra", Shards: 8,
				New: cfg.Entities[0].New})
		}
	}})
	want := []wire.EntityShards{{Type: workload.DefaultEntityType, Shards: workload.DefaultShards}, {Type: "extra", Shards: 8}}
	var got []wire.EntityShards
	poll.Until(t, "node 0 announces node 1's type", func() bool {
		rc := dialClient(t, c.Addr(0), wire.NodeAddress{Host: "127.77.2.1", Port: 0}, netconn.Extension("live", wire.RoleClient))
		got = rc.reply.Zerohop.Entities
		_ = rc.c.Close()
		return slices.Equal(got, want)
	})
	rc := dialClient(t, c.Addr(1), wire.NodeAddress{Host: "127.77.2.2", Port: 0}, nil)
	if got := rc.reply.Zerohop.Entities; !slices.Equal(got, want) {
		t.Fatalf("node 1 announces %v, want %v", got, want)
	}
}
