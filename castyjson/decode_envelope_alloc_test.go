//go:build !race

package castyjson

import (
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// TestDecodeShardEnvelopeMemoAllocs: a repeated immutable message costs no
// allocation; other ids with the same message hit the memo too.
func TestDecodeShardEnvelopeMemoAllocs(t *testing.T) {
	r := testRegistry(t)
	p1, err := r.AppendValue(nil, wire.ShardEnvelope{EntityID: "user-1", Message: Increment{Amount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := r.AppendValue(nil, wire.ShardEnvelope{EntityID: "user-2", Message: Increment{Amount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var memo wire.MessageMemo
	if _, _, err := r.DecodeShardEnvelopeMemo(p1, &memo); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		id, msg, err := r.DecodeShardEnvelopeMemo(p2, &memo)
		if err != nil || string(id) != "user-2" || msg != (Increment{Amount: 1}) {
			t.Fatalf("got %q %#v %v", id, msg, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocs per repeated message", allocs)
	}
}
