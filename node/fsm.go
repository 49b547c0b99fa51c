package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/zerohop/zerohop/wire"
)

// fsm is the replicated state machine behind the cluster's decisions: the
// allocation table and the registry of nodes that hold ownership leases.
// Every node runs one; raft applies the same commands in the same order on
// each, so every node's table at index i is the same table.
//
// Commands (command.Op):
//
//	renew  a node renews its ownership lease (and registers the entity
//	       types it hosts: the first registration of a type fixes its
//	       shard count and hash, and a node that disagrees on either
//	       hosts nothing of it); see lease.go for how the lease is timed
//	move   compare-and-set moves of shards: each applies only if the shard's
//	       owner is still From (so a decision made on an older table never
//	       applies to a newer one) and To may own it (a registered node, not
//	       leaving, hosting the type); To empty unallocates
//	leave  a node begins a graceful leave: it is no longer a candidate
//	forget a node that left is dropped from the registry (it owns nothing)
//
// The allocation epoch is the raft index of the last command that changed
// the table: it never goes backwards, and no two different tables have the
// same epoch.
//
// Concurrency: Apply, Snapshot and Restore are called by raft (Apply and
// Restore on its FSM goroutine, one at a time). mu guards st and seen;
// the published table is immutable and read with one atomic load. onTable
// is called after each table change, on raft's FSM goroutine, without mu.
type fsm struct {
	mu   sync.Mutex
	st   fsmState                     // guarded by mu; changed only by Apply and Restore
	seen map[wire.NodeAddress]seenRec // guarded by mu: local facts about renewals (not replicated)

	table   atomic.Pointer[allocTable]
	applied atomic.Uint64 // index of the last command applied

	waitMu sync.Mutex
	waitCh chan struct{} // closed and replaced on every apply; guarded by waitMu

	clock   func() time.Duration // monotonic time since the node's base
	onTable func(old, new *allocTable)
	// onTypes, when set, is called (outside mu) with the registered entity
	// types, their shard counts and hashes (fsmState.Hashes) after a renewal
	// registered a new one and the table did not change (a table change
	// calls onTable, which carries them). Set before raft starts.
	onTypes func(types map[string]int, hashes map[string]string)
}

// seenRec is what this replica saw of a node's renewals: when (its own
// monotonic clock) it applied the latest one, and that one's index.
type seenRec struct {
	at    time.Duration
	index uint64
}

// fsmState is the replicated state (JSON in raft snapshots).
type fsmState struct {
	Epoch uint64         `json:"epoch"`
	Types map[string]int `json:"types"` // entity type -> shard count (first registration wins)
	// Hashes: entity type -> the name of its shard hash, for the types
	// whose first registration named one other than MD5 (absent: MD5, so
	// a snapshot of an all-MD5 cluster is what it was before hashes, and
	// an older one decodes as MD5). First registration wins, as Types.
	Hashes map[string]string      `json:"hashes,omitempty"`
	Shards map[string][]slotRec   `json:"shards"` // entity type -> shard -> slot
	Nodes  map[string]*nodeRecord `json:"nodes"`  // by advertised address
}

// slotRec is one shard's owner and the index of the command that gave it
// that owner (0 with no owner).
type slotRec struct {
	Owner string `json:"o,omitempty"`
	Since uint64 `json:"s,omitempty"`
}

// nodeRecord is a node in the lease registry.
type nodeRecord struct {
	Addr    string   `json:"a"`
	Inc     uint64   `json:"i"`
	Types   []string `json:"t,omitempty"`
	Leaving bool     `json:"l,omitempty"`
	Renewed uint64   `json:"r"` // index of its last renewal
}

// Command operations.
const (
	opRenew  = "renew"
	opMove   = "move"
	opLeave  = "leave"
	opForget = "forget"
)

type command struct {
	Op    string     `json:"op"`
	Node  string     `json:"node,omitempty"`
	Inc   uint64     `json:"inc,omitempty"`
	Types []metaType `json:"types,omitempty"`
	Moves []moveCmd  `json:"moves,omitempty"`
}

// moveCmd moves one shard from From ("" unallocated) to To ("" unallocate).
type moveCmd struct {
	Type  string `json:"t"`
	Shard int    `json:"s"`
	From  string `json:"f,omitempty"`
	To    string `json:"o,omitempty"`
}

// applyResult is what Apply returns for a command (raft hands it to the
// ApplyFuture on the leader).
type applyResult struct {
	moved    int   // moves that applied
	newTypes bool  // a renewal registered an entity type
	err      error // a command that could not be decoded
}

func newFSM(clock func() time.Duration, onTable func(old, new *allocTable)) *fsm {
	f := &fsm{
		st:      fsmState{Types: map[string]int{}, Shards: map[string][]slotRec{}, Nodes: map[string]*nodeRecord{}},
		seen:    map[wire.NodeAddress]seenRec{},
		waitCh:  make(chan struct{}),
		clock:   clock,
		onTable: onTable,
	}
	f.table.Store(emptyTable)
	return f
}

func encodeCommand(c command) []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("node: encoding a command: %v", err)) // plain strings and ints
	}
	return b
}

var errBadCommand = errors.New("node: bad consensus command")

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		f.advance(l.Index)
		return nil
	}
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		f.advance(l.Index)
		return applyResult{err: errors.Join(errBadCommand, err)}
	}
	f.mu.Lock()
	old := f.table.Load()
	res := f.applyLocked(&c, l.Index)
	var next *allocTable
	if res.moved > 0 {
		f.st.Epoch = l.Index
		next = f.buildTableLocked()
		f.table.Store(next)
	}
	var types map[string]int
	var hashes map[string]string
	if res.newTypes && next == nil && f.onTypes != nil {
		types, hashes = maps.Clone(f.st.Types), maps.Clone(f.st.Hashes)
	}
	f.mu.Unlock()
	f.advance(l.Index)
	if next != nil && f.onTable != nil {
		f.onTable(old, next)
	}
	if types != nil {
		f.onTypes(types, hashes)
	}
	return res
}

func (f *fsm) applyLocked(c *command, index uint64) applyResult {
	st := &f.st
	switch c.Op {
	case opRenew:
		addr, err := wire.ParseNodeAddress(c.Node)
		if err != nil {
			return applyResult{err: errBadCommand}
		}
		r := st.Nodes[c.Node]
		if r == nil {
			r = &nodeRecord{Addr: c.Node}
			st.Nodes[c.Node] = r
		}
		r.Inc, r.Renewed = c.Inc, index
		r.Types = r.Types[:0]
		newTypes := false
		for _, t := range c.Types {
			if t.Shards <= 0 || t.Shards > maxShards {
				continue
			}
			h := canonHash(t.Hash)
			if _, ok := st.Types[t.Name]; !ok {
				st.Types[t.Name] = t.Shards
				st.Shards[t.Name] = make([]slotRec, t.Shards)
				if h != "" {
					if st.Hashes == nil {
						st.Hashes = map[string]string{}
					}
					st.Hashes[t.Name] = h
				}
				newTypes = true
			}
			// A node that disagrees on the count or the hash hosts nothing of
			// the type: its shards would not be the cluster's.
			if st.Types[t.Name] == t.Shards && st.Hashes[t.Name] == h {
				r.Types = append(r.Types, t.Name)
			}
		}
		slices.Sort(r.Types)
		f.seen[addr] = seenRec{at: f.clock(), index: index}
		return applyResult{newTypes: newTypes}
	case opMove:
		moved := 0
		for _, m := range c.Moves {
			slots := st.Shards[m.Type]
			if m.Shard < 0 || m.Shard >= len(slots) || slots[m.Shard].Owner != m.From {
				continue
			}
			if m.To != "" {
				r := st.Nodes[m.To]
				if r == nil || r.Leaving || !slices.Contains(r.Types, m.Type) {
					continue
				}
				slots[m.Shard] = slotRec{Owner: m.To, Since: index}
			} else {
				slots[m.Shard] = slotRec{}
			}
			moved++
		}
		return applyResult{moved: moved}
	case opLeave:
		if r := st.Nodes[c.Node]; r != nil {
			r.Leaving = true
		}
		return applyResult{}
	case opForget:
		for _, slots := range st.Shards {
			for _, s := range slots {
				if s.Owner == c.Node {
					return applyResult{} // still owns a shard: kept
				}
			}
		}
		delete(st.Nodes, c.Node)
		if a, err := wire.ParseNodeAddress(c.Node); err == nil {
			delete(f.seen, a)
		}
		return applyResult{}
	}
	return applyResult{err: fmt.Errorf("%w: unknown op %q", errBadCommand, c.Op)}
}

// buildTableLocked returns the immutable table of the current state.
func (f *fsm) buildTableLocked() *allocTable {
	t := &allocTable{epoch: int64(f.st.Epoch), types: make(map[string][]slot, len(f.st.Shards)), hashes: maps.Clone(f.st.Hashes)}
	for typ, slots := range f.st.Shards {
		s := make([]slot, len(slots))
		for i, r := range slots {
			if r.Owner == "" {
				continue
			}
			a, err := wire.ParseNodeAddress(r.Owner)
			if err != nil {
				continue // never written: moves name registered nodes only
			}
			s[i] = slot{owner: a, since: int64(r.Since)}
		}
		t.types[typ] = s
	}
	return t
}

// advance records index as applied and wakes waitApplied.
func (f *fsm) advance(index uint64) {
	f.applied.Store(index)
	f.waitMu.Lock()
	close(f.waitCh)
	f.waitCh = make(chan struct{})
	f.waitMu.Unlock()
}

// waitApplied waits until the FSM has applied index, or done is closed, or
// timeout passes; it reports whether index was applied.
func (f *fsm) waitApplied(index uint64, timeout time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		f.waitMu.Lock()
		ch := f.waitCh
		f.waitMu.Unlock()
		if f.applied.Load() >= index {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return f.applied.Load() >= index
		case <-done:
			return false
		}
	}
}

// view is a consistent copy of what the leader needs to decide: the
// registry, the shard counts, and when this replica applied each node's
// latest renewal.
type view struct {
	nodes  map[string]nodeRecord
	types  map[string]int
	seen   map[wire.NodeAddress]seenRec
	table  *allocTable
	epoch  uint64
	loaded uint64 // applied index when the view was taken
}

func (f *fsm) view() view {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := view{nodes: make(map[string]nodeRecord, len(f.st.Nodes)), types: maps.Clone(f.st.Types),
		seen: maps.Clone(f.seen), table: f.table.Load(), epoch: f.st.Epoch, loaded: f.applied.Load()}
	for k, r := range f.st.Nodes {
		c := *r
		c.Types = slices.Clone(r.Types)
		v.nodes[k] = c
	}
	return v
}

// seenAt returns when this replica applied addr's last renewal.
func (f *fsm) seenAt(addr wire.NodeAddress) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.seen[addr]
	return s.at, ok
}

// node returns the registry record of addr.
func (f *fsm) node(addr string) (nodeRecord, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.st.Nodes[addr]
	if r == nil {
		return nodeRecord{}, false
	}
	c := *r
	c.Types = slices.Clone(r.Types)
	return c, true
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(&f.st)
	if err != nil {
		return nil, err
	}
	return fsmSnapshot(b), nil
}

// Restore implements raft.FSM. Renewals of the restored nodes count as
// seen now: the times of the real ones are unknown here, and later is the
// safe side (see lease.go).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var st fsmState
	dec := json.NewDecoder(io.LimitReader(rc, 64<<20))
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("node: restoring the consensus snapshot: %w", err)
	}
	if st.Types == nil {
		st.Types = map[string]int{}
	}
	if st.Shards == nil {
		st.Shards = map[string][]slotRec{}
	}
	if st.Nodes == nil {
		st.Nodes = map[string]*nodeRecord{}
	}
	now := f.clock()
	f.mu.Lock()
	old := f.table.Load()
	f.st = st
	f.seen = map[wire.NodeAddress]seenRec{}
	for k, r := range st.Nodes {
		if a, err := wire.ParseNodeAddress(k); err == nil {
			f.seen[a] = seenRec{at: now, index: r.Renewed}
		}
	}
	next := f.buildTableLocked()
	f.table.Store(next)
	f.mu.Unlock()
	if f.onTable != nil {
		f.onTable(old, next)
	}
	return nil
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s fsmSnapshot) Release() {}

// canonHash returns the name of a shard hash as fsmState.Hashes records
// it: "" for MD5 (whether the command said "" or "md5"), else as given
// (a name this build does not know is kept and compared as it is: every
// replica applies the same rule).
func canonHash(name string) string {
	if name == "md5" {
		return ""
	}
	return name
}

// shardCount returns the shard count registered for typ.
func (f *fsm) shardCount(typ string) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.st.Types[typ]
	return v, ok
}
