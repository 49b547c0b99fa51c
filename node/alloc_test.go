//go:build !race

package node

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
)

type allocInc struct {
	Amount int `casty:"amount"`
}

// TestRegionPathAddsNoAllocations checks that delivering a ShardEnvelope
// (target path, owner lookup, mailbox, entity) allocates nothing beyond
// what decoding the payload with the registry allocates.
func TestRegionPathAddsNoAllocations(t *testing.T) {
	reg := castyjson.NewRegistry()
	reg.MustRegister("app_messages.Increment", allocInc{})
	sink := EntityFunc(func(*Context, any) {})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := Start(ctx, Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), MailboxSize: 1 << 16,
		Entities: []EntityType{{Name: "c", Shards: 1, New: func(string) Entity { return sink }}}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	frame, err := reg.AppendMessageFrame(nil, wire.NodeURI("live", n.Addr(), "/_region-c"), "casty://x@127.0.0.1:0/",
		wire.ShardEnvelope{EntityID: "e1", Message: allocInc{Amount: 1}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	body := frame[wire.FrameHeaderLen:]
	l := n.newLink()
	l.handshook = true
	// First message allocates the shard (leader) and creates the entity.
	if r := n.handleMessage(l, body); r != resOK {
		t.Fatalf("result %d", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.route.Load().owners[0][0] != n.self {
		if time.Now().After(deadline) {
			t.Fatal("shard not allocated")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, payload, _ := wire.ParseMessage(body)
	var env wire.ShardEnvelope
	decode := testing.AllocsPerRun(200, func() { _ = reg.DecodeInto(payload, &env) })
	full := testing.AllocsPerRun(200, func() {
		if r := n.handleMessage(l, body); r != resOK {
			t.Fatalf("result %d", r)
		}
	})
	if full > decode {
		t.Fatalf("region path: %.1f allocs per message, decoding alone %.1f", full, decode)
	}
	t.Logf("allocs per message: %.1f (all in decoding)", full)
}
