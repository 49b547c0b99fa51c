package node

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// Validate reports every problem of c (after defaults) at once as a
// *ConfigError, or nil.
func (c Config) Validate() error {
	c = c.withDefaults()
	var p problems
	c.validateAddresses(&p)
	c.validateEntities(&p)
	c.validateServices(&p)
	c.validateLimits(&p)
	c.validateConsensus(&p)
	c.validateKeys(&p)
	if c.Binary != nil && c.Registry != nil && c.Binary.JSON() != c.Registry {
		p.add("Binary's JSON registry is not Registry (make the zhbin codec with zhbin.New(Registry))")
	}
	if c.BinaryWindow < 0 || c.BinaryWindow > wire.MaxWindow {
		p.add("BinaryWindow %d is not in 0..wire.MaxWindow (%d)", c.BinaryWindow, wire.MaxWindow)
	}
	if c.BinaryHeads > wire.MaxHeads {
		p.add("BinaryHeads %d is above wire.MaxHeads (%d)", c.BinaryHeads, wire.MaxHeads)
	}
	if meta := c.meta(wire.NodeAddress{Host: "255.255.255.255", Port: 65535}, "255.255.255.255:65535", math.MaxUint64).marshal(); len(meta) > metaLimit {
		p.add("node metadata (entity types and services) is %d bytes, memberlist allows %d", len(meta), metaLimit)
	}
	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// problems collects Validate's findings, one sentence each.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// hostPort checks a host:port field; port 0 only when allowZero. Only the
// bind addresses (Listen, Gossip, Raft) may have an empty host.
func (p *problems) hostPort(name, v string, allowZero bool) {
	h, ps, err := net.SplitHostPort(v)
	if err != nil {
		p.add("%s %q: %v", name, v, err)
		return
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 || (!allowZero && port == 0) {
		p.add("%s %q: bad port", name, v)
	}
	if name != "Listen" && name != "Gossip" && name != "Raft" && h == "" {
		p.add("%s %q: empty host", name, v)
	}
}

func (p *problems) nonNegative(name string, v int) {
	if v < 0 {
		p.add("%s %d must not be negative", name, v)
	}
}

func (p *problems) nonNegativeDuration(name string, d time.Duration) {
	if d < 0 {
		p.add("%s %v must not be negative", name, d)
	}
}

func (c *Config) validateAddresses(p *problems) {
	if strings.ContainsAny(c.System, "@/: ") {
		p.add("System %q must not contain '@', '/', ':' or spaces", c.System)
	}
	switch c.Transport {
	case TransportNet:
	case TransportGnet:
		if c.TLS != nil {
			p.add("Transport %q: gnet has no TLS; leave Transport empty or set %q with TLS", c.Transport, TransportNet)
		}
	default:
		p.add("Transport %q: want %q or %q", c.Transport, TransportNet, TransportGnet)
	}
	p.hostPort("Listen", c.Listen, true)
	p.hostPort("Gossip", c.Gossip, true)
	if c.Advertise != "" {
		p.hostPort("Advertise", c.Advertise, false)
	}
	if c.GossipAdvertise != "" {
		p.hostPort("GossipAdvertise", c.GossipAdvertise, false)
	}
	for i, s := range c.Seeds {
		p.hostPort(fmt.Sprintf("Seeds[%d]", i), s, false)
	}
	if c.Raft != "" {
		p.hostPort("Raft", c.Raft, true)
	}
	if c.RaftAdvertise != "" {
		p.hostPort("RaftAdvertise", c.RaftAdvertise, true)
	}
}

func (c *Config) validateEntities(p *problems) {
	types := map[string]bool{}
	for i, e := range c.Entities {
		switch {
		case e.Name == "" || strings.ContainsAny(e.Name, "/ "):
			p.add("Entities[%d].Name %q must be non-empty without '/' or spaces", i, e.Name)
		case types[e.Name]:
			p.add("Entities[%d].Name %q is declared twice", i, e.Name)
		}
		types[e.Name] = true
		if e.Shards <= 0 || e.Shards > maxShards {
			p.add("Entities[%d].Shards %d must be in 1..%d", i, e.Shards, maxShards)
		}
		if !e.Hash.Valid() {
			p.add("Entities[%d].Hash %d is not a ring.Hash", i, e.Hash)
		}
		if e.New == nil {
			p.add("Entities[%d].New is nil", i)
		}
	}
}

func (c *Config) validateServices(p *problems) {
	paths := map[string]bool{}
	for i, s := range c.Services {
		if s.Key == "" {
			p.add("Services[%d].Key is empty", i)
		}
		if !strings.HasPrefix(s.Path, "/") || len(s.Path) < 2 || strings.HasPrefix(s.Path, "/_") {
			p.add("Services[%d].Path %q must start with '/' and not with '/_' (reserved)", i, s.Path)
		}
		if paths[s.Path] {
			p.add("Services[%d].Path %q is declared twice", i, s.Path)
		}
		paths[s.Path] = true
		if s.Handler == nil {
			p.add("Services[%d].Handler is nil", i)
		}
	}
}

func (c *Config) validateLimits(p *problems) {
	p.nonNegative("MaxFrameSize", c.MaxFrameSize)
	if c.MaxFrameSize > 0 && c.MaxFrameSize < 1024 {
		p.add("MaxFrameSize %d must be at least 1024", c.MaxFrameSize)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"OutboundLimit", c.OutboundLimit}, {"MailboxSize", c.MailboxSize},
		{"Workers", c.Workers}, {"EventLoops", c.EventLoops},
		{"PausedInboundLimit", c.PausedInboundLimit}, {"MaxPendingRequests", c.MaxPendingRequests},
		{"MaxSubscribers", c.MaxSubscribers}, {"PeerPendingLimit", c.PeerPendingLimit},
		{"MaxConnections", c.MaxConnections}, {"InboundBudget", c.InboundBudget},
		{"MaxEntityIDLen", c.MaxEntityIDLen}, {"MaxEntities", c.MaxEntities},
		{"SocketRecvBuffer", c.SocketRecvBuffer},
	} {
		p.nonNegative(f.name, f.v)
	}
	m := c.Membership
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"TopologyPushInterval", c.TopologyPushInterval}, {"RequestTimeout", c.RequestTimeout},
		{"HandshakeTimeout", c.HandshakeTimeout}, {"DialTimeout", c.DialTimeout},
		{"LeaveTimeout", c.LeaveTimeout}, {"FrameTimeout", c.FrameTimeout},
		{"Membership.ProbeInterval", m.ProbeInterval}, {"Membership.ProbeTimeout", m.ProbeTimeout},
		{"Membership.GossipInterval", m.GossipInterval}, {"Membership.PushPullInterval", m.PushPullInterval},
		{"Membership.TCPTimeout", m.TCPTimeout}, {"Membership.UnreachableAfter", m.UnreachableAfter},
		{"Membership.DownRetention", m.DownRetention}, {"Membership.JoinTimeout", m.JoinTimeout},
		{"Membership.RejoinInterval", m.RejoinInterval}, {"DrainWindow", c.DrainWindow},
	} {
		p.nonNegativeDuration(f.name, f.d)
	}
	if m.SuspicionMult < 0 {
		p.add("Membership.SuspicionMult %d must not be negative", m.SuspicionMult)
	}
}

func (c *Config) validateConsensus(p *problems) {
	cc := c.Consensus
	if cc.LeaseDuration < 0 || (cc.LeaseDuration > 0 && cc.LeaseDuration < 100*time.Millisecond) {
		p.add("Consensus.LeaseDuration %v must be at least 100ms", cc.LeaseDuration)
	}
	p.nonNegativeDuration("Consensus.HeartbeatTimeout", cc.HeartbeatTimeout)
	p.nonNegativeDuration("Consensus.ElectionTimeout", cc.ElectionTimeout)
	p.nonNegativeDuration("Consensus.LeaderLeaseTimeout", cc.LeaderLeaseTimeout)
	if cc.LeaderLeaseTimeout > cc.HeartbeatTimeout {
		p.add("Consensus.LeaderLeaseTimeout %v must not exceed HeartbeatTimeout %v", cc.LeaderLeaseTimeout, cc.HeartbeatTimeout)
	}
}

func (c *Config) validateKeys(p *problems) {
	for i, k := range append([][]byte{c.GossipKey}, c.GossipKeys...) {
		if (i == 0 && len(k) == 0) || len(k) == 16 || len(k) == 24 || len(k) == 32 {
			continue
		}
		if i == 0 {
			p.add("GossipKey is %d bytes; want 16, 24 or 32", len(k))
		} else {
			p.add("GossipKeys[%d] is %d bytes; want 16, 24 or 32", i-1, len(k))
		}
	}
	if len(c.GossipKey) == 0 && len(c.GossipKeys) > 0 {
		p.add("GossipKeys without a GossipKey (the primary)")
	}
	if c.TLS != nil && len(c.GossipKey) == 0 {
		p.add("TLS without a GossipKey: members would be authenticated on the client port only; set GossipKey (-gossip-key)")
	}
}
