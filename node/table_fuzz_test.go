package node

import (
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// FuzzUnmarshalTable: arbitrary input never panics, and a decoded table
// (with the hand-over of push/pull state, if any) re-encodes to one that
// decodes to the same thing.
func FuzzUnmarshalTable(f *testing.F) {
	tb := &allocTable{epoch: 1 << termShift, writer: addr(1), writerInc: 1<<63 + 7, shards: map[string]map[int]wire.NodeAddress{
		"counter": {0: addr(1), 3: addr(2)}}}
	f.Add(tb.marshal())
	f.Add(tb.marshalState(&termGrant{epoch: tb.epoch, to: addr(2), inc: 9}))
	f.Add([]byte(`{"e":0,"n":[],"t":{}}`))
	f.Add([]byte(`{"e":1,"n":["[::1]:5"],"t":{"x":[[1,0]]}}`))
	f.Add([]byte(`{"e":1,"w":"[::1]:5","n":[],"t":{},"g":{"to":"[::1]:6","i":3}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, g, err := unmarshalState(b)
		if err != nil {
			return
		}
		if g != nil && (g.epoch != tb.epoch || tb.writer.IsZero()) {
			t.Fatalf("hand-over %+v of table %d by %v", g, tb.epoch, tb.writer)
		}
		again, g2, err := unmarshalState(tb.marshalState(g))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.epoch != tb.epoch || again.writer != tb.writer || again.writerInc != tb.writerInc || len(again.shards) != len(tb.shards) {
			t.Fatalf("round trip: %+v != %+v", again, tb)
		}
		if (g == nil) != (g2 == nil) || (g != nil && *g != *g2) {
			t.Fatalf("hand-over round trip: %+v != %+v", g2, g)
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
