package node

import (
	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
)

// DeadLetter describes a message this node accepted and then dropped
// without delivering it: every such drop is counted (Stats.DeadLetters,
// by reason in Stats.DeadLettersByReason), passed to
// Config.OnDeadLetter, and, when the message has a reply_to ref on a
// zerohop peer, answered with wire.Undeliverable so that a waiting ask
// fails at once. A plain value.
type DeadLetter struct {
	Type     string // entity type; "" for a service message
	Shard    int    // -1 for a service message
	EntityID string
	Path     string // target path (services)
	Msg      any    // the decoded message
	Reason   string // one of the wire.Reason* constants
}

// StopReason says why an entity stops (Stopper).
type StopReason string

// Reasons an entity stops.
const (
	// StopMoved: the allocation table moved the entity's shard to another
	// node (after this node's lease lapsed, or a re-allocation).
	StopMoved StopReason = "moved"
	// StopLeaving: this node hands its shards over before it leaves.
	StopLeaving StopReason = "leaving"
	// StopClosing: this node is shutting down without a hand-over
	// (Close with nobody to hand over to, Kill does not stop entities).
	StopClosing StopReason = "closing"
)

// Stopper is implemented by entities that want to know when the node
// stops them: their in-memory state ends there (a later message to the
// same entity id starts a new instance, on this node or another). Stop is
// called on the goroutine that runs the entity, after its last message; it
// must not block. Entities of a node that crashes or is killed are never
// stopped.
type Stopper interface {
	Stop(ctx *Context, reason StopReason)
}

// deadReasons are the dead-letter reasons counted separately in Stats.
var deadReasons = [...]string{
	wire.ReasonNoQuorum, wire.ReasonNoOwner, wire.ReasonStaleOwner, wire.ReasonHopLimit,
	wire.ReasonEntityLimit, wire.ReasonEntityID, wire.ReasonMailboxFull, wire.ReasonExpired,
	wire.ReasonShuttingDown, wire.ReasonUnknownMessageType, wire.ReasonUnknownEntityType,
}

func deadReasonIndex(reason string) int {
	for i, r := range deadReasons {
		if r == reason {
			return i
		}
	}
	return len(deadReasons) // "other"
}

// deadLetter drops d: counts it, tells Config.OnDeadLetter, and answers the
// message's reply_to ref with wire.Undeliverable when that ref's node is a
// zerohop peer with a live connection to this node. Safe for concurrent
// use; never blocks (the answer is queued like any reply).
func (n *Node) deadLetter(d DeadLetter) {
	n.ctr.deadLetters[deadReasonIndex(d.Reason)].Add(1)
	if f := n.cfg.OnDeadLetter; f != nil {
		f(d)
	}
	ref, ok := n.replyRef(d.Msg)
	if !ok || ref.IsLocal() || !n.isZerohopPeer(ref.Node()) {
		return
	}
	var buf []byte
	if n.tell(ref, wire.Undeliverable{Reason: d.Reason, Type: d.Type, Shard: d.Shard, EntityID: d.EntityID}, &buf) == nil {
		n.ctr.undeliverableSent.Add(1)
	}
}

// replyRef returns msg's reply_to ref: the registry's for a registered
// type, the "reply_to" field's for a message of a type this node does not
// know (castyjson.Unknown, whose fields decode untyped: a ref is a
// wire.Ref).
func (n *Node) replyRef(msg any) (wire.Ref, bool) {
	if u, ok := msg.(castyjson.Unknown); ok {
		ref, ok := u.Fields["reply_to"].(wire.Ref)
		return ref, ok && !ref.IsZero()
	}
	return n.reg.ReplyTo(msg)
}

// isZerohopPeer reports whether addr is a member or a client whose
// handshake carried the zerohop extension.
func (n *Node) isZerohopPeer(addr wire.NodeAddress) bool {
	if ms := n.memberOthers(); ms != nil {
		if _, ok := (*ms)[addr]; ok {
			return true
		}
	}
	n.clientMu.RLock()
	l := n.clients[addr]
	n.clientMu.RUnlock()
	return l != nil && l.zerohop
}
