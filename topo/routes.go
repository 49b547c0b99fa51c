package topo

import "slices"

// Routes is an immutable shard -> owner table for one shard type on the
// client side, where the number of shards is known from configuration. It is
// what a client routes with when it merges several sources of truth
// (snapshot pushes, ShardLocation replies, evictions of failed nodes), as
// opposed to a single snapshot's Table.
//
// N is the owner type chosen by the caller; its zero value means
// "unallocated". Typical choices are a pointer to the caller's per-node
// connection state (then Owner yields the connection directly: one pointer
// load, one bounds check, one index) or wire.NodeAddress.
//
// A Routes is immutable and safe for concurrent use once created; publish it
// through an atomic.Pointer[Routes[N]] and Load it once per operation. Every
// With* method returns a new Routes (or the receiver itself when nothing
// changes), copying the table: O(Len). Apply bursts of changes through one
// Edit instead. The zero value is an empty table of length 0; a nil *Routes
// behaves the same for reads.
type Routes[N comparable] struct {
	owners []N
}

// NewRoutes returns a table of numShards unallocated shards. numShards must
// not be negative.
func NewRoutes[N comparable](numShards int) *Routes[N] {
	return &Routes[N]{owners: make([]N, numShards)}
}

// Len returns the number of shards.
func (r *Routes[N]) Len() int {
	if r == nil {
		return 0
	}
	return len(r.owners)
}

// Owner returns the owner of shard, and false when the shard is unallocated
// or out of range. It allocates nothing.
func (r *Routes[N]) Owner(shard int) (owner N, ok bool) {
	var zero N
	if r == nil || uint(shard) >= uint(len(r.owners)) {
		return zero, false
	}
	o := r.owners[shard]
	return o, o != zero
}

// Allocated returns the number of allocated shards (O(Len)).
func (r *Routes[N]) Allocated() int {
	var zero N
	n := 0
	for _, o := range r.ownersOrNil() {
		if o != zero {
			n++
		}
	}
	return n
}

// Shards appends to dst the shards owned by owner, in increasing order.
func (r *Routes[N]) Shards(dst []int, owner N) []int {
	for i, o := range r.ownersOrNil() {
		if o == owner {
			dst = append(dst, i)
		}
	}
	return dst
}

func (r *Routes[N]) ownersOrNil() []N {
	if r == nil {
		return nil
	}
	return r.owners
}

// WithOwner returns a table where shard is owned by owner (the zero N
// deallocates it). Out-of-range shards (a reply naming a shard this client
// does not have) and no-op changes return r itself.
func (r *Routes[N]) WithOwner(shard int, owner N) *Routes[N] {
	if cur, _ := r.Owner(shard); uint(shard) >= uint(r.Len()) || cur == owner {
		return r
	}
	e := r.Edit()
	e.Set(shard, owner)
	return e.Routes()
}

// WithoutNode returns a table where no shard is owned by owner, or r itself
// if owner owns nothing.
func (r *Routes[N]) WithoutNode(owner N) *Routes[N] {
	var zero N
	if owner == zero || !slices.Contains(r.ownersOrNil(), owner) {
		return r
	}
	e := r.Edit()
	e.ClearOwner(owner)
	return e.Routes()
}

// Edit starts a batch of changes to a copy of r. The copy is made lazily, on
// the first change.
func (r *Routes[N]) Edit() *RoutesEditor[N] {
	return &RoutesEditor[N]{base: r}
}

// RoutesEditor accumulates changes to a Routes and produces a new immutable
// Routes. It is not safe for concurrent use and is used once: after Routes
// returns, the editor must not be used again.
type RoutesEditor[N comparable] struct {
	base   *Routes[N]
	owners []N // copy of base.owners once written; nil until then
	done   bool
}

func (e *RoutesEditor[N]) write() []N {
	if e.done {
		panic("topo: RoutesEditor used after Routes")
	}
	if e.owners == nil {
		e.owners = slices.Clone(e.base.ownersOrNil())
		if e.owners == nil {
			e.owners = []N{}
		}
	}
	return e.owners
}

func (e *RoutesEditor[N]) current() []N {
	if e.owners != nil {
		return e.owners
	}
	return e.base.ownersOrNil()
}

// Len returns the number of shards.
func (e *RoutesEditor[N]) Len() int { return len(e.current()) }

// Owner returns the owner of shard in the edited table.
func (e *RoutesEditor[N]) Owner(shard int) (owner N, ok bool) {
	var zero N
	cur := e.current()
	if uint(shard) >= uint(len(cur)) {
		return zero, false
	}
	return cur[shard], cur[shard] != zero
}

// Set makes owner the owner of shard (the zero N deallocates it) and reports
// whether shard is in range; out-of-range shards are not stored.
func (e *RoutesEditor[N]) Set(shard int, owner N) bool {
	cur := e.current()
	if uint(shard) >= uint(len(cur)) {
		return false
	}
	if cur[shard] != owner {
		e.write()[shard] = owner
	}
	return true
}

// Clear deallocates shard.
func (e *RoutesEditor[N]) Clear(shard int) {
	var zero N
	e.Set(shard, zero)
}

// ClearOwner deallocates every shard owned by owner and returns how many
// there were.
func (e *RoutesEditor[N]) ClearOwner(owner N) int {
	var zero N
	if owner == zero {
		return 0
	}
	n := 0
	for i, o := range e.current() {
		if o == owner {
			e.write()[i] = zero
			n++
		}
	}
	return n
}

// Routes returns the edited table: the original Routes when nothing changed,
// otherwise a new one. The editor must not be used afterwards.
func (e *RoutesEditor[N]) Routes() *Routes[N] {
	if e.done {
		panic("topo: RoutesEditor used after Routes")
	}
	e.done = true
	if e.owners == nil {
		if e.base == nil {
			return &Routes[N]{}
		}
		return e.base
	}
	return &Routes[N]{owners: e.owners}
}
