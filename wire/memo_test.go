package wire

import (
	"reflect"
	"testing"
)

// TestMessageMemoSharesOnlyImmutableValues: only values no receiver can
// change are remembered.
func TestMessageMemoSharesOnlyImmutableValues(t *testing.T) {
	type inc struct{ Amount int }
	for _, c := range []struct {
		v    any
		want bool
	}{
		{inc{}, true}, {int64(1), true}, {"s", true}, {struct{ A, B int }{}, true},
		{struct{ A []int }{}, false}, {map[string]any{}, false}, {[]any{}, false},
		{struct{ P *int }{}, false}, {struct{ X any }{}, false}, {struct{ M map[string]any }{}, false},
	} {
		if got := immutableType(reflect.TypeOf(c.v), 0); got != c.want {
			t.Errorf("%T: %v, want %v", c.v, got, c.want)
		}
	}
}

// TestMessageMemoRecall: a remembered message comes back only for the same
// owner and the same bytes; mutable, nil and oversized messages are not
// remembered.
func TestMessageMemoRecall(t *testing.T) {
	type inc struct{ Amount int }
	a, b := new(int), new(int)
	raw := []byte(`{"_type": "app.Increment", "amount": 1}`)
	var m MessageMemo
	if _, ok := m.Recall(a, raw); ok {
		t.Fatal("the zero memo recalled a message")
	}
	m.Remember(a, raw, inc{1})
	if got, ok := m.Recall(a, raw); !ok || got != (inc{1}) {
		t.Fatalf("Recall = %v, %v; want inc{1}, true", got, ok)
	}
	raw[len(raw)-2] = '2' // the memo copied the bytes it keeps
	if _, ok := m.Recall(a, raw); ok {
		t.Error("recalled for different bytes")
	}
	raw[len(raw)-2] = '1'
	if _, ok := m.Recall(b, raw); ok {
		t.Error("recalled for another owner")
	}
	for _, msg := range []any{nil, struct{ A []int }{}} {
		m.Remember(a, raw, msg)
		if _, ok := m.Recall(a, raw); ok {
			t.Errorf("remembered %#v", msg)
		}
	}
	m.Remember(a, make([]byte, maxMemoMessage+1), inc{1})
	if _, ok := m.Recall(a, make([]byte, maxMemoMessage+1)); ok {
		t.Error("remembered a message over maxMemoMessage bytes")
	}
}
