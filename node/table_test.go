package node

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

func addr(p int) wire.NodeAddress { return wire.NodeAddress{Host: "127.0.0.1", Port: p} }

func TestTableNewerThan(t *testing.T) {
	mk := func(epoch int64, w wire.NodeAddress) *allocTable {
		return &allocTable{epoch: epoch, writer: w, shards: map[string]map[int]wire.NodeAddress{}}
	}
	tests := []struct {
		name string
		a, b *allocTable
		want bool
	}{
		{"higher epoch wins", mk(5, addr(2)), mk(4, addr(1)), true},
		{"lower epoch never replaces", mk(4, addr(1)), mk(5, addr(2)), false},
		{"equal epoch: lower writer wins", mk(5, addr(1)), mk(5, addr(2)), true},
		{"equal epoch: higher writer loses", mk(5, addr(2)), mk(5, addr(1)), false},
		{"same table", mk(5, addr(1)), mk(5, addr(1)), false},
		{"anything beats the empty table", mk(0, addr(9)), emptyTable, true},
		{"empty never replaces", emptyTable, mk(0, addr(9)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.newerThan(tc.b); got != tc.want {
				t.Fatalf("newerThan = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTableMarshalRoundTrip(t *testing.T) {
	tb := &allocTable{epoch: 3<<termShift | 7, writer: addr(1), shards: map[string]map[int]wire.NodeAddress{
		"counter": {0: addr(1), 5: addr(2), 31: addr(1)},
		"other":   {2: {Host: "::1", Port: 9}},
	}}
	got, err := unmarshalTable(tb.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.epoch != tb.epoch || got.writer != tb.writer || len(got.shards) != 2 {
		t.Fatalf("got %+v, want %+v", got, tb)
	}
	for typ, m := range tb.shards {
		for s, a := range m {
			if got.shards[typ][s] != a {
				t.Fatalf("%s/%d = %v, want %v", typ, s, got.shards[typ][s], a)
			}
		}
	}
	if n := len(tb.marshal()); n > 300 {
		t.Errorf("encoded table is %d bytes", n)
	}
}

func TestUnmarshalTableRejectsGarbage(t *testing.T) {
	for _, in := range []string{``, `{`, `{"e":-1}`, `{"e":1,"n":["x"],"t":{}}`, `{"e":1,"n":["127.0.0.1:1"],"t":{"c":[[0,5]]}}`,
		`{"e":1,"n":["127.0.0.1:1"],"t":{"c":[[-1,0]]}}`, `{"e":1,"w":"nope","n":[],"t":{}}`} {
		if _, err := unmarshalTable([]byte(in)); !errors.Is(err, errBadTable) {
			t.Errorf("unmarshalTable(%q) = %v, want errBadTable", in, err)
		}
	}
}

func TestEpochTerms(t *testing.T) {
	if termOf(3<<termShift|5) != 3 {
		t.Fatal("termOf")
	}
	n := &Node{table: &allocTable{epoch: 2<<termShift | 9}, leadTerm: 2}
	if e := n.nextEpochLocked(); e != 2<<termShift|10 {
		t.Fatalf("next epoch %d, want %d", e, 2<<termShift|10)
	}
	// A table from a later term (another leader) moves our next write to a
	// fresh term above it.
	n.table = &allocTable{epoch: 4<<termShift | 1}
	if e := n.nextEpochLocked(); termOf(e) != 5 || e&seqMask != 0 {
		t.Fatalf("next epoch %d (term %d), want the start of term 5", e, termOf(e))
	}
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	cfg := Config{
		System:         "a/b",
		Listen:         "nope",
		Seeds:          []string{"127.0.0.1"},
		Entities:       []EntityType{{Name: "", Shards: 0}, {Name: "x", Shards: 1, New: func(string) Entity { return nil }}, {Name: "x", Shards: 1 << 20}},
		Services:       []Service{{Key: "", Path: "stats"}},
		MaxFrameSize:   10,
		OutboundLimit:  -1,
		RequestTimeout: -time.Second,
		Transport:      "carrier-pigeon",
	}
	err := cfg.Validate()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Validate = %v, want *ConfigError", err)
	}
	for _, want := range []string{"System", "Listen", "Seeds[0]", "Entities[0].Name", "Entities[0].Shards", "Entities[0].New",
		"Entities[2].Name", "Entities[2].Shards", "Services[0].Key", "Services[0].Path", "Services[0].Handler",
		"MaxFrameSize", "OutboundLimit", "RequestTimeout", "Transport"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	if err := (Config{Transport: TransportGnet, TLS: &tls.Config{}}).Validate(); err == nil || !strings.Contains(err.Error(), "gnet has no TLS") {
		t.Fatalf("gnet with TLS: %v, want a refusal", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Listen: "127.0.0.1:25520"}.withDefaults()
	if c.Gossip != "127.0.0.1:26520" || c.System != "live" || c.OutboundLimit != 64<<20 || c.TopologyPushInterval != time.Second || c.Transport != TransportGnet {
		t.Fatalf("defaults: gossip %q system %q outbound %d push %v transport %q", c.Gossip, c.System, c.OutboundLimit, c.TopologyPushInterval, c.Transport)
	}
	if c := (Config{}).withDefaults(); c.Gossip != "127.0.0.1:0" {
		t.Fatalf("gossip for port 0: %q", c.Gossip)
	}
	if c := (Config{TLS: &tls.Config{}}).withDefaults(); c.Transport != TransportNet {
		t.Fatalf("transport with TLS: %q, want %q", c.Transport, TransportNet)
	}
}

func TestMemberStatus(t *testing.T) {
	tests := []struct {
		name        string
		m           member
		want        wire.MemberStatus
		up, serving bool
	}{
		{"alive", member{alive: true}, wire.StatusUp, true, true},
		{"joining (table not merged yet)", member{alive: true, meta: nodeMeta{Joining: true}}, wire.StatusJoining, false, true},
		{"leaving", member{alive: true, meta: nodeMeta{Leaving: true}}, wire.StatusLeaving, false, false},
		{"dead", member{}, wire.StatusDown, false, false},
		{"left", member{left: true}, wire.StatusRemoved, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.status(); got != tc.want {
				t.Errorf("status %v, want %v", got, tc.want)
			}
			if got := tc.m.isUp(); got != tc.up {
				t.Errorf("isUp %v, want %v", got, tc.up)
			}
			if got := tc.m.isServing(); got != tc.serving {
				t.Errorf("isServing %v, want %v", got, tc.serving)
			}
		})
	}
}

// TestJoiningMemberIsNotLeader: the lowest address does not lead while it
// is joining, and keeps its shards through a rebalance.
func TestJoiningMemberIsNotLeader(t *testing.T) {
	typ := []metaType{{Name: "c", Shards: 4}}
	n := &Node{self: addr(3), log: slog.New(slog.DiscardHandler), ctr: newCounters(), table: emptyTable, members: map[wire.NodeAddress]*member{
		addr(1): {addr: addr(1), alive: true, meta: nodeMeta{Joining: true, Types: typ}},
		addr(2): {addr: addr(2), alive: true, meta: nodeMeta{Types: typ}},
		addr(3): {addr: addr(3), alive: true, meta: nodeMeta{Types: typ}},
	}}
	n.evalLeaderLocked()
	if n.leader != addr(2) {
		t.Fatalf("leader %v, want %v (lowest up; %v is joining)", n.leader, addr(2), addr(1))
	}
	tb := &allocTable{shards: map[string]map[int]wire.NodeAddress{"c": {0: addr(1), 1: addr(2)}}}
	if moved := n.rebalanceInto(tb); moved != 0 {
		t.Fatalf("rebalance moved %d shards, want 0 (a joining member keeps its shards)", moved)
	}
	if o, ok := n.pickOwner(tb, "c"); !ok || o != addr(3) {
		t.Fatalf("new shard to %v, want %v (fewest shards among up members)", o, addr(3))
	}
}
