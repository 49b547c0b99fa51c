package pyjson

import (
	"strconv"
	"testing"
)

// BenchmarkAppendString: entity ids and URIs of the sizes the engine
// writes per frame (loadgen's ids are "lg-<8 hex>-<n>", 13-16 bytes),
// appended after a header as in a frame.
func BenchmarkAppendString(b *testing.B) {
	for _, s := range []string{"user-42", "lg-1a2b3c4d-123", "casty://live@127.0.0.1:25520/_region-counter"} {
		b.Run(strconv.Itoa(len(s)), func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				buf = append(buf[:0], `{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": `...)
				buf = AppendString(buf, s)
			}
		})
	}
}
