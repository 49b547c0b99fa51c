package engine

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/zhbin"
)

// Transport names for Config.Transport.
const (
	// TransportNet runs each connection over a net.Conn (crypto/tls when
	// Config.TLS is set) with one reader goroutine and one writer.
	TransportNet = "net"
	// TransportGnet reads every connection from one gnet v2 client event
	// loop (plaintext only: gnet has no TLS). Selectable once package
	// engine/gnettransport is imported (it registers it).
	TransportGnet = "gnet"
)

// Defaults, as in Casty's ClusterClient where it has one.
const (
	DefaultLivenessWindow   = 10 * time.Second
	DefaultRefreshInterval  = time.Second
	DefaultAskTimeout       = 5 * time.Second
	DefaultConnectTimeout   = 2 * time.Second
	DefaultHandshakeTimeout = 2 * time.Second
	DefaultLocationTimeout  = 2 * time.Second
	DefaultRequeryDelay     = 500 * time.Millisecond
	DefaultReconnectMin     = 100 * time.Millisecond
	DefaultReconnectMax     = time.Second
	DefaultSuspectAfter     = 2 * time.Second
	DefaultBufferTimeout    = 10 * time.Second
	DefaultCloseTimeout     = 2 * time.Second
	DefaultShardBuffer      = 1024
	DefaultTotalBuffer      = 64 << 10
	DefaultQueueFrames      = 8192
	DefaultQueueTarget      = 5 * time.Millisecond
	DefaultQueueInterval    = 100 * time.Millisecond
	DefaultQueueWaitFrames  = 512
	DefaultMaxBatchBytes    = 256 << 10
	DefaultTransport        = TransportNet
)

// Config configures a Client. The zero value of every field means its
// documented default; ContactPoints and SystemName are required. Dial copies
// the Config; the caller may reuse it.
type Config struct {
	// ContactPoints are "host:port" logical addresses of cluster nodes;
	// the client subscribes to the first reachable one. Required.
	ContactPoints []string
	// SystemName is the cluster's actor system name ("live"). The
	// client's own actors use SystemName+"-client". Required.
	SystemName string

	// ClientHost and ClientPort are the client's identity in handshakes
	// and in every reply address it creates. The client never listens.
	// Default: a random 127.x.y.z and port 0, unique per client and
	// refused at once if a node ever dials it (PROTOCOL.md 10.1).
	ClientHost string
	ClientPort int
	// AdvertisedHost and AdvertisedPort, when AdvertisedHost is set,
	// replace ClientHost/ClientPort as the identity.
	AdvertisedHost string
	AdvertisedPort int

	// AddressMap maps a logical "host:port" (contact point, member,
	// allocation owner, service node) to the "host:port" to dial, e.g. an
	// SSH tunnel's local end. It is applied only when dialling; addresses
	// missing from the map are dialled as they are.
	AddressMap map[string]string
	// TLS, when set, wraps every connection (clone per connection;
	// ServerName defaults to the dialled host). Requires TransportNet.
	TLS *tls.Config
	// Dialer opens TCP connections; default net.Dialer. Tests use it to
	// observe every connection.
	Dialer func(ctx context.Context, network, address string) (net.Conn, error)
	// Transport is TransportNet or the name of a registered transport
	// (RegisterTransport), such as TransportGnet once engine/gnettransport
	// is imported (default DefaultTransport).
	Transport string

	// Types is the message registry (message structs registered under
	// their Python names). Default: castyjson.NewRegistry(), protocol types only.
	Types *castyjson.Registry
	// Binary, if set, is the zhbin codec (issue 12) the client offers in
	// its handshake: a connection to a zerohop node that chooses it (with
	// the same binary type table) encodes its frames' payloads with it and
	// reads the node's replies with it; every other connection (Casty
	// nodes, nodes without it, a table mismatch) stays Casty JSON byte for
	// byte. Its JSON registry must be Types (nil Types: Binary's).
	// Default nil: JSON only.
	Binary *zhbin.Codec

	// LivenessWindow: without a snapshot from the primary subscription
	// (the node whose snapshots are applied with the leader's) for this
	// long, re-subscribe to the next contact (static contacts plus every
	// member learned); a primary whose connection becomes suspect (see
	// SuspectAfter) is left at once. Default 10 s.
	LivenessWindow time.Duration
	// RefreshInterval: SubscribeTopology is re-sent this often to every
	// subscribed node (the primary, the leader and every live member;
	// idempotent, answered with a fresh snapshot). Default 1 s.
	RefreshInterval time.Duration
	// AskTimeout bounds an Ask whose context has no deadline. Default 5 s.
	AskTimeout time.Duration
	// ConnectTimeout bounds TCP (and TLS) connect. Default 2 s.
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds the wait for a node's handshake reply.
	// Default 2 s.
	HandshakeTimeout time.Duration
	// LocationTimeout bounds the wait for a ShardLocation before the
	// GetShardLocation is retried (with jitter). Default 2 s.
	LocationTimeout time.Duration
	// RequeryDelay: the shards of a node whose connection failed (or
	// became suspect) are queried again after this delay (jittered
	// +-50%); after a ShardUnavailable answer, new messages for the shard
	// fail fast for this long (jittered) before it is asked for again.
	// Default 0.5 s.
	RequeryDelay time.Duration
	// ReconnectMin and ReconnectMax bound the jittered exponential backoff
	// between connection attempts to a node: the wait before an attempt is
	// uniform in [b/2, b], b doubling from ReconnectMin up to ReconnectMax.
	// A node the cluster reports up again, a shard routed to it, or any
	// membership change in an applied snapshot cuts the wait short, but
	// attempts stay at least ReconnectMin apart. Defaults 100 ms, 1 s: a
	// node restarted at the same address is reconnected within about a
	// second even when nothing in the membership changed.
	ReconnectMin, ReconnectMax time.Duration
	// SuspectAfter: a connection that is up but has received nothing for
	// this long is suspect: sends to the node fail fast with
	// *OwnerUnavailableError (cause ErrSuspect) and asks waiting on it
	// fail, until the node sends anything again. The client subscribes to
	// the topology of every member it keeps a connection to, so a live
	// node sends at least its periodic snapshots (Go nodes every second,
	// Casty nodes several times a second) and the answers to the
	// SubscribeTopology the client re-sends every RefreshInterval: keep
	// SuspectAfter above both. Default 2 s.
	SuspectAfter time.Duration

	// ShardBuffer bounds the messages held for one shard whose location is
	// unknown; TotalBuffer bounds them over the whole client. Defaults
	// 1024 and 65536.
	ShardBuffer, TotalBuffer int
	// BufferTimeout: a held message whose location is still unknown after
	// this long is dropped and counted (DropExpired). Default 10 s.
	BufferTimeout time.Duration
	// QueueFrames bounds each node connection's outbound queue, in frames.
	// Default 8192 (rounded up to a power of two).
	QueueFrames int
	// QueueTarget bounds each node connection's outbound queue in time
	// (a sojourn target, in the spirit of CoDel): while the oldest frame
	// still queued after the writer's last drain has waited longer than
	// this, tells to that node are refused (Tell returns *BufferFullError,
	// counted as DropQueueSojourn) or wait (TellContext), so that the
	// queue holds about what keeps the link busy and an Ask queued behind
	// a flood of tells waits about QueueTarget, not QueueFrames frames.
	// Asks, held messages and control frames are never refused by it
	// (they keep the QueueFrames bound only) and keep their place in the
	// connection's FIFO order. Precision: ages are measured with a clock
	// the writer reads once per drain (never per Tell), so a frame's age
	// is over-estimated by at most one write; once the queue has been
	// late, and until the writer idles, tells are also kept below the
	// frames the writer was measured to write in QueueTarget. Only the
	// client's queue is bounded: bytes already in the kernel's socket
	// buffers or the node's mailboxes are not seen. Default 5 ms
	// (PERFORMANCE.md, "Asks behind a flood"); a negative value disables
	// the bound.
	QueueTarget time.Duration
	// QueueInterval is how long the oldest queued frame must have stayed
	// older than QueueTarget before tells are refused (CoDel's interval):
	// a burst, or a writer the scheduler did not run for a few
	// milliseconds, is absorbed by the slots; only a standing queue is
	// refused. Default 100 ms; a negative value refuses at once.
	QueueInterval time.Duration
	// QueueWaitFrames: TellContext waits once this many frames are queued
	// to the owner, where Tell (which cannot wait) may go on to
	// QueueFrames. Default 512, the queue's hot buffers (outQueue in
	// queue.go): a flood of TellContext then stays in a core's cache,
	// 1.6x faster end to end than with 8192 frames queued
	// (PERFORMANCE.md, "Hot buffers"), and 512 frames are more than one
	// write. A negative value: no such bound (TellContext waits when the
	// queue is full for Tell). With a small SocketSendBuffer the queue is
	// where the link's backlog waits, and in one process (client and
	// nodes sharing the cores) 512 frames plus a 64 KiB socket buffer
	// left the cores idle between wake-ups (0.3-0.7 M tells/s against
	// 1.9-2.0 M without the bound): there, set it negative or larger.
	QueueWaitFrames int
	// SocketSendBuffer, when above 0, sets each node connection's kernel
	// send buffer (SO_SNDBUF, in bytes; Linux reserves twice the value
	// and turns off its autotuning for the socket). Default 0: the
	// kernel's, which on Linux grows up to net.ipv4.tcp_wmem's maximum
	// (4 MiB by default). The bytes in it are past QueueTarget's reach: a
	// flood of tells to a node that does not keep up fills it before the
	// queue grows, and an Ask waits behind it. A small buffer (64 KiB)
	// moves that backlog into the queue, where QueueTarget bounds it
	// (PERFORMANCE.md, "Asks behind a flood": the mixed run's asks);
	// too small for the link's bandwidth-delay product, it caps the
	// link's throughput. Applied only to *net.TCPConn connections (not to
	// those of a Dialer that returns another type).
	SocketSendBuffer int
	// MaxBatchBytes bounds the bytes gathered into one write. Default
	// 256 KiB.
	MaxBatchBytes int
	// MaxFrameSize caps inbound and outbound frames. Default 16 MiB.
	MaxFrameSize int
	// CloseTimeout bounds the drain of Close (Shutdown takes a ctx).
	// Default 2 s.
	CloseTimeout time.Duration

	// Logger receives connection and routing events. Default: discard.
	Logger *slog.Logger

	// OnDrop, when set, is told of every message the client accepted
	// and dropped later, which no caller hears of otherwise (package
	// documentation, "Accepted, then dropped"): a held message whose
	// shard's location stayed unknown (DropExpired), failed by a
	// ShardUnavailable answer (DropUnavailable), refused by its owner's
	// connection when its location arrived (DropOwnerUnavailable,
	// DropQueueFull, DropClosed; DropEncode for a frame over MaxFrameSize)
	// or still held at Shutdown (DropClosed);
	// frames discarded from a connection's queue when the connection
	// failed (DropConnLost) or the client closed (DropClosed). A held
	// message is reported with its entity type, shard and id; queued
	// frames without them (Shard -1), in batches: see Drop. Refusals
	// returned as errors (by Tell, TellContext, a service Tell) and the
	// messages of asks (the Ask returns the error) are not reported;
	// every one of them is counted in Stats().Drops all the same.
	//
	// It is called synchronously on the goroutine that drops (the
	// maintenance tick, a connection's reader, supervisor or writer,
	// Shutdown), possibly from several at once and possibly with the
	// client's internal locks held: it must not block and must not call
	// any method of the Client or of its refs (Stats included); record
	// what it needs (atomics, a non-blocking channel send) and return.
	// It is never called on the path of a Tell that succeeds.
	OnDrop func(Drop)

	// OnConnState, when set, is told of every change of a node
	// connection's state (ConnStateEvent): connected, disconnected
	// (reconnecting or down), suspect, recovered, closed. It is called
	// from one goroutine the client owns, in the order the changes were
	// seen, never on the goroutine that changed the state and never
	// under a lock: it may take its time and may call the Client's
	// methods (Nodes, Stats), except Close and Shutdown, which wait for
	// it. The client never waits for it: events beyond a buffer of 256
	// not yet told are dropped and counted (Stats.ConnEventsDropped);
	// Nodes is the current truth. Shutdown tells the events buffered
	// until then (the NodeClosed ones included) before returning.
	OnConnState func(ConnStateEvent)

	// reconnectJitter, when set (tests only), replaces the jittered
	// reconnect wait for backoff b (see Client.backoffStep).
	reconnectJitter func(b time.Duration) time.Duration
	// queueClock, when set (tests only), replaces the monotonic clock
	// (Client.mono) the connection writers pass to outQueue.drain.
	queueClock func() int64
}

// EnsureDefaults replaces every zero field with its default.
func (c *Config) EnsureDefaults() {
	if c.ClientHost == "" && c.AdvertisedHost == "" {
		c.ClientHost = randomLoopbackHost()
	}
	if c.Transport == "" {
		c.Transport = DefaultTransport
	}
	if c.Types == nil && c.Binary != nil {
		c.Types = c.Binary.JSON()
	}
	if c.Types == nil {
		c.Types = castyjson.NewRegistry()
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.LivenessWindow, DefaultLivenessWindow)
	setDur(&c.RefreshInterval, DefaultRefreshInterval)
	setDur(&c.AskTimeout, DefaultAskTimeout)
	setDur(&c.ConnectTimeout, DefaultConnectTimeout)
	setDur(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDur(&c.LocationTimeout, DefaultLocationTimeout)
	setDur(&c.RequeryDelay, DefaultRequeryDelay)
	setDur(&c.ReconnectMin, DefaultReconnectMin)
	setDur(&c.ReconnectMax, DefaultReconnectMax)
	setDur(&c.SuspectAfter, DefaultSuspectAfter)
	setDur(&c.BufferTimeout, DefaultBufferTimeout)
	setDur(&c.CloseTimeout, DefaultCloseTimeout)
	setDur(&c.QueueTarget, DefaultQueueTarget)
	setDur(&c.QueueInterval, DefaultQueueInterval)
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&c.ShardBuffer, DefaultShardBuffer)
	setInt(&c.TotalBuffer, DefaultTotalBuffer)
	setInt(&c.QueueFrames, DefaultQueueFrames)
	setInt(&c.QueueWaitFrames, DefaultQueueWaitFrames)
	setInt(&c.MaxBatchBytes, DefaultMaxBatchBytes)
	setInt(&c.MaxFrameSize, wire.DefaultMaxFrameSize)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every invalid field at once as a *ConfigError. It is
// meant to run after EnsureDefaults (Dial does both); zero values that have
// a default are accepted.
func (c *Config) Validate() error {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if len(c.ContactPoints) == 0 {
		bad("ContactPoints: at least one contact point is required")
	}
	for i, cp := range c.ContactPoints {
		if _, err := parseHostPort(cp); err != nil {
			bad("ContactPoints[%d] %q: %v", i, cp, err)
		}
	}
	if c.SystemName == "" {
		bad("SystemName: required")
	} else if strings.ContainsAny(c.SystemName, "@/: \t\r\n") {
		bad("SystemName %q: must not contain '@', '/', ':' or whitespace", c.SystemName)
	}
	checkHost := func(name, h string) {
		if strings.ContainsAny(h, "@/:[] \t\r\n") {
			bad("%s %q: must be a host name or IPv4 address (no ':', '/', '@', brackets or whitespace; Casty URIs cannot carry IPv6 literals)", name, h)
		}
	}
	checkHost("ClientHost", c.ClientHost)
	if c.Binary != nil && c.Types != nil && c.Binary.JSON() != c.Types {
		bad("Binary: its JSON registry is not Types (make it with zhbin.New(Types))")
	}
	checkHost("AdvertisedHost", c.AdvertisedHost)
	if c.ClientPort < 0 || c.ClientPort > 65535 {
		bad("ClientPort %d: want 0..65535", c.ClientPort)
	}
	if c.AdvertisedPort < 0 || c.AdvertisedPort > 65535 {
		bad("AdvertisedPort %d: want 0..65535", c.AdvertisedPort)
	}
	if c.AdvertisedHost == "" && c.AdvertisedPort != 0 {
		bad("AdvertisedPort %d: set AdvertisedHost too (set both or neither)", c.AdvertisedPort)
	}
	for k, v := range c.AddressMap {
		if _, err := parseHostPort(k); err != nil {
			bad("AddressMap key %q: %v", k, err)
		}
		if _, err := parseHostPort(v); err != nil {
			bad("AddressMap[%q] = %q: %v", k, v, err)
		}
	}
	if c.Transport != "" && c.Transport != TransportNet {
		if _, ok := transportFactory(c.Transport); !ok {
			if c.Transport == TransportGnet {
				bad("Transport %q: not linked in; import github.com/zerohop/zerohop/engine/gnettransport to select it", c.Transport)
			} else {
				bad("Transport %q: want one of %q", c.Transport, transportNames())
			}
		}
		if c.Transport == TransportGnet && c.TLS != nil {
			bad("Transport %q: gnet has no TLS; use %q with Config.TLS", c.Transport, TransportNet)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"LivenessWindow", c.LivenessWindow}, {"RefreshInterval", c.RefreshInterval},
		{"AskTimeout", c.AskTimeout}, {"ConnectTimeout", c.ConnectTimeout},
		{"HandshakeTimeout", c.HandshakeTimeout}, {"LocationTimeout", c.LocationTimeout},
		{"RequeryDelay", c.RequeryDelay}, {"ReconnectMin", c.ReconnectMin},
		{"ReconnectMax", c.ReconnectMax}, {"BufferTimeout", c.BufferTimeout},
		{"CloseTimeout", c.CloseTimeout}, {"SuspectAfter", c.SuspectAfter},
	} {
		if d.v < 0 {
			bad("%s %v: must not be negative", d.name, d.v)
		}
	}
	if c.ReconnectMax > 0 && c.ReconnectMin > c.ReconnectMax {
		bad("ReconnectMin %v > ReconnectMax %v", c.ReconnectMin, c.ReconnectMax)
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"ShardBuffer", c.ShardBuffer}, {"TotalBuffer", c.TotalBuffer},
		{"QueueFrames", c.QueueFrames}, {"MaxBatchBytes", c.MaxBatchBytes},
		{"MaxFrameSize", c.MaxFrameSize}, {"SocketSendBuffer", c.SocketSendBuffer},
	} {
		if n.v < 0 {
			bad("%s %d: must not be negative", n.name, n.v)
		}
	}
	if c.QueueFrames > 1<<24 {
		bad("QueueFrames %d: at most %d", c.QueueFrames, 1<<24)
	}
	if c.QueueWaitFrames > 1<<24 {
		bad("QueueWaitFrames %d: at most %d (negative: no bound)", c.QueueWaitFrames, 1<<24)
	}
	if c.MaxFrameSize > 0 && c.MaxFrameSize < 1024 {
		bad("MaxFrameSize %d: at least 1024", c.MaxFrameSize)
	}
	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// identity returns the client's node identity.
func (c *Config) identity() wire.NodeAddress {
	if c.AdvertisedHost != "" {
		return wire.NodeAddress{Host: c.AdvertisedHost, Port: c.AdvertisedPort}
	}
	return wire.NodeAddress{Host: c.ClientHost, Port: c.ClientPort}
}

// dialAddress maps a logical node address to the address to dial.
func (c *Config) dialAddress(n wire.NodeAddress) string {
	s := n.String()
	if m, ok := c.AddressMap[s]; ok {
		return m
	}
	return s
}

// parseHostPort parses a "host:port" contact or map entry.
func parseHostPort(s string) (wire.NodeAddress, error) {
	n, err := wire.ParseNodeAddress(s)
	if err != nil {
		return n, err
	}
	if n.Port == 0 {
		return n, fmt.Errorf("port 0 cannot be dialled")
	}
	return n, nil
}

// randomLoopbackHost returns "127.a.b.c" with random octets, avoiding
// 127.0.0.x and broadcast-looking .255 so it never collides with a real
// loopback service address in common use.
func randomLoopbackHost() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	a := 1 + int(b[0])%254 // 1..254
	return "127." + strconv.Itoa(a) + "." + strconv.Itoa(int(b[1])) + "." + strconv.Itoa(1+int(b[2])%254)
}
