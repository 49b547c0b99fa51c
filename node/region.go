package node

import (
	"context"
	"errors"
	"time"

	"github.com/zerohop/zerohop/wire"
)

// Entity is a sharded entity or a service: it receives its messages one at
// a time, in arrival order, on a worker goroutine or, when its shard was
// idle, on the event loop that read the message (never two at once for the
// same entity, possibly on different goroutines over time). Receive must not
// block: it runs on a shared worker pool or an event loop.
type Entity interface {
	Receive(ctx *Context, msg any)
}

// EntityFunc adapts a function to Entity. Its Receive is called as Entity
// says: one message at a time per entity.
type EntityFunc func(ctx *Context, msg any)

// Receive calls f.
func (f EntityFunc) Receive(ctx *Context, msg any) { f(ctx, msg) }

// Context is what an entity or service gets with each message. It is owned
// by one worker and valid only during Receive; do not keep it, copy it or
// share it with another goroutine. Its zero value is not usable.
type Context struct {
	n        *Node
	entityID string
	typ      string
	shard    int    // -1 for a service
	now      int64  // n.mono() ns read for this message's serving check (Now)
	buf      []byte // encode buffer, owned by the worker
}

// Now returns the node's clock as read when the node decided to run this
// message (the lease check made before every message), as a wall-clock
// time: the node's start time plus its monotonic clock since. An entity
// that needs the time of its message uses it instead of time.Now, so the
// hot path reads the clock once per message (PERFORMANCE.md, "Node hot
// path"). It never goes backwards from one message of an entity to the
// next (entities of different shards may see readings out of order: they
// run on different workers). In Stop it is the time the stop began, in a
// service the time its batch began. On a nil Context (an entity's own
// tests, outside any node) it is time.Now().
func (c *Context) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c.n.base.Add(time.Duration(c.now))
}

// EntityID returns the entity's id ("" for a service).
func (c *Context) EntityID() string { return c.entityID }

// EntityType returns the entity type name ("" for a service).
func (c *Context) EntityType() string { return c.typ }

// Shard returns the entity's shard (-1 for a service).
func (c *Context) Shard() int { return c.shard }

// Node returns the node the entity runs on.
func (c *Context) Node() *Node { return c.n }

// Tell sends msg to the actor at ref: over the connection of the ref's
// client, to another member, or locally. It never blocks; when no
// connection leads to the ref's node the message is dropped, counted and
// ErrUndeliverable returned.
func (c *Context) Tell(to wire.Ref, msg any) error { return c.n.tell(to, msg, &c.buf) }

// Reply is Tell, for answering a reply_to ref.
func (c *Context) Reply(to wire.Ref, msg any) error { return c.n.tell(to, msg, &c.buf) }

// Tell sends msg to ref from outside any entity (see Context.Tell). Safe
// for concurrent use.
func (n *Node) Tell(to wire.Ref, msg any) error {
	var buf []byte
	return n.tell(to, msg, &buf)
}

// region is the shard region of one entity type: one mailbox per shard.
type region struct {
	idx   int
	typ   EntityType
	boxes []*mailbox
}

// envelope is a message queued for an entity (entityID "" for services).
type envelope struct {
	entityID string
	msg      any
	hops     uint8 // times it was forwarded between nodes before it got here
}

// StopService stops the service at path: from now on messages to it are
// dropped and counted (Stats.UnknownTargets), and it leaves the registry of
// every member's snapshots once this node's metadata has been gossiped.
// It waits for that gossip to go out until ctx ends (at most
// Membership.TCPTimeout); the service is stopped either way.
func (n *Node) StopService(ctx context.Context, path string) error {
	h, ok := n.paths[path]
	if !ok || h.kind != pkService {
		return errors.New("node: no service at " + path)
	}
	if h.box.stopped.Swap(true) {
		return nil
	}
	timeout := n.cfg.Membership.TCPTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	return n.members.Load().updateMeta(func(m *nodeMeta) {
		kept := m.Services[:0:0]
		for _, s := range m.Services {
			if s[1] != path {
				kept = append(kept, s)
			}
		}
		m.Services = kept
	}, timeout)
}
