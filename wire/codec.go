package wire

// Codec is a payload codec: how a message value becomes the payload of a
// message frame (PROTOCOL.md section 5) and back. It is the set of
// operations the engine and the node use, and all they use:
// castyjson.Registry (Casty's JsonSerializer, the codec every Casty peer
// speaks) implements it, and so will a binary codec that zerohop peers
// negotiate in the handshake (Extension.Codecs and Codec). Registering
// types is not part of it: that is the concrete codec's API, done before
// the codec is handed to a client or a node.
//
// Implementations must be safe for concurrent use, must follow this
// package's buffer rules (encoders append to a caller-owned dst and, on
// error, return it truncated to its original length; decoders copy what
// they keep, except DecodeShardEnvelope's entityID, which may alias the
// payload), and must never panic on any payload. The engine and the node
// call a method once per message at most, so the interface costs one
// indirect call on paths of hundreds of nanoseconds and no allocation:
// engine's TestTellZeroAllocs (Tell through Codec.AppendHeadedEnvelopeFrame)
// and node's TestRegionPathAddsNoAllocations (ingest through
// Codec.DecodeShardEnvelopeMemo) still assert it.
type Codec interface {
	// TypeName returns the registered (Python) name of msg's type; ok is
	// false when the type is not registered.
	TypeName(msg any) (name string, ok bool)
	// AppendValue appends the encoding of v: a message payload.
	AppendValue(dst []byte, v any) ([]byte, error)
	// AppendMessageFrame appends a whole message frame (frame prefix,
	// header with target, sender and msg's type name, payload) of at most
	// maxFrame bytes (<= 0: DefaultMaxFrameSize).
	AppendMessageFrame(dst []byte, target, sender string, msg any, maxFrame int) ([]byte, error)
	// AppendMessageFrameTo is AppendMessageFrame to the actor at to,
	// written without building to's URI as a string.
	AppendMessageFrameTo(dst []byte, to Address, sender string, msg any, maxFrame int) ([]byte, error)
	// AppendEnvelopeFrame is AppendMessageFrame of ShardEnvelope{EntityID:
	// entityID, Message: msg}, without building the envelope (the node's
	// forwarding; the engine's Tell uses AppendHeadedEnvelopeFrame).
	AppendEnvelopeFrame(dst []byte, target, sender, entityID string, msg any, maxFrame int) ([]byte, error)
	// AppendEnvelopeHead appends what every envelope frame to target from
	// sender has in common, whatever the entity and the message: the
	// bytes between the frame's length field and the envelope (for Casty
	// JSON, AppendMessageHead with type hint TypeShardEnvelope). The
	// engine writes it once per owner connection and entity type (the
	// route entry) so that a Tell does not escape the same URIs again.
	AppendEnvelopeHead(dst []byte, target, sender string) []byte
	// AppendHeadedEnvelopeFrame is AppendEnvelopeFrame with the frame's
	// constant part given as head, which AppendEnvelopeHead of the same
	// codec wrote: the frame's length, head, then the envelope of
	// entityID and msg. Its bytes are AppendEnvelopeFrame's for head's
	// target and sender. Hot path: the per-frame part only.
	AppendHeadedEnvelopeFrame(dst, head []byte, entityID string, msg any, maxFrame int) ([]byte, error)
	// Decode decodes a payload into a new value of its registered type
	// (or the codec's representation of an unregistered one).
	Decode(payload []byte) (any, error)
	// DecodeInto decodes a payload into *dst (a non-nil pointer).
	DecodeInto(payload []byte, dst any) error
	// DecodeShardEnvelope decodes a ShardEnvelope payload; entityID may
	// alias payload.
	DecodeShardEnvelope(payload []byte) (entityID []byte, msg any, err error)
	// DecodeShardEnvelopeMemo is DecodeShardEnvelope that may return the
	// message remembered in memo (see MessageMemo) instead of decoding it.
	DecodeShardEnvelopeMemo(payload []byte, memo *MessageMemo) (entityID []byte, msg any, err error)
	// ReplyTo returns the Ref in msg's "reply_to" field, if it has one
	// that is not zero. Not for hot paths.
	ReplyTo(msg any) (ref Ref, ok bool)
}
