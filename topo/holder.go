package topo

import "sync/atomic"

// Holder publishes the current Snapshot. Readers Load it once per operation
// and use that pointer for the whole operation; writers Store a newly
// compiled Snapshot, which is published only if it differs from the current
// one, so a push that changes nothing does not disturb readers or their
// caches keyed by pointer.
//
// A Holder is safe for concurrent use by any number of readers and writers.
// Its zero value is usable and holds nil. It must not be copied after first
// use.
type Holder struct {
	_   noCopy
	cur atomic.Pointer[Snapshot]
}

// Load returns the current Snapshot, or nil before the first Store. It
// allocates nothing.
func (h *Holder) Load() *Snapshot { return h.cur.Load() }

// Store publishes s unless the current Snapshot is Equal to it, and reports
// whether it did. Concurrent Stores never lose an update: Store compares and
// swaps, retrying if another Store won in between. Storing nil clears the
// holder (and reports whether it held something).
func (h *Holder) Store(s *Snapshot) (changed bool) {
	for {
		old := h.cur.Load()
		if old.Equal(s) {
			return false
		}
		if h.cur.CompareAndSwap(old, s) {
			return true
		}
	}
}

// noCopy makes go vet's copylocks check flag copies of the types that embed
// it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
