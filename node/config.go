package node

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/ring"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/zhbin"
)

// Transports for Config.Transport: how plaintext connections (clients
// and peers dialling in) are served. Which is faster depends on where the
// clients run (PERFORMANCE.md, "Node transports").
const (
	// TransportGnet serves every plaintext connection from gnet v2 event
	// loops (Config.EventLoops): no goroutine per connection, frames parsed
	// in place, idle entities run on the loop. The default: for a node in
	// its own process (cmd/node) it measured faster than TransportNet in
	// tells/s, asks/s and round-trip latency.
	TransportGnet = "gnet"
	// TransportNet serves each connection with a reader and a writer
	// goroutine on the Go runtime's network poller (net.Listener). Faster
	// when the clients run in the same process as the nodes (an embedded
	// cluster, as loadgen's and the in-process benchmarks'): the thread
	// that wrote a request picks the node's side up without waking another
	// thread. (nodetest clusters keep the default unless Options.Configure
	// sets it; the connection tests run on both.)
	TransportNet = "net"
)

// Defaults applied by Config for zero-valued fields.
const (
	DefaultTransport            = TransportGnet
	DefaultSystem               = "live"
	DefaultListen               = "127.0.0.1:0"
	DefaultGossipPortOffset     = 1000
	DefaultOutboundLimit        = 64 << 20
	DefaultMailboxSize          = 1024
	DefaultTopologyPushInterval = time.Second
	DefaultRequestTimeout       = 5 * time.Second
	DefaultMaxPendingRequests   = 4096
	DefaultMaxSubscribers       = 4096
	DefaultHandshakeTimeout     = 2 * time.Second
	DefaultDialTimeout          = 2 * time.Second
	DefaultPeerPendingLimit     = 8 << 20
	DefaultLeaveTimeout         = 10 * time.Second
	DefaultDrainWindow          = 3 * time.Second
	DefaultRaftPortOffset       = 2000
	DefaultLeaseDuration        = 2 * time.Second
	// DefaultPausedInboundLimit is how many bytes a paused gnet connection
	// may buffer before its event loop blocks (see "Entities and
	// backpressure" in doc.go).
	DefaultPausedInboundLimit = 4 << 20
	// Bounds against any peer (see "Bounds" in doc.go for what each costs).
	DefaultMaxConnections = 4096
	DefaultFrameTimeout   = 10 * time.Second
	DefaultInboundBudget  = 64 << 20
	DefaultMaxEntityIDLen = 256
	DefaultMaxEntities    = 1_000_000
	// InboundAllowance is what each connection may hold of an unfinished
	// inbound frame without charging Config.InboundBudget (a std link's
	// normal read buffer is this size).
	InboundAllowance = 64 << 10
)

// EntityType declares a sharded entity type hosted by the node: envelopes to
// /_region-{Name} are delivered to the entity named by their entity_id,
// created on first use by New. New is called on a worker goroutine and must
// not block. A plain value (copied by Start).
//
// Hash is the type's entity->shard function (package ring): the zero value
// is ring.HashMD5, Casty's, which every node and client must use next to
// Casty peers; ring.HashXXH64 only in a cluster of zerohop nodes. Like
// Shards it is cluster-wide: the first node to register the type fixes both
// in the consensus state, and a node configured otherwise hosts nothing of
// the type (it still forwards what reaches it). The node announces the
// cluster's hash to its clients in the handshake ("entity_hashes"), and
// zerohop clients route the type with it.
type EntityType struct {
	Name   string
	Shards int
	Hash   ring.Hash
	New    func(entityID string) Entity
}

// ShardOf returns the shard of entityID under the type's hash and shard
// count: the one place a node maps an id to a shard. It allocates
// nothing; Shards must be positive and Hash valid (Validate checks both).
func (e *EntityType) ShardOf(entityID string) int { return e.Hash.Shard(entityID, e.Shards) }

// Service declares a discoverable service: Handler receives every message
// sent to Path on this node, one at a time, and the node publishes
// (Key, this node, Path) in the topology registry while it is a member.
// A plain value (copied by Start; Handler is used as given).
type Service struct {
	Key     string
	Path    string
	Handler Entity
}

// MembershipConfig tunes hashicorp/memberlist and the unreachable detector.
// A plain value; zero fields mean the defaults below.
// The defaults are memberlist's LAN profile scaled down for loopback clusters
// that must notice a failure within a few seconds: probing every 300 ms with
// a 250 ms probe timeout and a suspicion multiplier of 4 declares an abruptly
// stopped node dead after roughly 1.5-4 s in a 3-node cluster. They keep
// memberlist's Lifeguard awareness (probe timeouts stretch when the local
// node itself is slow), which is what keeps a noisy, shared 2-core machine
// from flapping; do not shrink ProbeTimeout below ~100 ms there.
type MembershipConfig struct {
	ProbeInterval    time.Duration // default 300ms
	ProbeTimeout     time.Duration // default 250ms
	SuspicionMult    int           // default 4
	GossipInterval   time.Duration // default 100ms
	PushPullInterval time.Duration // anti-entropy of the allocation table; default 5s
	TCPTimeout       time.Duration // push/pull and join stream timeout; default 2s
	// UnreachableAfter: a member without a successful direct probe for this
	// long (times the number of other members, since memberlist probes them
	// in turn) is reported unreachable. Default 3 * ProbeInterval.
	UnreachableAfter time.Duration
	// DownRetention keeps down or removed members in snapshots this long
	// after they left. Default 30s.
	DownRetention time.Duration
	// JoinTimeout bounds the initial join with Seeds. Default 10s.
	JoinTimeout time.Duration
	// RejoinInterval: while a known member is down (not left) or a seed is
	// not among the alive members, the node joins them again this often,
	// which re-merges the two sides of a healed partition (memberlist alone
	// never contacts a member it declared dead). Default 2s.
	RejoinInterval time.Duration
}

// Config configures a Node. It is a plain value that may be copied; the
// zero value of every field means its documented default; Start copies the Config and never keeps the caller's
// pointers except TLS, PeerTLS, Registry, Logger, the entity factories and
// service handlers, which it uses as given.
type Config struct {
	// System is the actor system (cluster) name; default "live".
	System string
	// NodeID is the member id shown in snapshots; default "node-<advertise>".
	NodeID string
	// Listen is the client/peer listener address; default "127.0.0.1:0".
	Listen string
	// Advertise is this node's identity (handshake, URIs, snapshots);
	// default: the bound listen address.
	Advertise string
	// Gossip is memberlist's bind address; default: the listen host and the
	// listen port + 1000 (port 0 when the listen port is 0).
	Gossip string
	// GossipAdvertise is the gossip address announced to other members;
	// default: the bound gossip address.
	GossipAdvertise string
	// Seeds are gossip addresses of members to join; none = new cluster.
	Seeds []string
	// Transport is TransportGnet or TransportNet; default
	// DefaultTransport (gnet), or TransportNet when TLS is set (gnet has
	// no TLS; TransportGnet with TLS is refused).
	Transport string
	// TLS, when set, serves clients and peers over crypto/tls (set
	// ClientAuth for mTLS).
	TLS *tls.Config
	// PeerTLS is used to dial other nodes; default when TLS is set: the TLS
	// certificates as client certificates and TLS.ClientCAs as roots.
	PeerTLS *tls.Config
	// Registry maps Python type names to Go types; default castyjson.NewRegistry().
	// Message types of Entities and Services must be registered in it.
	Registry *castyjson.Registry
	// Binary, if set, is the zhbin codec (issue 12) this node offers to
	// zerohop clients: a connection whose client offers zhbin with the
	// same binary type table (zhbin.Negotiated) switches to it after the
	// handshake, for the client's frames and this node's replies; every
	// other connection (Casty peers, clients without it, a table
	// mismatch, other members) stays Casty JSON. Its JSON registry must be
	// Registry (nil Registry: Binary's). Default nil: JSON only.
	Binary *zhbin.Codec
	// BinaryHeads is how many frame heads this node keeps for each zhbin
	// connection (wire.FrameHeaded; its handshake's "heads"): the client
	// then sends a region's header (about 160 bytes) once, and a small id
	// with every envelope after it. 0 means wire.MaxHeads; a negative
	// value announces none, and the connection carries whole message
	// frames, as zerohop nodes before heads. It must be at most
	// wire.MaxHeads; it matters only with Binary.
	BinaryHeads int
	// BinaryWindow, when positive, bounds the frames a zhbin client keeps
	// in flight to this node: its handshake announces "window", and the
	// node acknowledges the frames it has handled (wire.FrameCredit), a
	// quarter of the window at a time. The socket buffers then hold at
	// most that many frames whatever their size, so an ask sent behind a
	// flood of 25-byte headed tells waits behind a bounded number of them
	// (PERFORMANCE.md, "Compact heads"). Default 0: no window (the
	// kernel's buffers, in bytes, bound the flight). At most
	// wire.MaxWindow; it matters only with Binary.
	BinaryWindow int
	// Entities are the sharded entity types this node hosts.
	Entities []EntityType
	// Services are the discoverable services this node hosts.
	Services []Service
	// Logger receives the node's logs; default slog.Default().
	Logger *slog.Logger
	// OnDeadLetter, if set, is called for every message the node accepted
	// and then dropped (see DeadLetter), on the goroutine that dropped it:
	// it must not block. It may be called concurrently.
	OnDeadLetter func(DeadLetter)
	// Pausable installs the pause gate behind Node.Pause and Resume, for
	// tests (node/nodetest sets it). Off (the default, and production),
	// none of it runs: memberlist's transport is not wrapped (the wrapper
	// adds two goroutines) and every gate check is a nil test.
	Pausable bool

	MaxFrameSize  int // default wire.DefaultMaxFrameSize
	OutboundLimit int // per-connection outbound bound in bytes; default 64 MiB
	MailboxSize   int // per-shard and per-service mailbox capacity; default 1024
	Workers       int // entity worker goroutines; default GOMAXPROCS
	EventLoops    int // TransportGnet: event loops; default GOMAXPROCS
	// SocketRecvBuffer, when above 0, sets the kernel receive buffer
	// (SO_RCVBUF, in bytes; Linux reserves twice the value and turns off
	// its autotuning for the socket) of every accepted connection. Default
	// 0: the kernel's, which on Linux grows up to net.ipv4.tcp_rmem's
	// maximum (32 MiB on the box PERFORMANCE.md describes). What a
	// client's flood leaves in it waits ahead of the client's next ask;
	// a small buffer (64 KiB) pushes that backlog back to the client's
	// queue, where its sojourn bound holds it (PERFORMANCE.md, "Asks
	// behind a flood"), at the cost of the link's throughput when the
	// buffer is below its bandwidth-delay product.
	SocketRecvBuffer int
	// PausedInboundLimit (TransportGnet) bounds the bytes a gnet connection
	// paused by a full mailbox may buffer before its event loop waits;
	// default 4 MiB.
	PausedInboundLimit int
	// TopologyPushInterval is the periodic snapshot push; default 1s.
	TopologyPushInterval time.Duration
	// RequestTimeout is the deadline of a GetShardLocation (or an envelope
	// for an unallocated shard) waiting for the table or the leader; default 5s.
	RequestTimeout time.Duration
	// MaxPendingRequests bounds those waiting requests; default 4096.
	MaxPendingRequests int
	// MaxSubscribers bounds the topology subscribers of this node; default 4096.
	MaxSubscribers   int
	HandshakeTimeout time.Duration // default 2s
	DialTimeout      time.Duration // default 2s
	// PeerPendingLimit bounds the bytes queued for a member on the
	// connection this node dialled to it (while it is being dialled, or
	// when the member does not read fast enough): past it, forwarding
	// pauses the connection (or mailbox) the envelope came from until the
	// member's connection has drained to half (Stats.PeerFull), and other
	// frames to the member are dropped and counted. The bound applied is
	// the smaller of this and OutboundLimit. Default 8 MiB.
	PeerPendingLimit int
	// LeaveTimeout bounds a graceful leave (Leave, Close): draining the
	// mailboxes, handing the shards over, leaving the consensus (the
	// ctx given may end it sooner). Default 10s.
	LeaveTimeout time.Duration
	// DrainWindow bounds how long a node that has handed its shards over
	// keeps forwarding envelopes that still reach it before Leave returns
	// (it returns as soon as none came for 300 ms). Default 3s.
	DrainWindow time.Duration

	// MaxConnections bounds the inbound connections open at once (clients
	// and members dialling in; the connections this node dials to members
	// are not counted): one more is closed as soon as it is accepted
	// (Stats.ConnectionsRefused). Default 4096. An idle connection costs
	// little, one in use up to about half a MiB (see "Bounds" in doc.go).
	MaxConnections int
	// FrameTimeout: once a connection has sent its handshake, a frame whose
	// first bytes arrived must be complete within FrameTimeout, or the
	// connection is closed (Stats.FrameTimeouts); time this process spent
	// stopped (a stall) is not counted. Idle connections (no unfinished
	// frame) are never timed out. Default 10s.
	FrameTimeout time.Duration
	// InboundBudget bounds the bytes held in unfinished inbound frames
	// beyond InboundAllowance (64 KiB) per connection, across all
	// connections of the node: a connection whose unfinished frame cannot
	// get a buffer from it is closed (Stats.InboundBudgetCuts). Frames up
	// to 64 KiB never touch it; a larger one takes a buffer from it that
	// doubles as the frame arrives (powers of two from 128 KiB, the
	// largest MaxFrameSize + 4) and holds the old and the new one while it
	// grows: up to three times the frame's size for a moment, 1.5 x
	// MaxFrameSize for the largest frames. Default 64 MiB.
	InboundBudget int
	// MaxEntityIDLen bounds the entity id of an envelope read from a
	// connection, in bytes: a longer one is not delivered (a dead letter,
	// wire.ReasonEntityID, carrying the id's first MaxEntityIDLen bytes).
	// Default 256.
	MaxEntityIDLen int
	// MaxEntities bounds the live entities of the node (all types): a
	// message that would start one more is a dead letter
	// (wire.ReasonEntityLimit; a warning is logged at a bounded rate).
	// Stats.EntitiesLive counts them. Default 1,000,000.
	MaxEntities int

	// Raft is the consensus port's bind address host:port (raft's
	// transport and the control RPC between members); default the listen
	// host with the listen port + DefaultRaftPortOffset (port 0 when the
	// listen port is 0). RaftAdvertise is the address members dial, when
	// it differs (port 0: the bound port).
	Raft, RaftAdvertise string
	// DataDir keeps the consensus log and snapshots on disk (a bolt
	// database and snapshot files), so that a restarted node rejoins as
	// itself with its state; empty keeps them in memory (a restarted node
	// must then be given Seeds: it rejoins as a new replica).
	DataDir string
	// GossipKey authenticates and encrypts the gossip (memberlist's
	// keyring) and authenticates the consensus port: a process without it
	// cannot join, get shards or talk to raft. 16, 24 or 32 bytes (AES-128,
	// -192, -256); required with TLS. GossipKeys are further keys accepted
	// (a rotation in progress: install the new key everywhere, make it
	// primary, then remove the old one, see Node.Keyring).
	GossipKey  []byte
	GossipKeys [][]byte

	Consensus  ConsensusConfig
	Membership MembershipConfig
}

// ConsensusConfig tunes raft and the ownership leases. A plain value; zero
// fields mean the defaults below.
type ConsensusConfig struct {
	// LeaseDuration is the ownership lease: a node serves its shards for
	// at most this long after it last renewed (it renews every fifth of
	// it), and a dead or cut-off node's shards move to others about
	// LeaseDuration + a tenth after its last renewal. Default 2s.
	LeaseDuration time.Duration
	// raft's timeouts (hashicorp/raft's Config); default 500ms each. A
	// dead leader is noticed after one to two HeartbeatTimeouts, and a
	// split vote costs one to two ElectionTimeouts more: with 1 s each,
	// five nodes took up to 4.6 s to elect a leader after a SIGKILL
	// (split votes), with 500ms 0.8 to 1.2 s (chaos leader-kill-5).
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
}

// ConfigError lists every problem Validate found. A plain value.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return "node: invalid config: " + strings.Join(e.Problems, "; ")
}

// withDefaults returns a copy of c with defaults applied.
func (c Config) withDefaults() Config {
	if c.System == "" {
		c.System = DefaultSystem
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Transport == "" {
		c.Transport = DefaultTransport
		if c.TLS != nil {
			c.Transport = TransportNet // gnet has no TLS
		}
	}
	if c.Gossip == "" {
		if h, p, err := net.SplitHostPort(c.Listen); err == nil {
			if port, err := strconv.Atoi(p); err == nil {
				gp := 0
				if port != 0 {
					gp = port + DefaultGossipPortOffset
				}
				c.Gossip = net.JoinHostPort(h, strconv.Itoa(gp))
			}
		}
	}
	c.Seeds = append([]string(nil), c.Seeds...)
	c.Entities = append([]EntityType(nil), c.Entities...)
	c.Services = append([]Service(nil), c.Services...)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = wire.DefaultMaxFrameSize
	}
	if c.OutboundLimit == 0 {
		c.OutboundLimit = DefaultOutboundLimit
	}
	if c.MailboxSize == 0 {
		c.MailboxSize = DefaultMailboxSize
	}
	if c.PausedInboundLimit == 0 {
		c.PausedInboundLimit = DefaultPausedInboundLimit
	}
	if c.TopologyPushInterval == 0 {
		c.TopologyPushInterval = DefaultTopologyPushInterval
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxPendingRequests == 0 {
		c.MaxPendingRequests = DefaultMaxPendingRequests
	}
	if c.MaxSubscribers == 0 {
		c.MaxSubscribers = DefaultMaxSubscribers
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.PeerPendingLimit == 0 {
		c.PeerPendingLimit = DefaultPeerPendingLimit
	}
	if c.LeaveTimeout == 0 {
		c.LeaveTimeout = DefaultLeaveTimeout
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.BinaryHeads == 0 {
		c.BinaryHeads = wire.MaxHeads
	}
	if c.FrameTimeout == 0 {
		c.FrameTimeout = DefaultFrameTimeout
	}
	if c.InboundBudget == 0 {
		c.InboundBudget = DefaultInboundBudget
	}
	if c.MaxEntityIDLen == 0 {
		c.MaxEntityIDLen = DefaultMaxEntityIDLen
	}
	if c.MaxEntities == 0 {
		c.MaxEntities = DefaultMaxEntities
	}
	if c.DrainWindow == 0 {
		c.DrainWindow = DefaultDrainWindow
	}
	c.GossipKey = append([]byte(nil), c.GossipKey...)
	c.GossipKeys = append([][]byte(nil), c.GossipKeys...)
	c.Consensus = c.Consensus.withDefaults()
	c.Membership = c.Membership.withDefaults()
	return c
}

// withDefaults returns a copy of cc with defaults applied.
func (cc ConsensusConfig) withDefaults() ConsensusConfig {
	if cc.LeaseDuration == 0 {
		cc.LeaseDuration = DefaultLeaseDuration
	}
	if cc.HeartbeatTimeout == 0 {
		cc.HeartbeatTimeout = 500 * time.Millisecond
	}
	if cc.ElectionTimeout == 0 {
		cc.ElectionTimeout = 500 * time.Millisecond
	}
	if cc.LeaderLeaseTimeout == 0 {
		cc.LeaderLeaseTimeout = 500 * time.Millisecond
	}
	return cc
}

// withDefaults returns a copy of m with defaults applied.
func (m MembershipConfig) withDefaults() MembershipConfig {
	if m.ProbeInterval == 0 {
		m.ProbeInterval = 300 * time.Millisecond
	}
	if m.ProbeTimeout == 0 {
		m.ProbeTimeout = 250 * time.Millisecond
	}
	if m.SuspicionMult == 0 {
		m.SuspicionMult = 4
	}
	if m.GossipInterval == 0 {
		m.GossipInterval = 100 * time.Millisecond
	}
	if m.PushPullInterval == 0 {
		m.PushPullInterval = 5 * time.Second
	}
	if m.TCPTimeout == 0 {
		m.TCPTimeout = 2 * time.Second
	}
	if m.UnreachableAfter == 0 {
		m.UnreachableAfter = 3 * m.ProbeInterval
	}
	if m.DownRetention == 0 {
		m.DownRetention = 30 * time.Second
	}
	if m.JoinTimeout == 0 {
		m.JoinTimeout = 10 * time.Second
	}
	if m.RejoinInterval == 0 {
		m.RejoinInterval = 2 * time.Second
	}
	return m
}

// errClosed is returned by operations on a closed node.
var errClosed = errors.New("node: closed")

// ErrClosed is returned by operations on a closed Node.
var ErrClosed = errClosed

// defaultRaftAddr is the consensus port's default bind address: the
// listen host and the listen port + DefaultRaftPortOffset, or port 0 when
// the node listens on port 0 (tests).
func defaultRaftAddr(listen string, self wire.NodeAddress) string {
	h, p, err := net.SplitHostPort(listen)
	if err != nil {
		return net.JoinHostPort(self.Host, "0")
	}
	port, _ := strconv.Atoi(p)
	if port == 0 {
		return net.JoinHostPort(h, "0")
	}
	return net.JoinHostPort(h, strconv.Itoa(port+DefaultRaftPortOffset))
}
