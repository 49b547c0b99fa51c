package node

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
)

func addr(p int) wire.NodeAddress { return wire.NodeAddress{Host: "127.0.0.1", Port: p} }

func TestConfigValidateListsEveryProblem(t *testing.T) {
	cfg := Config{
		System:           "a/b",
		Listen:           "nope",
		Seeds:            []string{"127.0.0.1"},
		Entities:         []EntityType{{Name: "", Shards: 0}, {Name: "x", Shards: 1, New: func(string) Entity { return nil }}, {Name: "x", Shards: 1 << 20}},
		Services:         []Service{{Key: "", Path: "stats"}},
		MaxFrameSize:     10,
		OutboundLimit:    -1,
		RequestTimeout:   -time.Second,
		Transport:        "carrier-pigeon",
		Raft:             "x",
		GossipKey:        []byte("short"),
		GossipKeys:       [][]byte{[]byte("also-short")},
		Consensus:        ConsensusConfig{LeaseDuration: time.Millisecond, HeartbeatTimeout: time.Second, LeaderLeaseTimeout: 2 * time.Second},
		DrainWindow:      -time.Second,
		SocketRecvBuffer: -1,
	}
	err := cfg.Validate()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Validate = %v, want *ConfigError", err)
	}
	for _, want := range []string{"System", "Listen", "Seeds[0]", "Entities[0].Name", "Entities[0].Shards", "Entities[0].New",
		"Entities[2].Name", "Entities[2].Shards", "Services[0].Key", "Services[0].Path", "Services[0].Handler",
		"MaxFrameSize", "OutboundLimit", "RequestTimeout", "Transport", "Raft", "GossipKey is 5 bytes", "GossipKeys[0]",
		"Consensus.LeaseDuration", "Consensus.LeaderLeaseTimeout", "DrainWindow", "SocketRecvBuffer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	if err := (Config{Transport: TransportGnet, TLS: &tls.Config{}, GossipKey: make([]byte, 16)}).Validate(); err == nil || !strings.Contains(err.Error(), "gnet has no TLS") {
		t.Fatalf("gnet with TLS: %v, want a refusal", err)
	}
	// TLS authenticates clients; members need the gossip key as well.
	if err := (Config{TLS: &tls.Config{}}).Validate(); err == nil || !strings.Contains(err.Error(), "TLS without a GossipKey") {
		t.Fatalf("TLS without a gossip key: %v, want a refusal", err)
	}
	if err := (Config{TLS: &tls.Config{}, GossipKey: make([]byte, 32)}).Validate(); err != nil {
		t.Fatalf("TLS with a gossip key: %v", err)
	}
	if err := (Config{GossipKeys: [][]byte{make([]byte, 16)}}).Validate(); err == nil || !strings.Contains(err.Error(), "without a GossipKey") {
		t.Fatalf("GossipKeys without a primary: %v, want a refusal", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Listen: "127.0.0.1:25520"}.withDefaults()
	if c.Gossip != "127.0.0.1:26520" || c.System != "live" || c.OutboundLimit != 64<<20 || c.TopologyPushInterval != time.Second || c.Transport != TransportGnet {
		t.Fatalf("defaults: gossip %q system %q outbound %d push %v transport %q", c.Gossip, c.System, c.OutboundLimit, c.TopologyPushInterval, c.Transport)
	}
	if c.Consensus.LeaseDuration != DefaultLeaseDuration || c.Membership.RejoinInterval != 2*time.Second || c.DrainWindow != DefaultDrainWindow {
		t.Fatalf("consensus defaults: %+v rejoin %v drain %v", c.Consensus, c.Membership.RejoinInterval, c.DrainWindow)
	}
	if got := defaultRaftAddr(c.Listen, addr(25520)); got != "127.0.0.1:27520" {
		t.Fatalf("raft address %q, want listen port + %d", got, DefaultRaftPortOffset)
	}
	if got := defaultRaftAddr("127.0.0.1:0", addr(1)); got != "127.0.0.1:0" {
		t.Fatalf("raft address for port 0: %q", got)
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
		name    string
		m       member
		want    wire.MemberStatus
		serving bool
	}{
		{"alive", member{alive: true}, wire.StatusUp, true},
		{"joining (not caught up yet)", member{alive: true, meta: nodeMeta{Joining: true}}, wire.StatusJoining, true},
		{"leaving", member{alive: true, meta: nodeMeta{Leaving: true}}, wire.StatusLeaving, false},
		{"dead", member{}, wire.StatusDown, false},
		{"left", member{left: true}, wire.StatusRemoved, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.status(); got != tc.want {
				t.Errorf("status %v, want %v", got, tc.want)
			}
			if got := tc.m.isServing(); got != tc.serving {
				t.Errorf("isServing %v, want %v", got, tc.serving)
			}
		})
	}
}

func TestHopsOf(t *testing.T) {
	for sender, want := range map[string]int{
		"casty://live-client@127.0.0.9:0/":    0,
		"casty://live@127.0.0.1:25520/_fwd1":  1,
		"casty://live@127.0.0.1:25520/_fwd2":  2,
		"casty://live@127.0.0.1:25520/_fwd0":  0,
		"casty://live@127.0.0.1:25520/_fwdx":  0,
		"casty://live@127.0.0.1:25520/_fwd12": 0,
		"":                                    0,
	} {
		if got := hopsOf(sender); got != want {
			t.Errorf("hopsOf(%q) = %d, want %d", sender, got, want)
		}
	}
	for sender, want := range map[string]fwdInfo{
		"casty://live@127.0.0.1:25520/_fwd1.123": {hops: 1, epoch: 123},
		"casty://live@127.0.0.1:25520/_fwd2.0":   {hops: 2},
		"casty://live@127.0.0.1:25520/_fwd1":     {hops: 1},
		"casty://live@127.0.0.1:25520/_fwd1.":    {},
		"casty://live@127.0.0.1:25520/_fwd1.-5":  {},
		"casty://live@127.0.0.1:25520/_fwd1.x":   {},
		"casty://live@127.0.0.1:25520/_fwd1x9":   {},
	} {
		if got := fwdOf(sender); got != want {
			t.Errorf("fwdOf(%q) = %+v, want %+v", sender, got, want)
		}
	}
}
