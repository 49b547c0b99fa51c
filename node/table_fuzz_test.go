package node

import (
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// FuzzUnmarshalTable: arbitrary input never panics, and a decoded table
// re-encodes to a table that decodes to the same thing.
func FuzzUnmarshalTable(f *testing.F) {
	f.Add((&allocTable{epoch: 1 << termShift, writer: addr(1), shards: map[string]map[int]wire.NodeAddress{
		"counter": {0: addr(1), 3: addr(2)}}}).marshal())
	f.Add([]byte(`{"e":0,"n":[],"t":{}}`))
	f.Add([]byte(`{"e":1,"n":["[::1]:5"],"t":{"x":[[1,0]]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, err := unmarshalTable(b)
		if err != nil {
			return
		}
		again, err := unmarshalTable(tb.marshal())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.epoch != tb.epoch || again.writer != tb.writer || len(again.shards) != len(tb.shards) {
			t.Fatalf("round trip: %+v != %+v", again, tb)
		}
		for typ, m := range tb.shards {
			for s, a := range m {
				if again.shards[typ][s] != a {
					t.Fatalf("%s/%d: %v != %v", typ, s, again.shards[typ][s], a)
				}
			}
		}
	})
}
