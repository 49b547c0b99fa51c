package engine

import (
	"fmt"

	"github.com/zerohop/zerohop/wire"
)

// frameKind says how enqueue encodes an outFrame.
type frameKind uint8

const (
	// frameEnvelope: ShardEnvelope{entityID, msg}, encoded straight into
	// the slot (Tell, TellContext, an entity Ask's message).
	frameEnvelope frameKind = iota
	// framePayload: an already encoded ShardEnvelope (a held message,
	// flushed once its shard's location is known).
	framePayload
	// frameMessage: msg as it is (service messages, control messages).
	frameMessage
)

// outFrame is one frame for enqueue to encode into a claimed slot. Callers
// build it on their stack and pass its address; enqueue does not keep it.
// A tagged struct rather than an interface or a closure, so that the Tell
// path stays free of allocations (the encode itself is one call through
// wire.Codec).
type outFrame struct {
	kind     frameKind
	target   string      // the recipient's URI; framePayload, frameMessage
	route    *routeEntry // frameEnvelope: its heads (read-only once built)
	entityID string      // frameEnvelope
	msg      any         // frameEnvelope, frameMessage
	payload  []byte      // framePayload
	// paced: a tell (entity or service), subject to the queue's sojourn
	// bound; asks, held messages and control frames are not (outQueue).
	paced bool
}

// appendTo appends f's frame to buf, within c's MaxFrameSize, with the
// payload codec of nc's connection (codecFor).
func (f *outFrame) appendTo(c *Client, nc *nodeConn, buf []byte) ([]byte, error) {
	switch f.kind {
	case frameEnvelope:
		// The head (a route entry's) is Casty's for both codecs; only the
		// envelope after it differs. On a zhbin connection whose node
		// keeps heads, the compact head replaces it (routeEntry.ref).
		if c.bin != nil && nc.binary.Load() {
			// Within the limit as the whole frame too: the writer expands
			// a headed frame on a link that does not take its id.
			e := f.route
			head, limit := e.head, c.cfg.MaxFrameSize
			if e.ref != nil && e.refID < nc.maxHeads.Load() {
				head, limit = e.ref, limit-len(e.head)+len(e.ref)
			}
			return c.bin.AppendHeadedEnvelopeFrame(buf, head, f.entityID, f.msg, limit)
		}
		return c.reg.AppendHeadedEnvelopeFrame(buf, f.route.head, f.entityID, f.msg, c.cfg.MaxFrameSize)
	case framePayload:
		// Held payloads are Casty JSON, which a zhbin connection reads too.
		return appendPayloadFrame(buf, f.target, c.senderURI, wire.TypeShardEnvelope, f.payload, c.cfg.MaxFrameSize)
	default:
		buf, err := c.codecFor(nc).AppendMessageFrame(buf, f.target, c.senderURI, f.msg, c.cfg.MaxFrameSize)
		if err != nil {
			err = fmt.Errorf("engine: encoding %T: %w", f.msg, err)
		}
		return buf, err
	}
}

// enqueue is the one way a frame enters a connection's outbound queue:
// claim a slot (keeping reserve slots free: nc.q.reserve for data frames,
// 0 for control frames, see outQueue.claim), encode f straight into it,
// publish it. Hot path: no locks, no allocations on success.
//
// The outcome, as a reason (zero when queued) and an error:
//   - queued: 0, nil;
//   - the queue is closed: DropClosed, ErrClosed, not counted: whether
//     that is a refusal (the caller returns ErrClosed) or the drop of an
//     accepted message is the caller's to say;
//   - the queue is full (for a paced frame, at the slots it may take,
//     outQueue.pacedFloor fewer): with wait, DropQueueFull and errMustWait, not
//     counted (TellContext waits for room); else counted, DropQueueFull
//     and nc.fullErr;
//   - f is paced and the queue is late (its oldest frame waited longer
//     than Config.QueueTarget for Config.QueueInterval, or the rate bound
//     holds): as full, with DropQueueSojourn, errMustWaitLate and
//     nc.lateErr;
//   - f does not encode (unregistered type, frame over MaxFrameSize): the
//     slot is published empty, counted, DropEncode and the error.
//
// Whether the owner is usable is the caller's check (entityType.enqueue,
// ServiceRef.send); control frames go to connections still connecting.
func (nc *nodeConn) enqueue(f *outFrame, reserve uint64, wait bool) (DropReason, error) {
	c := nc.c
	t, buf, r := nc.q.claim(reserve, f.paced, wait)
	switch r {
	case claimClosed:
		return DropClosed, ErrClosed
	case claimFull:
		if wait {
			return DropQueueFull, errMustWait
		}
		c.stats.drop(DropQueueFull, 1)
		nc.countDrop(DropQueueFull, 1)
		return DropQueueFull, nc.fullErr
	case claimLate:
		if wait {
			return DropQueueSojourn, errMustWaitLate
		}
		c.stats.drop(DropQueueSojourn, 1)
		nc.countDrop(DropQueueSojourn, 1)
		return DropQueueSojourn, nc.lateErr
	}
	buf, err := f.appendTo(c, nc, buf)
	if err != nil {
		nc.q.publish(t, buf[:0])
		c.stats.drop(DropEncode, 1)
		nc.countDrop(DropEncode, 1)
		return DropEncode, err
	}
	nc.q.publish(t, buf)
	return 0, nil
}

// enqueue queues f (an envelope for one of et's shards) on e's owner:
// fails fast, counted, when the owner is down or suspect (never waits on
// it, never re-routes), else nodeConn.enqueue with the data reserve.
func (et *entityType) enqueue(e *routeEntry, shard int, f *outFrame, wait bool) (DropReason, error) {
	nc := e.nc
	if !nc.usable() {
		et.c.stats.drop(DropOwnerUnavailable, 1)
		nc.countDrop(DropOwnerUnavailable, 1)
		return DropOwnerUnavailable, &OwnerUnavailableError{Node: nc.addr, Type: et.name, Shard: shard, Cause: nc.lastCause()}
	}
	return nc.enqueue(f, nc.q.reserve, wait)
}

// sendMsg queues a data message (a service tell, paced, or ask) for target
// on nc; not the Tell hot path.
func (nc *nodeConn) sendMsg(target string, msg any, paced bool) error {
	_, err := nc.enqueue(&outFrame{kind: frameMessage, target: target, msg: msg, paced: paced}, nc.q.reserve, false)
	return err
}

// sendControl queues a control message (SubscribeTopology,
// UnsubscribeTopology, GetShardLocation) for target on nc. It may use the
// queue's reserved slots, so it still goes out while tells fill the queue.
func (nc *nodeConn) sendControl(target string, msg any) error {
	_, err := nc.enqueue(&outFrame{kind: frameMessage, target: target, msg: msg}, 0, false)
	return err
}

// codecFor returns the payload codec of frames encoded now for nc: c.bin
// when nc's last handshake negotiated zhbin, else the JSON registry. A
// frame is encoded when it is queued: frames queued before a reconnect
// that negotiates differently keep their codec (a zhbin node reads JSON;
// a node that stopped offering zhbin counts the zhbin frames still queued
// for it as undecodable).
func (c *Client) codecFor(nc *nodeConn) wire.Codec {
	if c.bin != nil && nc.binary.Load() {
		return c.bin
	}
	return c.reg
}

// dec returns the codec that reads the nodes' payloads: the zhbin codec
// when configured (it reads Casty JSON too, so one decoder serves every
// connection), else the JSON registry.
func (c *Client) dec() wire.Codec {
	if c.bin != nil {
		return c.bin
	}
	return c.reg
}
