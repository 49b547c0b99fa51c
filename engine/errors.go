package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zerohop/zerohop/internal/netconn"
	"github.com/zerohop/zerohop/wire"
)

// Sentinel errors. Callers test with errors.Is; the structured cases below
// match them through their Is methods.
var (
	// ErrClosed is returned by every operation on a client after Shutdown
	// or Close started.
	ErrClosed = errors.New("engine: client closed")

	// ErrBufferFull matches *BufferFullError.
	ErrBufferFull = errors.New("engine: buffer full")

	// ErrOwnerUnavailable matches *OwnerUnavailableError: the node that
	// owns a shard (or serves a service) has no live connection, or its
	// connection is suspect (see ErrSuspect). The client never re-routes
	// such a message to another node (that would create a second copy of
	// the entity); it fails fast instead.
	ErrOwnerUnavailable = errors.New("engine: owner unavailable")

	// ErrSuspect is the cause (OwnerUnavailableError.Cause, ConnError.Cause)
	// when a node's connection is open but the node has sent nothing,
	// not even its periodic topology push, for Config.SuspectAfter: the
	// node is paused, overloaded or cut off. The connection stays open and
	// recovers with the first bytes the node sends again.
	ErrSuspect = errors.New("engine: node silent")

	// ErrShardUnavailable matches *ShardUnavailableError: a node answered
	// the shard's location query with "no owner I can vouch for".
	ErrShardUnavailable = errors.New("engine: shard unavailable")

	// ErrNoQuorum matches a *ShardUnavailableError whose reason is
	// wire.ReasonNoQuorum: the node that answered cannot reach a quorum
	// of the cluster, so it allocates nothing.
	ErrNoQuorum = errors.New("engine: no quorum")

	// ErrUndeliverable matches *UndeliverableError: a node accepted an
	// Ask's message and then dropped it (a dead letter), and said so.
	ErrUndeliverable = errors.New("engine: message undeliverable")

	// ErrNoRoute is returned when a message cannot be routed for a reason
	// other than an unavailable owner, e.g. an Ask target of an unknown
	// kind or an entity Ask whose message is not a ShardEnvelope.
	ErrNoRoute = errors.New("engine: no route")

	// ErrAskTimeout is returned (wrapped with context.DeadlineExceeded) by
	// an Ask whose deadline passed before the reply arrived.
	ErrAskTimeout = errors.New("engine: ask timed out")

	// ErrConnectionLost matches *ConnError: an Ask was waiting for a reply
	// on a connection that failed.
	ErrConnectionLost = errors.New("engine: connection lost")

	// ErrHandshake matches *HandshakeError.
	ErrHandshake = errors.New("engine: handshake failed")

	// ErrTLSRequired is wrapped by the *HandshakeError of a plaintext
	// client that reached a node speaking TLS.
	ErrTLSRequired = errors.New("engine: the node speaks TLS but Config.TLS is nil")

	// ErrExpired is the cause recorded for buffered messages dropped
	// because their location was not resolved within Config.BufferTimeout.
	ErrExpired = errors.New("engine: buffered message expired")
)

// errAskTimeout is preallocated: an Ask timeout allocates no error.
var errAskTimeout = fmt.Errorf("%w: %w", ErrAskTimeout, context.DeadlineExceeded)

// BufferFullError reports a message refused because a bounded buffer is
// full. The refusal is counted in Stats().Drops under Reason.
type BufferFullError struct {
	// Reason is DropQueueFull (the node connection's outbound queue),
	// DropQueueSojourn (that queue's oldest frame waited longer than
	// Config.QueueTarget: Limit is the target in microseconds),
	// DropShardBuffer (the per-shard buffer while the shard's location is
	// unknown) or DropTotalBuffer (the client-wide bound on those buffers).
	Reason DropReason
	Node   wire.NodeAddress // DropQueueFull and DropQueueSojourn only
	Type   string           // entity type, shard buffers only
	Shard  int              // shard buffers only
	Limit  int
}

func (e *BufferFullError) Error() string {
	switch e.Reason {
	case DropQueueFull:
		return fmt.Sprintf("engine: outbound queue to %s full (%d frames)", e.Node, e.Limit)
	case DropQueueSojourn:
		return fmt.Sprintf("engine: outbound queue to %s behind (its oldest frame waited over %d us)", e.Node, e.Limit)
	case DropShardBuffer:
		return fmt.Sprintf("engine: buffer of %s shard %d full (%d messages waiting for its location)", e.Type, e.Shard, e.Limit)
	default:
		return fmt.Sprintf("engine: client-wide location buffer full (%d messages)", e.Limit)
	}
}

// Is matches ErrBufferFull.
func (e *BufferFullError) Is(target error) bool { return target == ErrBufferFull }

// OwnerUnavailableError reports that the node owning a shard (Type and
// Shard set) or serving a service has no live connection, or a suspect one;
// Cause is why: the last connection attempt's or connection's failure, or
// an error wrapping ErrSuspect.
type OwnerUnavailableError struct {
	Node  wire.NodeAddress
	Type  string
	Shard int
	Cause error
}

func (e *OwnerUnavailableError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("engine: owner %s of %s shard %d unavailable: %v", e.Node, e.Type, e.Shard, e.Cause)
	}
	return fmt.Sprintf("engine: node %s unavailable: %v", e.Node, e.Cause)
}

// Is matches ErrOwnerUnavailable.
func (e *OwnerUnavailableError) Is(target error) bool { return target == ErrOwnerUnavailable }

// Unwrap returns the cause.
func (e *OwnerUnavailableError) Unwrap() error { return e.Cause }

// ConnError reports that a connection to Node failed, or became suspect
// (Cause wraps ErrSuspect), while an Ask was waiting on it.
type ConnError struct {
	Node  wire.NodeAddress
	Cause error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("engine: connection to %s lost: %v", e.Node, e.Cause)
}

// Is matches ErrConnectionLost.
func (e *ConnError) Is(target error) bool { return target == ErrConnectionLost }

// Unwrap returns the cause.
func (e *ConnError) Unwrap() error { return e.Cause }

// HandshakeError reports a connection whose opening failed: Node is the
// logical node address, Dial the address dialled (after AddressMap), Cause
// the reason (a wire.HandshakeError, a timeout, ErrTLSRequired, a TLS
// error...).
type HandshakeError struct {
	Node  wire.NodeAddress
	Dial  string
	Cause error
}

func (e *HandshakeError) Error() string {
	if e.Dial != "" && e.Dial != e.Node.String() {
		return fmt.Sprintf("engine: handshake with %s (dialled %s) failed: %v", e.Node, e.Dial, e.Cause)
	}
	return fmt.Sprintf("engine: handshake with %s failed: %v", e.Node, e.Cause)
}

// Is matches ErrHandshake.
func (e *HandshakeError) Is(target error) bool { return target == ErrHandshake }

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Cause }

// SystemError is the cause of a *HandshakeError when the node belongs to
// another actor system than Config.SystemName: Peer is the node's system,
// Want ours. A zerohop node announces its system in its handshake (and,
// refusing the connection, says why before it closes).
type SystemError = netconn.SystemError

// NotCastyError is the cause of a *HandshakeError when the peer did not
// answer with a Casty handshake (an HTTP server, a gossip port, anything
// else): Got holds the first bytes it sent, quoted in the message.
type NotCastyError = netconn.NotCastyError

// ClosedError is the cause of a *HandshakeError when the node closed the
// connection right after our handshake without a reply (what Casty does
// when it refuses one); its message asks to check Config.SystemName.
type ClosedError = netconn.ClosedError

// explainHandshake maps a failed handshake exchange to the error that
// names its cause: a zerohop node's refusal of our system name becomes a
// *SystemError naming both names, and a connection closed without a reply
// a *ClosedError that names the system name we sent.
func explainHandshake(h wire.Handshake, err error, system string) error {
	var re *netconn.RefusedError
	if errors.As(err, &re) {
		if serr := netconn.CheckSystem(h, system); serr != nil {
			return serr
		}
		return err
	}
	var ce *netconn.ClosedError
	if errors.As(err, &ce) {
		return &ClosedError{System: system, Cause: ce.Cause}
	}
	return err
}

// causeKnown reports whether a handshake error already names its cause
// (another system, a peer that is not a Casty node, a zerohop node's
// stated refusal): no TLS probe is needed to explain it.
func causeKnown(err error) bool {
	var se *SystemError
	var nc *NotCastyError
	var re *netconn.RefusedError
	return errors.As(err, &se) || errors.As(err, &nc) || errors.As(err, &re)
}

// ShardUnavailableError reports that Node answered the location query of
// shard Shard of entity type Type with zerohop.ShardUnavailable: it knows
// no owner it can vouch for. Reason is the node's (wire.ReasonNoQuorum,
// wire.ReasonNoOwner...). The messages held for the shard fail with it,
// and new ones fail fast with it for about Config.RequeryDelay, after
// which the location is asked for again. It matches ErrShardUnavailable,
// and ErrNoQuorum when Reason is wire.ReasonNoQuorum.
type ShardUnavailableError struct {
	Node   wire.NodeAddress
	Type   string
	Shard  int
	Reason string
}

func (e *ShardUnavailableError) Error() string {
	return fmt.Sprintf("engine: %s shard %d unavailable (node %s: %s)", e.Type, e.Shard, e.Node, e.Reason)
}

// Is matches ErrShardUnavailable, and ErrNoQuorum for wire.ReasonNoQuorum.
func (e *ShardUnavailableError) Is(target error) bool {
	return target == ErrShardUnavailable || (target == ErrNoQuorum && e.Reason == wire.ReasonNoQuorum)
}

// UndeliverableError is the error of an Ask answered with
// zerohop.Undeliverable: the node dropped the message (Reason, one of the
// wire.Reason* constants: stale_owner, hop_limit, entity_limit...) meant
// for entity EntityID of type Type, shard Shard. The message was not
// applied. It matches ErrUndeliverable.
type UndeliverableError struct {
	Reason   string
	Type     string
	Shard    int
	EntityID string
}

func (e *UndeliverableError) Error() string {
	reason := e.Reason
	if h := undeliverableHints[reason]; h != "" {
		reason += " (" + h + ")"
	}
	if e.Type == "" {
		return "engine: message undeliverable: " + reason
	}
	if e.Shard < 0 {
		return fmt.Sprintf("engine: message to %s entity %q undeliverable: %s", e.Type, e.EntityID, reason)
	}
	return fmt.Sprintf("engine: message to %s entity %q (shard %d) undeliverable: %s", e.Type, e.EntityID, e.Shard, reason)
}

// undeliverableHints say what to check for the reasons that come from a
// misconfiguration.
var undeliverableHints = map[string]string{
	wire.ReasonUnknownMessageType: "the node does not know the message's type: check the name (Python module) it is registered under on both sides",
	wire.ReasonUnknownEntityType:  "the node hosts no entity type of that name",
	wire.ReasonStaleOwner:         "the node no longer owns the shard and could not forward the message",
}

// Is matches ErrUndeliverable.
func (e *UndeliverableError) Is(target error) bool { return target == ErrUndeliverable }

// ShardsMismatchError is returned by EntityRef when a type is already known
// with a different number of shards: Got is the count asked for, Have the
// one known. Known from an earlier EntityRef of this client (Node is
// zero), from the handshake of zerohop node Node, which announces the
// cluster's entity types with their shard counts, or (AtLeast) from a
// topology table that allocates shard Have-1 of the type, past Got: the
// cluster has at least Have shards. In the last two cases an EntityRef
// made before the evidence arrived fails too: its Tell, TellContext and
// Ask return this error.
type ShardsMismatchError struct {
	Type      string
	Have, Got int
	Node      wire.NodeAddress // the announcing or allocating node; zero for a local mismatch
	AtLeast   bool             // Have is a lower bound (a topology table's allocation)
}

func (e *ShardsMismatchError) Error() string {
	switch {
	case e.AtLeast:
		return fmt.Sprintf("engine: entity type %q: the cluster allocates shard %d (on %s), so it has more than the %d shards asked for", e.Type, e.Have-1, e.Node, e.Got)
	case e.Node != (wire.NodeAddress{}):
		return fmt.Sprintf("engine: entity type %q has %d shards in the cluster (announced by %s), not %d", e.Type, e.Have, e.Node, e.Got)
	}
	return fmt.Sprintf("engine: entity type %q already used with %d shards, not %d", e.Type, e.Have, e.Got)
}

// UnknownEntityTypeError is returned by EntityRef when zerohop node Node
// announced the cluster's entity types (Known) in its handshake and Type is
// not one of them. Casty announces nothing: against Casty an unknown type
// shows only as asks that time out.
type UnknownEntityTypeError struct {
	Type  string
	Node  wire.NodeAddress
	Known []string
}

func (e *UnknownEntityTypeError) Error() string {
	return fmt.Sprintf("engine: entity type %q is unknown to the cluster (%s announces %s)", e.Type, e.Node, strings.Join(e.Known, ", "))
}

// ReplyTypeError is returned by AskAs when the reply is not of the type
// asked for.
type ReplyTypeError struct {
	Want string
	Got  any
}

func (e *ReplyTypeError) Error() string {
	return fmt.Sprintf("engine: reply is %T, want %s", e.Got, e.Want)
}

// ConfigError lists every invalid Config field found by Validate.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	s := "engine: invalid config: "
	for i, p := range e.Problems {
		if i > 0 {
			s += "; "
		}
		s += p
	}
	return s
}
