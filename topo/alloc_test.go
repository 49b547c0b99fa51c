//go:build !race

package topo

import (
	"testing"
)

func TestLookupAllocs(t *testing.T) {
	var h Holder
	h.Store(Compile(goldenLike()))
	routes := NewRoutes[*peer](100).WithOwner(7, &peer{n0})
	var sink int32
	var okSink bool
	for name, f := range map[string]func(){
		"Holder.Load+Table.Owner": func() {
			i, ok := h.Load().Table("counter").Owner(3)
			sink += i
			okSink = okSink != ok
		},
		"Table.Owner out of range": func() {
			i, _ := h.Load().Table("counter").Owner(1 << 30)
			sink += i
		},
		"Snapshot.Owner": func() {
			a, ok := h.Load().Owner("counter", 10)
			sink += int32(a.Port)
			okSink = okSink != ok
		},
		"Routes.Owner": func() {
			p, ok := routes.Owner(7)
			okSink = okSink != (ok && p != nil)
		},
		"Services": func() { sink += int32(len(h.Load().Services("node-stats"))) },
	} {
		if got := testing.AllocsPerRun(1000, f); got != 0 {
			t.Errorf("%s allocs = %v, want 0", name, got)
		}
	}
	_, _ = sink, okSink
}
