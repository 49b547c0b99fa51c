package wire

// Headed frames: zerohop's compact frame head on zhbin links (issue 12).
//
// A client sends every envelope to a region with the same header (target,
// sender, type hint): about 160 of the 190 bytes of a zhbin tell. On a
// connection whose node chose "zhbin" and announced "heads": N in its
// handshake reply (Extension.Heads), the client may instead define a head
// once, under a small id, and then send frames that carry only the id:
//
//	definition: [u32 length][0x20][uvarint id][u32 header_len][header JSON]
//	headed:     [u32 length][0x21][uvarint id][payload]
//
// A headed frame means exactly the message frame [0x01][the definition's
// header_len and header][payload]. Ids are below N (at most MaxHeads), a
// definition's header is at most MaxHeadLen bytes and must be one a
// message frame could carry (scanHeader) with nothing after it; a later
// definition of an id replaces the earlier one for the frames after it.
// A definition or a headed frame that breaks these rules, or a headed
// frame whose id has no definition yet, is a *HeadError: the reader
// closes the connection (the peer broke the negotiated protocol, and
// every frame after it may mean something else). Only the client sends
// these frames, only to a node that announced heads; Casty peers and
// every other connection never see them.

import (
	"encoding/binary"
	"strconv"
)

// Headed frame types (zhbin links that negotiated heads only).
const (
	FrameDefineHead byte = 0x20
	FrameHeaded     byte = 0x21
)

const (
	// MaxHeads bounds the ids of a connection's heads: a node announces
	// at most this many ("heads"), and a larger announcement is a
	// HandshakeError.
	MaxHeads = 64
	// MaxHeadLen bounds the header JSON of a definition (its header_len),
	// so a connection's heads cost a node at most MaxHeads x MaxHeadLen
	// bytes to remember.
	MaxHeadLen = 512
)

// HeadError reports a definition or headed frame that breaks the rules
// above. The connection must be closed.
type HeadError struct {
	Reason string
}

func (e *HeadError) Error() string { return "wire: bad headed frame: " + e.Reason }

// AppendHeadRef appends what a headed frame carries before its payload:
// the frame type FrameHeaded and id, the counterpart of a message frame's
// type byte, header_len and header (a route entry's head, for
// Codec.AppendHeadedEnvelopeFrame).
func AppendHeadRef(dst []byte, id int) []byte {
	return binary.AppendUvarint(append(dst, FrameHeaded), uint64(id))
}

// AppendHeadDefinition appends the definition frame of id as head, a
// message frame's head: the type byte FrameMessage, header_len and header
// (Codec.AppendEnvelopeHead). head is not checked.
func AppendHeadDefinition(dst []byte, id int, head []byte) []byte {
	dst, start := BeginFrame(dst, FrameDefineHead)
	dst = binary.AppendUvarint(dst, uint64(id))
	dst = append(dst, head[1:]...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ParseHeadDefinition reads the body of a definition frame (after its type
// byte): the id and the header (header_len and header JSON, a message
// frame body with an empty payload, aliasing body).
func ParseHeadDefinition(body []byte) (id int, head []byte, err error) {
	id, n, err := headID(body)
	if err != nil {
		return 0, nil, err
	}
	head = body[n:]
	if len(head) < headerLenSize {
		return 0, nil, &HeadError{Reason: "definition shorter than header_len"}
	}
	if hl := binary.BigEndian.Uint32(head); hl > MaxHeadLen {
		return 0, nil, &HeadError{Reason: "header of " + strconv.FormatUint(uint64(hl), 10) + " bytes, above " + strconv.Itoa(MaxHeadLen)}
	}
	hs, serr := scanHeader(head)
	if serr != nil {
		return 0, nil, &HeadError{Reason: "definition: " + serr.Error()}
	}
	if hs.payload != len(head) {
		return 0, nil, &HeadError{Reason: "definition: bytes after the header"}
	}
	return id, head, nil
}

// ParseHeaded reads the body of a headed frame (after its type byte): the
// id and the payload (aliasing body).
func ParseHeaded(body []byte) (id int, payload []byte, err error) {
	id, n, err := headID(body)
	if err != nil {
		return 0, nil, err
	}
	return id, body[n:], nil
}

// HeadedPayload returns the id and payload of frame, a whole headed frame
// as AppendHeadRef and a codec wrote it ([u32 length][FrameHeaded][uvarint
// id][payload]); ok is false for any other frame.
func HeadedPayload(frame []byte) (id int, payload []byte, ok bool) {
	if len(frame) <= FrameHeaderLen || frame[4] != FrameHeaded {
		return 0, nil, false
	}
	id, payload, err := ParseHeaded(frame[FrameHeaderLen:])
	return id, payload, err == nil
}

func headID(body []byte) (id, n int, err error) {
	v, n := binary.Uvarint(body)
	if n <= 0 {
		return 0, 0, &HeadError{Reason: "bad id varint"}
	}
	if v >= MaxHeads {
		return 0, 0, &HeadError{Reason: "id " + strconv.FormatUint(v, 10) + " not below " + strconv.Itoa(MaxHeads)}
	}
	return int(v), n, nil
}

// Credits: the flow control of a zhbin link whose node announced a
// window ("window": W, Extension.Window). The client keeps at most W
// frames written after the handshake and not yet acknowledged; the node
// acknowledges the frames it has taken off the connection (handled, not
// merely buffered) with
//
//	credit: [u32 length][0x22][uvarint n]
//
// n frames at a time, 1 <= n <= W. So the frames in flight, and what an
// ask waits behind in the kernel's socket buffers, are bounded by count,
// not bytes (a headed tell is 25 bytes: a 64 KiB buffer holds thousands).
// A credit the client cannot read closes the link.
const FrameCredit byte = 0x22

// MaxWindow bounds a window a node may announce.
const MaxWindow = 1 << 20

// AppendCredit appends a credit frame of n frames.
func AppendCredit(dst []byte, n int) []byte {
	dst, start := BeginFrame(dst, FrameCredit)
	dst = binary.AppendUvarint(dst, uint64(n))
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ParseCredit reads the body of a credit frame (after its type byte).
func ParseCredit(body []byte) (int, error) {
	v, n := binary.Uvarint(body)
	switch {
	case n <= 0:
		return 0, &HeadError{Reason: "credit: bad count varint"}
	case n != len(body):
		return 0, &HeadError{Reason: "credit: bytes after the count"}
	case v == 0 || v > MaxWindow:
		return 0, &HeadError{Reason: "credit of " + strconv.FormatUint(v, 10) + " frames, not in 1.." + strconv.Itoa(MaxWindow)}
	}
	return int(v), nil
}
