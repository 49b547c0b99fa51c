package topo

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

type peer struct{ addr wire.NodeAddress }

func TestRoutes(t *testing.T) {
	p0, p1 := &peer{n0}, &peer{n1}
	r0 := NewRoutes[*peer](8)
	if r0.Len() != 8 || r0.Allocated() != 0 {
		t.Fatalf("NewRoutes(8): Len %d Allocated %d, want 8, 0", r0.Len(), r0.Allocated())
	}
	if o, ok := r0.Owner(3); ok || o != nil {
		t.Errorf("empty Owner(3) = %v, %v; want nil, false", o, ok)
	}
	r1 := r0.WithOwner(3, p0)
	if o, ok := r1.Owner(3); !ok || o != p0 {
		t.Errorf("Owner(3) = %v, %v; want p0, true", o, ok)
	}
	if _, ok := r0.Owner(3); ok {
		t.Error("WithOwner modified the receiver")
	}
	if r1.WithOwner(3, p0) != r1 {
		t.Error("no-op WithOwner returned a new table")
	}
	for _, shard := range []int{-1, 8, 1 << 40} {
		if r1.WithOwner(shard, p1) != r1 {
			t.Errorf("WithOwner(%d) out of range returned a new table", shard)
		}
		if _, ok := r1.Owner(shard); ok {
			t.Errorf("Owner(%d) out of range ok = true", shard)
		}
	}
	r2 := r1.WithOwner(5, p1).WithOwner(6, p0)
	if got := r2.Shards(nil, p0); !slices.Equal(got, []int{3, 6}) {
		t.Errorf("Shards(p0) = %v, want [3 6]", got)
	}
	r3 := r2.WithoutNode(p0)
	if got := r3.Allocated(); got != 1 {
		t.Errorf("after WithoutNode(p0): Allocated = %d, want 1", got)
	}
	if o, _ := r3.Owner(5); o != p1 {
		t.Errorf("after WithoutNode(p0): Owner(5) = %v, want p1", o)
	}
	if r3.WithoutNode(p0) != r3 || r3.WithoutNode(nil) != r3 {
		t.Error("no-op WithoutNode returned a new table")
	}
	if r2.Allocated() != 3 {
		t.Error("WithoutNode modified the receiver")
	}
	if r3.WithOwner(5, nil).Allocated() != 0 {
		t.Error("WithOwner(5, nil) did not deallocate")
	}
}

func TestRoutesEditor(t *testing.T) {
	p0, p1 := &peer{n0}, &peer{n1}
	base := NewRoutes[*peer](4).WithOwner(0, p0)
	e := base.Edit()
	if e.Routes() != base {
		t.Error("an unchanged edit returned a new table")
	}
	e = base.Edit()
	if !e.Set(1, p1) || e.Set(4, p1) || e.Set(-1, p1) {
		t.Error("Set range reporting wrong")
	}
	e.Set(2, p0)
	if o, ok := e.Owner(1); !ok || o != p1 || e.Len() != 4 {
		t.Errorf("editor Owner(1) = %v, %v; want p1", o, ok)
	}
	if _, ok := e.Owner(9); ok {
		t.Error("editor Owner(9) ok = true")
	}
	if n := e.ClearOwner(p0); n != 2 {
		t.Errorf("ClearOwner(p0) = %d, want 2", n)
	}
	e.Clear(1)
	e.Set(3, p1)
	r := e.Routes()
	for i, want := range []*peer{nil, nil, nil, p1} {
		if o, _ := r.Owner(i); o != want {
			t.Errorf("Owner(%d) = %v, want %v", i, o, want)
		}
	}
	if o, _ := base.Owner(0); o != p0 || base.Allocated() != 1 {
		t.Error("editing modified the base table")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("editor reuse after Routes did not panic")
			}
		}()
		e.Set(0, p1)
	}()
}

func TestRoutesNilAndZero(t *testing.T) {
	var nilR *Routes[wire.NodeAddress]
	if nilR.Len() != 0 || nilR.Allocated() != 0 || nilR.Shards(nil, n0) != nil {
		t.Error("nil Routes not empty")
	}
	if _, ok := nilR.Owner(0); ok {
		t.Error("nil Routes Owner ok = true")
	}
	if nilR.WithOwner(0, n0) != nilR || nilR.WithoutNode(n0) != nilR {
		t.Error("nil Routes With* returned a new table")
	}
	if r := nilR.Edit().Routes(); r == nil || r.Len() != 0 {
		t.Error("nil Routes Edit().Routes() not an empty table")
	}
	var zero Routes[wire.NodeAddress]
	if zero.Len() != 0 {
		t.Error("zero Routes Len != 0")
	}
	// wire.NodeAddress as owner: the zero address is "unallocated".
	r := NewRoutes[wire.NodeAddress](2).WithOwner(1, n2)
	if a, ok := r.Owner(1); !ok || a != n2 {
		t.Errorf("Owner(1) = %v, %v; want %v", a, ok, n2)
	}
}

func TestRoutesConcurrentReaders(t *testing.T) {
	// Run under -race: one writer derives and publishes, readers load once
	// per lookup.
	peers := []*peer{{n0}, {n1}, {n2}}
	var cur atomic.Pointer[Routes[*peer]]
	cur.Store(NewRoutes[*peer](32))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := cur.Load()
				if o, ok := r.Owner(i % 32); ok && !slices.Contains(peers, o) {
					t.Errorf("owner %v is none of the peers the writer sets", o)
					return
				}
			}
		}()
	}
	for i := range 500 {
		r := cur.Load().WithOwner(i%32, peers[i%3])
		if i%50 == 0 {
			r = r.WithoutNode(peers[0])
		}
		cur.Store(r)
	}
	close(stop)
	wg.Wait()
}
