package node

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
)

// TestIngestMemoBounds: the ingest memo keeps no entity id longer than
// maxMemoID, and an id over MaxEntityIDLen never reaches it (a dead
// letter before the memo is consulted).
func TestIngestMemoBounds(t *testing.T) {
	r := &region{typ: EntityType{Name: "c", Shards: 8}}
	var m ingestMemo
	long := strings.Repeat("x", maxMemoID+1)
	if id, _ := m.entity(r, []byte(long)); id != long || m.ids != nil {
		t.Fatalf("an id of %d bytes: got %q, memo table allocated: %v", len(long), id, m.ids != nil)
	}
	short := strings.Repeat("y", maxMemoID)
	m.entity(r, []byte(short))
	if m.ids == nil {
		t.Fatal("an id of maxMemoID bytes was not memoized")
	}

	reg := castyjson.NewRegistry()
	reg.MustRegister("app_messages.Increment", boundsInc{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var dead []DeadLetter
	n, err := Start(ctx, Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), MaxEntityIDLen: 100,
		OnDeadLetter: func(d DeadLetter) { dead = append(dead, d) },
		Entities:     []EntityType{{Name: "c", Shards: 1, New: func(string) Entity { return EntityFunc(func(*Context, any) {}) }}}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	frame, err := reg.AppendMessageFrame(nil, wire.NodeURI("live", n.Addr(), "/_region-c"), "casty://x@127.0.0.1:0/",
		wire.ShardEnvelope{EntityID: strings.Repeat("z", 101), Message: boundsInc{Amount: 1}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	l := n.newLink()
	l.handshook = true
	defer l.teardown(errClosed)
	if res := n.handleMessage(l, frame[wire.FrameHeaderLen:]); res != resOK {
		t.Fatalf("result %d", res)
	}
	if l.in.ids != nil || len(dead) != 1 || dead[0].Reason != wire.ReasonEntityID || len(dead[0].EntityID) != 100 {
		t.Fatalf("memo table allocated: %v; dead letters %+v", l.in.ids != nil, dead)
	}
}

type boundsInc struct {
	Amount int `casty:"amount"`
}
