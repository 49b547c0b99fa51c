package engine

import (
	"github.com/zerohop/zerohop/wire"
)

// appendEnvelopePayload appends the JSON of ShardEnvelope{entityID, msg}
// (the payload held while a shard's location is unknown; not the hot path).
func appendEnvelopePayload(dst []byte, reg wire.Codec, entityID string, msg any) ([]byte, error) {
	return reg.AppendValue(dst, wire.ShardEnvelope{EntityID: entityID, Message: msg})
}

// appendPayloadFrame appends a message frame around an already encoded
// payload.
func appendPayloadFrame(dst []byte, target, sender, typeHint string, payload []byte, maxFrame int) ([]byte, error) {
	base := len(dst)
	dst, start := wire.BeginFrame(dst, wire.FrameMessage)
	dst = wire.AppendHeader(dst, wire.Header{Target: target, Sender: sender, TypeHint: typeHint})
	dst = append(dst, payload...)
	dst, err := wire.EndFrame(dst, start, maxFrame)
	if err != nil {
		return dst[:base], err
	}
	return dst, nil
}
