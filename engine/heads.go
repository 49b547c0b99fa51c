package engine

// Compact frame heads on zhbin connections (wire/heads.go): a route
// entry's head is sent once per link as a definition, and each envelope
// after it carries the head's id instead of its ~160 bytes.
//
// Producers encode a frame when they queue it, under the connection's
// state at that moment (outFrame.appendTo), while the writer sends it on
// whatever link is up when it is drained: a frame may have been encoded
// for an earlier link, or for a node that announced more heads than the
// current one. So the writer, the only goroutine that knows the link a
// frame goes out on, makes every headed frame valid there (headWriter):
// it defines an id on the link before the first frame that uses it, and
// writes a frame whose id the link does not take as the whole message
// frame it stands for.

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/zerohop/zerohop/wire"
)

// A link's defined ids are a bit set in one word.
const _ = uint64(1) << (wire.MaxHeads - 1)

// headTable is a connection's heads by id, for every link it has:
// append-only, so an id means the same head for the connection's life.
// add is serialized; head reads a published copy, lock-free.
type headTable struct {
	mu    sync.Mutex
	heads atomic.Pointer[[][]byte]
}

// add returns the id of head (a message frame's head: type byte,
// header_len, header), adding it if it is new; ok is false when the table
// already holds wire.MaxHeads heads. head is kept, not copied.
func (t *headTable) add(head []byte) (id int, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var cur [][]byte
	if p := t.heads.Load(); p != nil {
		cur = *p
	}
	for i, h := range cur {
		if bytes.Equal(h, head) {
			return i, true
		}
	}
	if len(cur) >= wire.MaxHeads {
		return 0, false
	}
	next := append(cur[:len(cur):len(cur)], head)
	t.heads.Store(&next)
	return len(next) - 1, true
}

// head returns the head of id, which add returned.
func (t *headTable) head(id int) []byte { return (*t.heads.Load())[id] }

// headWriter is the writer's view of the heads on its current link: how
// many the node announced for it (limit, the handshake's "heads") and
// which ids it has defined there. Owned by the writer; reset per link.
type headWriter struct {
	tab     *headTable
	limit   int
	defined uint64
	defs    int // definitions written since the writer last took the count
}

// reset starts a link that takes limit heads.
func (w *headWriter) reset(limit int) { w.limit, w.defined, w.defs = limit, 0, 0 }

// appendFrame appends frame, a headed frame (wire.FrameHeaded, as the
// engine encoded it), to dst so that the current link reads it: after the
// definition of its id when the link has not had it, or expanded into the
// whole message frame when the link does not take the id.
func (w *headWriter) appendFrame(dst, frame []byte) []byte {
	id, payload, ok := wire.HeadedPayload(frame)
	if !ok {
		return append(dst, frame...) // not one of ours: as it is
	}
	if id < w.limit {
		if w.defined&(1<<id) == 0 {
			dst = wire.AppendHeadDefinition(dst, id, w.tab.head(id))
			w.defined |= 1 << id
			w.defs++
		}
		return append(dst, frame...)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, w.tab.head(id)...)
	dst = append(dst, payload...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// onCredit takes a credit frame's body (the reading side): the node has
// handled that many more of the frames written on the current link. A
// credit that does not parse, or that acknowledges more than was written,
// is an error: the link closes.
func (nc *nodeConn) onCredit(body []byte) error {
	n, err := wire.ParseCredit(body)
	if err != nil {
		return err
	}
	if c := nc.credited.Add(uint64(n)); c > nc.written.Load() {
		return &wire.HeadError{Reason: "credit for " + strconv.FormatUint(c, 10) + " frames, " + strconv.FormatUint(nc.written.Load(), 10) + " written"}
	}
	select {
	case nc.creditWake <- struct{}{}:
	default:
	}
	return nil
}
