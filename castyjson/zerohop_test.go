package castyjson

import (
	"reflect"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// The zerohop messages round-trip through the codec under their names.
func TestZerohopMessagesRoundTrip(t *testing.T) {
	reg := NewRegistry()
	leader := wire.NodeAddress{Host: "10.0.0.1", Port: 25520}
	ref := wire.Ref{Address: wire.Address{System: "live-client", Host: "127.0.0.9", Port: 0, Path: "/_ask/0123"}}
	for _, v := range []any{
		wire.ShardUnavailable{ShardID: 7, Reason: wire.ReasonNoQuorum},
		wire.Undeliverable{Reason: wire.ReasonHopLimit, Type: "counter", Shard: 3, EntityID: "user-1"},
		wire.GetNodeState{ReplyTo: ref},
		wire.NodeState{Node: leader, ID: "n0", Incarnation: 42, Role: "leader", Leader: &leader, Term: 3,
			CommitIndex: 10, Applied: 10, Epoch: 9, Voters: 3, Synced: true, MonoNow: 123, LeaseUntil: 456,
			Claims:   []wire.ShardClaim{{Type: "counter", Shard: 1, Since: 100, Epoch: 5, Until: 456}},
			Released: []wire.ShardClaim{{Type: "counter", Shard: 2, Since: 10, Epoch: 4, Until: 90}},
			Members:  []wire.Member{{Address: leader, Status: wire.StatusUp, Roles: nil, ID: "n0"}},
			Counters: map[string]int64{"forwarded": 2}},
	} {
		b, err := reg.AppendValue(nil, v)
		if err != nil {
			t.Fatalf("encode %T: %v", v, err)
		}
		got, err := reg.Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %T:\n got %#v\nwant %#v", v, got, v)
		}
		name, _ := reg.TypeName(v)
		if len(name) < 8 || name[:8] != "zerohop." {
			t.Errorf("%T registered as %q, want a zerohop.* name", v, name)
		}
	}
}

func TestReplyTo(t *testing.T) {
	reg := NewRegistry()
	ref := wire.Ref{Address: wire.Address{System: "live-client", Host: "127.0.0.9", Port: 0, Path: "/_ask/01"}}
	type withReply struct {
		ReplyTo wire.Ref
		N       int
	}
	type named struct {
		Back wire.Ref `casty:"reply_to"`
	}
	type wrongType struct {
		ReplyTo string
	}
	cases := []struct {
		msg  any
		want wire.Ref
		ok   bool
	}{
		{wire.GetNodeState{ReplyTo: ref}, ref, true},
		{&wire.GetNodeState{ReplyTo: ref}, ref, true},
		{withReply{ReplyTo: ref}, ref, true},
		{named{Back: ref}, ref, true},
		{withReply{}, wire.Ref{}, false},
		{wrongType{ReplyTo: "x"}, wire.Ref{}, false},
		{wire.ShardUnavailable{}, wire.Ref{}, false},
		{42, wire.Ref{}, false},
		{nil, wire.Ref{}, false},
		{(*wire.GetNodeState)(nil), wire.Ref{}, false},
	}
	for _, c := range cases {
		got, ok := reg.ReplyTo(c.msg)
		if got != c.want || ok != c.ok {
			t.Errorf("ReplyTo(%#v) = %v, %v; want %v, %v", c.msg, got, ok, c.want, c.ok)
		}
	}
}
