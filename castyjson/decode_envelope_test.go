package castyjson

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

var shardEnvelopeSeeds = []string{
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "user-0", "message": {"_type": "app_messages.Increment", "amount": 5}}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "", "message": null}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "u\u00e9-\"x\"", "message": 3}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "é", "message": {"_type": "app.Unknown", "a": [1, 2]}}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": {"_type": "app_messages.Increment", "amount": 5}, "entity_id": "b"}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": {"_type": "app_messages.Increment", "amount": 5} } `,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": {"_type": "app_messages.Increment", "amount": 5}} x`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": {"_type": "app_messages.Increment", "amount": "x"}}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": {"_type": "app_messages.Increment", "amount": 5}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": {"__ref__": "casty://s@127.0.0.1:1/x"}}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": [[[[[[[[1]]]]]]]]}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a\x01", "message": 1}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": "\xff"}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": null, "message": 1}`,
	`{"_type": "` + wire.TypeShardEnvelope + `","entity_id":"a","message":1}`,
	`{"entity_id": "a", "_type": "` + wire.TypeShardEnvelope + `", "message": 1}`,
	`{"_type": "other.Type", "entity_id": "a", "message": 1}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": 1, "extra": 2}`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": }`,
	`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a"`,
	`null`, ``, `{}`,
}

// checkShardEnvelope asserts that DecodeShardEnvelope, and
// DecodeShardEnvelopeMemo with memo (twice: the second may hit the memo),
// agree with DecodeInto on payload: same value, same error text.
func checkShardEnvelope(t *testing.T, r *Registry, memo *wire.MessageMemo, payload []byte) {
	t.Helper()
	var want wire.ShardEnvelope
	wantErr := r.DecodeInto(payload, &want)
	for i := range 3 {
		var id []byte
		var msg any
		var err error
		if i == 0 {
			id, msg, err = r.DecodeShardEnvelope(payload)
		} else {
			id, msg, err = r.DecodeShardEnvelopeMemo(payload, memo)
		}
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("%q (%d): error %v, DecodeInto %v", payload, i, err, wantErr)
		}
		if err != nil {
			continue
		}
		if string(id) != want.EntityID || !reflect.DeepEqual(msg, want.Message) {
			t.Fatalf("%q (%d): got (%q, %#v), DecodeInto (%q, %#v)", payload, i, id, msg, want.EntityID, want.Message)
		}
	}
}

func TestDecodeShardEnvelopeMatchesDecodeInto(t *testing.T) {
	r := testRegistry(t)
	small := testRegistry(t)
	if err := small.SetLimits(Limits{MaxDepth: 3, MaxString: 4, MaxCollection: 2}); err != nil {
		t.Fatal(err)
	}
	var memo, smallMemo wire.MessageMemo
	for _, s := range shardEnvelopeSeeds {
		checkShardEnvelope(t, r, &memo, []byte(s))
		checkShardEnvelope(t, small, &smallMemo, []byte(s))
		// The same memo across registries must not leak values.
		checkShardEnvelope(t, small, &memo, []byte(s))
	}
	// The fast path must have been taken for the canonical encoding, with
	// the id aliasing the payload.
	p, err := r.AppendValue(nil, wire.ShardEnvelope{EntityID: "user-42", Message: Increment{Amount: 5}})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := r.DecodeShardEnvelope(p)
	if err != nil || string(id) != "user-42" {
		t.Fatalf("got %q, %v", id, err)
	}
	if i := bytes.Index(p, []byte("user-42")); &p[i] != &id[0] {
		t.Fatal("entity id does not alias the payload")
	}
}

// FuzzDecodeShardEnvelope: DecodeShardEnvelope never panics and agrees with
// DecodeInto on every input.
func FuzzDecodeShardEnvelope(f *testing.F) {
	for _, s := range shardEnvelopeSeeds {
		f.Add([]byte(s))
	}
	r := testRegistry(f)
	var memo wire.MessageMemo
	f.Fuzz(func(t *testing.T, payload []byte) { checkShardEnvelope(t, r, &memo, payload) })
}

// TestMessageMemoSharesOnlyImmutableValues: a message with a slice, map or
// pointer inside is decoded anew every time (wire.TestMessageMemoSharesOnlyImmutableValues
// checks the type rule itself).
func TestMessageMemoSharesOnlyImmutableValues(t *testing.T) {
	r := testRegistry(t)
	var memo wire.MessageMemo
	p := []byte(`{"_type": "` + wire.TypeShardEnvelope + `", "entity_id": "a", "message": {"_type": "app.Unknown", "a": [1]}}`)
	_, m1, err := r.DecodeShardEnvelopeMemo(p, &memo)
	if err != nil {
		t.Fatal(err)
	}
	_, m2, _ := r.DecodeShardEnvelopeMemo(p, &memo)
	m1.(Unknown).Fields["a"].([]any)[0] = int64(99)
	if m2.(Unknown).Fields["a"].([]any)[0] != int64(1) {
		t.Fatal("a mutable message was shared")
	}
}
