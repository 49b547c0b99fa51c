package node

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/zerohop/zerohop/wire"
)

// testFSM is an FSM with a settable clock that records the tables it
// publishes.
type testFSM struct {
	*fsm
	now    time.Duration
	tables []*allocTable
	index  uint64
}

func newTestFSM() *testFSM {
	tf := &testFSM{}
	tf.fsm = newFSM(func() time.Duration { return tf.now }, func(_, t *allocTable) { tf.tables = append(tf.tables, t) })
	return tf
}

func (tf *testFSM) apply(t *testing.T, c command) applyResult {
	t.Helper()
	tf.index++
	res, _ := tf.Apply(&raft.Log{Index: tf.index, Type: raft.LogCommand, Data: encodeCommand(c)}).(applyResult)
	if res.err != nil {
		t.Fatalf("apply %+v: %v", c, res.err)
	}
	return res
}

var counterType = []metaType{{Name: "counter", Shards: 4}}

func TestFSMMovesAreCompareAndSet(t *testing.T) {
	tf := newTestFSM()
	a, b := addr(1).String(), addr(2).String()
	tf.apply(t, command{Op: opRenew, Node: a, Inc: 7, Types: counterType})
	tf.apply(t, command{Op: opRenew, Node: b, Inc: 8, Types: counterType})
	if len(tf.tables) != 0 {
		t.Fatalf("renewals published %d tables, want none (they change no shard)", len(tf.tables))
	}
	// Allocate shard 0 to a: applies once.
	if res := tf.apply(t, command{Op: opMove, Moves: []moveCmd{{Type: "counter", Shard: 0, To: a}}}); res.moved != 1 {
		t.Fatalf("first allocation moved %d, want 1", res.moved)
	}
	// A second allocation decided on the old (unallocated) view does not apply.
	if res := tf.apply(t, command{Op: opMove, Moves: []moveCmd{{Type: "counter", Shard: 0, To: b}}}); res.moved != 0 {
		t.Fatalf("stale allocation moved %d, want 0", res.moved)
	}
	tb := tf.table.Load()
	if o, _ := tb.owner("counter", 0); o != addr(1) || tb.epoch != 3 || tb.slot("counter", 0).since != 3 {
		t.Fatalf("table %+v: want shard 0 on %v at epoch 3", tb, addr(1))
	}
	// A move from a to b applies; one still naming the old owner does not.
	tf.apply(t, command{Op: opMove, Moves: []moveCmd{{Type: "counter", Shard: 0, From: a, To: b}}})
	if res := tf.apply(t, command{Op: opMove, Moves: []moveCmd{{Type: "counter", Shard: 0, From: a, To: a}}}); res.moved != 0 {
		t.Fatalf("move from a former owner applied")
	}
	tb = tf.table.Load()
	if o, _ := tb.owner("counter", 0); o != addr(2) || tb.epoch != 5 || tb.slot("counter", 0).since != 5 {
		t.Fatalf("after the move: %+v", tb)
	}
	// Epochs grow with every published table; never twice the same.
	for i := 1; i < len(tf.tables); i++ {
		if tf.tables[i].epoch <= tf.tables[i-1].epoch {
			t.Fatalf("epoch %d after %d", tf.tables[i].epoch, tf.tables[i-1].epoch)
		}
	}
}

func TestFSMRefusesIneligibleOwners(t *testing.T) {
	tf := newTestFSM()
	a, b, c := addr(1).String(), addr(2).String(), addr(3).String()
	tf.apply(t, command{Op: opRenew, Node: a, Types: counterType})
	tf.apply(t, command{Op: opRenew, Node: b, Types: []metaType{{Name: "other", Shards: 2}}})
	tf.apply(t, command{Op: opRenew, Node: c, Types: []metaType{{Name: "counter", Shards: 8}}}) // disagrees on the count
	tf.apply(t, command{Op: opLeave, Node: a})
	for _, m := range []moveCmd{
		{Type: "counter", Shard: 1, To: a},           // leaving
		{Type: "counter", Shard: 1, To: b},           // does not host the type
		{Type: "counter", Shard: 1, To: c},           // another shard count: hosts nothing of it
		{Type: "counter", Shard: 1, To: "1.2.3.4:5"}, // never registered
		{Type: "counter", Shard: 4, To: a},           // out of range
		{Type: "nope", Shard: 0, To: a},              // unknown type
	} {
		if res := tf.apply(t, command{Op: opMove, Moves: []moveCmd{m}}); res.moved != 0 {
			t.Errorf("move %+v applied", m)
		}
	}
	if n, _ := tf.shardCount("counter"); n != 4 {
		t.Fatalf("shard count %d, want the first registration's 4", n)
	}
}

// TestFSMHashDisagreementHostsNothing: the first registration of a type
// fixes its shard hash as it fixes its count; a node whose hash differs
// hosts nothing of the type (no move to it applies), whichever the
// registered hash is, and MD5 is written as nothing (old logs and
// snapshots read as MD5).
func TestFSMHashDisagreementHostsNothing(t *testing.T) {
	tf := newTestFSM()
	a, b, c, d := addr(1).String(), addr(2).String(), addr(3).String(), addr(4).String()
	xx := []metaType{{Name: "counter", Shards: 4, Hash: "xxh64"}}
	tf.apply(t, command{Op: opRenew, Node: a, Types: xx})
	tf.apply(t, command{Op: opRenew, Node: b, Types: counterType})                                           // MD5: disagrees
	tf.apply(t, command{Op: opRenew, Node: c, Types: []metaType{{Name: "counter", Shards: 4, Hash: "md5"}}}) // MD5 by name
	tf.apply(t, command{Op: opRenew, Node: d, Types: xx})
	// The other way round: a type registered MD5 refuses an XXH64 node.
	tf.apply(t, command{Op: opRenew, Node: a, Types: append(xx, metaType{Name: "plain", Shards: 2})})
	tf.apply(t, command{Op: opRenew, Node: b, Types: append(counterType, metaType{Name: "plain", Shards: 2, Hash: "xxh64"})})
	for _, m := range []moveCmd{
		{Type: "counter", Shard: 0, To: b},
		{Type: "counter", Shard: 0, To: c},
		{Type: "plain", Shard: 0, To: b},
	} {
		if res := tf.apply(t, command{Op: opMove, Moves: []moveCmd{m}}); res.moved != 0 {
			t.Errorf("move %+v to a node that disagrees on the hash applied", m)
		}
	}
	for _, m := range []moveCmd{{Type: "counter", Shard: 0, To: d}, {Type: "counter", Shard: 1, To: a}, {Type: "plain", Shard: 0, To: a}} {
		if res := tf.apply(t, command{Op: opMove, Moves: []moveCmd{m}}); res.moved != 1 {
			t.Errorf("move %+v to a node that agrees did not apply", m)
		}
	}
	if got := tf.table.Load().hashes; len(got) != 1 || got["counter"] != "xxh64" {
		t.Fatalf("table hashes %v, want counter:xxh64 only (MD5 is absent)", got)
	}
	if got := string(encodeCommand(command{Op: opRenew, Node: b, Types: counterType})); bytes.Contains([]byte(got), []byte(`"h"`)) {
		t.Fatalf("an MD5 type encodes a hash: %s", got)
	}
	// A snapshot keeps the hashes; one without them (older) restores as MD5.
	snap, err := tf.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	other := newTestFSM()
	if err := other.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := other.table.Load().hashes["counter"]; got != "xxh64" {
		t.Fatalf("restored hash %q, want xxh64", got)
	}
	old := newTestFSM()
	if err := old.Restore(io.NopCloser(bytes.NewReader([]byte(`{"epoch":0,"types":{"counter":4},"shards":{"counter":[{},{},{},{}]},"nodes":{}}`)))); err != nil {
		t.Fatal(err)
	}
	old.apply(t, command{Op: opRenew, Node: a, Types: xx})
	if res := old.apply(t, command{Op: opMove, Moves: []moveCmd{{Type: "counter", Shard: 0, To: a}}}); res.moved != 0 {
		t.Fatal("a type of a snapshot without hashes (MD5) took an XXH64 node")
	}
}

func TestFSMForgetKeepsOwners(t *testing.T) {
	tf := newTestFSM()
	a := addr(1).String()
	tf.apply(t, command{Op: opRenew, Node: a, Types: counterType})
	tf.apply(t, command{Op: opMove, Moves: []moveCmd{{Type: "counter", Shard: 2, To: a}}})
	tf.apply(t, command{Op: opForget, Node: a})
	if _, ok := tf.node(a); !ok {
		t.Fatal("a node that owns a shard was forgotten")
	}
	tf.apply(t, command{Op: opMove, Moves: []moveCmd{{Type: "counter", Shard: 2, From: a}}})
	tf.apply(t, command{Op: opForget, Node: a})
	if _, ok := tf.node(a); ok {
		t.Fatal("a node that owns nothing was not forgotten")
	}
}

// The leader judges leases from when its replica applied each renewal.
func TestFSMRecordsRenewalTimes(t *testing.T) {
	tf := newTestFSM()
	tf.now = 5 * time.Second
	tf.apply(t, command{Op: opRenew, Node: addr(1).String(), Types: counterType})
	tf.now = 7 * time.Second
	tf.apply(t, command{Op: opRenew, Node: addr(2).String(), Types: counterType})
	v := tf.view()
	if v.seen[addr(1)].at != 5*time.Second || v.seen[addr(2)].at != 7*time.Second || v.seen[addr(1)].index != 1 {
		t.Fatalf("seen %+v", v.seen)
	}
}

func TestFSMSnapshotRestore(t *testing.T) {
	tf := newTestFSM()
	tf.apply(t, command{Op: opRenew, Node: addr(1).String(), Inc: 3, Types: counterType})
	tf.apply(t, command{Op: opMove, Moves: []moveCmd{{Type: "counter", Shard: 1, To: addr(1).String()}}})
	snap, err := tf.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	other := newTestFSM()
	other.now = 42 * time.Second
	if err := other.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	got := other.table.Load()
	if o, _ := got.owner("counter", 1); o != addr(1) || got.epoch != 2 {
		t.Fatalf("restored table %+v", got)
	}
	// Renewal times of a restored state are unknown: they count as now
	// (the safe side).
	if s := other.view().seen[addr(1)]; s.at != 42*time.Second {
		t.Fatalf("restored seen %+v, want now", s)
	}
	if len(other.tables) != 1 {
		t.Fatalf("restore published %d tables, want 1", len(other.tables))
	}
	if err := other.Restore(io.NopCloser(bytes.NewReader([]byte("{garbage")))); err == nil {
		t.Fatal("garbage snapshot restored")
	}
}

type memSink struct{ bytes.Buffer }

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }

// FuzzFSMApply: arbitrary command bytes never panic the state machine,
// and whatever applies keeps its invariants: every owner is a registered
// node (a move names a node hosting the type; a later renewal of that node
// may drop the type, which the leader repairs), epochs only grow.
func FuzzFSMApply(f *testing.F) {
	f.Add(encodeCommand(command{Op: opRenew, Node: "127.0.0.1:1", Types: counterType}))
	f.Add(encodeCommand(command{Op: opMove, Moves: []moveCmd{{Type: "counter", Shard: 1, To: "127.0.0.1:1"}}}))
	f.Add(encodeCommand(command{Op: opLeave, Node: "127.0.0.1:1"}))
	f.Add([]byte(`{"op":"move","moves":[{"t":"counter","s":-1,"o":"x"}]}`))
	f.Add([]byte(`{"op":"renew","node":"127.0.0.1:1","types":[{"n":"c","s":99999999}]}`))
	f.Add([]byte(`{"op":"renew","node":"127.0.0.1:2","types":[{"n":"counter","s":4,"h":"xxh64"},{"n":"x","s":2,"h":"md5"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tf := newTestFSM()
		tf.apply(t, command{Op: opRenew, Node: "127.0.0.1:1", Types: counterType})
		prev := tf.table.Load().epoch
		for i, chunk := range bytes.Split(b, []byte{'\n'}) {
			tf.index++
			tf.Apply(&raft.Log{Index: tf.index, Type: raft.LogCommand, Data: chunk})
			tb := tf.table.Load()
			if tb.epoch < prev {
				t.Fatalf("command %d: epoch %d after %d", i, tb.epoch, prev)
			}
			prev = tb.epoch
			for typ, slots := range tb.types {
				for s, sl := range slots {
					if sl.owner.IsZero() {
						continue
					}
					if _, ok := tf.node(sl.owner.String()); !ok {
						t.Fatalf("shard %s/%d owned by %v, which is not registered", typ, s, sl.owner)
					}
				}
			}
		}
	})
}

var _ = wire.NodeAddress{}
