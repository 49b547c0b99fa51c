package castyjson

import (
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// The ReplyTo cases gremlins found uncovered (TESTING.md, "Broad mutation
// score"), written when the registry was still in wire.

// TestReplyToUnplannableType: a struct the registry cannot encode (a chan
// field) has no reply_to as far as ReplyTo is concerned, even with a Ref
// field of that name, and asking does not panic.
func TestReplyToUnplannableType(t *testing.T) {
	type withChan struct {
		ReplyTo wire.Ref `casty:"reply_to"`
		C       chan int
	}
	ref := mustRef(t, "casty://s@h:1/_ask/1")
	for _, msg := range []any{withChan{ReplyTo: ref}, &withChan{ReplyTo: ref}} {
		got, ok := NewRegistry().ReplyTo(msg)
		if ok || !got.IsZero() {
			t.Errorf("ReplyTo(%T) = %v, %v; want the zero Ref, false", msg, got, ok)
		}
	}
}

// TestReplyToAnyFieldPosition: the reply_to field is found wherever it is
// in the struct, not only first (GetShardLocation's comes after shard_id).
func TestReplyToAnyFieldPosition(t *testing.T) {
	ref := mustRef(t, "casty://s@h:1/_proxy-t")
	type late struct {
		A, B    int
		S       string
		ReplyTo wire.Ref `casty:"reply_to"`
	}
	for _, msg := range []any{wire.GetShardLocation{ShardID: 3, ReplyTo: ref}, late{A: 1, ReplyTo: ref}} {
		if got, ok := NewRegistry().ReplyTo(msg); !ok || got != ref {
			t.Errorf("ReplyTo(%T) = %v, %v; want %v, true", msg, got, ok, ref)
		}
	}
}
