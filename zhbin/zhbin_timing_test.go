package zhbin

import (
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// BenchmarkEnvelopeFrame compares the frame of a ShardEnvelope(incr) in
// both codecs (the client's Tell encode).
func BenchmarkEnvelopeFrame(b *testing.B) {
	c := newCodec(b)
	const target = "casty://live@127.0.0.1:25520/_region-counter"
	const sender = "casty://live@127.0.0.1:0/"
	var msg any = incr{Amount: 1}
	for _, cd := range []struct {
		name string
		c    wire.Codec
	}{{"json", c.JSON()}, {"zhbin", c}} {
		b.Run(cd.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				buf, _ = cd.c.AppendEnvelopeFrame(buf[:0], target, sender, "entity-42", msg, 0)
			}
			b.ReportMetric(float64(len(buf)), "bytes/frame")
		})
		b.Run(cd.name+"/headed", func(b *testing.B) {
			// The engine's path: the route entry's head written once.
			head := cd.c.AppendEnvelopeHead(nil, target, sender)
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				buf, _ = cd.c.AppendHeadedEnvelopeFrame(buf[:0], head, "entity-42", msg, 0)
			}
		})
	}
}

// BenchmarkDecodeEnvelope compares the node's ingest decode of a
// ShardEnvelope payload in both codecs, without the memo (every message
// decoded) and with it (a repeated message).
func BenchmarkDecodeEnvelope(b *testing.B) {
	c := newCodec(b)
	env := wire.ShardEnvelope{EntityID: "entity-42", Message: incr{Amount: 1}}
	for _, cd := range []struct {
		name string
		c    wire.Codec
	}{{"json", c.JSON()}, {"zhbin", c}} {
		payload, err := cd.c.AppendValue(nil, env)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(cd.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := cd.c.DecodeShardEnvelope(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(cd.name+"/memo", func(b *testing.B) {
			b.ReportAllocs()
			var memo wire.MessageMemo
			for b.Loop() {
				if _, _, err := cd.c.DecodeShardEnvelopeMemo(payload, &memo); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
