package bench

import (
	"testing"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

const (
	benchTarget = "casty://live@127.0.0.1:25520/_region-counter"
	benchSender = "casty://live-client@127.12.34.56:0/"
)

func benchRegistry(b *testing.B) *castyjson.Registry {
	b.Helper()
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, workload.DefaultModule); err != nil {
		b.Fatal(err)
	}
	return reg
}

// benchEnvelopes are the messages of the counter workload as a client sends
// them: a tell (Increment) and an ask (GetCount with its reply ref).
func benchEnvelopes(b *testing.B) []struct {
	name string
	msg  any
} {
	b.Helper()
	ref, err := wire.ParseAddress("casty://live-client@127.12.34.56:0/_ask/0123456789abcdef0123456789abcdef")
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		msg  any
	}{
		{"Increment", wire.ShardEnvelope{EntityID: "lg-0a1b2c3d-42", Message: workload.Increment{Amount: 1}}},
		{"GetCount", wire.ShardEnvelope{EntityID: "lg-0a1b2c3d-42", Message: workload.GetCount{ReplyTo: wire.Ref{Address: ref}}}},
	}
}

// BenchmarkEnvelopeEncode is one whole message frame (frame header, envelope
// header JSON, payload JSON) appended to a reused buffer: the per-Tell
// encoding cost. Reports the frame size.
func BenchmarkEnvelopeEncode(b *testing.B) {
	reg := benchRegistry(b)
	for _, e := range benchEnvelopes(b) {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			var err error
			for b.Loop() {
				buf, err = reg.AppendMessageFrame(buf[:0], benchTarget, benchSender, e.msg, wire.DefaultMaxFrameSize)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
			b.ReportMetric(float64(len(buf)), "frame-bytes")
		})
	}
}

// BenchmarkEnvelopeDecode is what a node does per inbound message: parse the
// frame, split the envelope header from the payload, and decode the payload
// into the registered Go types.
func BenchmarkEnvelopeDecode(b *testing.B) {
	reg := benchRegistry(b)
	for _, e := range benchEnvelopes(b) {
		frame, err := reg.AppendMessageFrame(nil, benchTarget, benchSender, e.msg, wire.DefaultMaxFrameSize)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				typ, body, n, err := wire.ParseFrame(frame, wire.DefaultMaxFrameSize)
				if err != nil || n != len(frame) || typ != wire.FrameMessage {
					b.Fatalf("ParseFrame: typ %d n %d err %v", typ, n, err)
				}
				_, payload, err := wire.ParseMessage(body)
				if err != nil {
					b.Fatal(err)
				}
				v, err := reg.Decode(payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, ok := v.(wire.ShardEnvelope); !ok {
					b.Fatalf("decoded %T, want wire.ShardEnvelope", v)
				}
			}
		})
	}
}

// BenchmarkTargetPath is the node's zero-allocation routing read of an
// inbound frame: only the target path, no payload decode.
func BenchmarkTargetPath(b *testing.B) {
	reg := benchRegistry(b)
	frame, err := reg.AppendMessageFrame(nil, benchTarget, benchSender, benchEnvelopes(b)[0].msg, wire.DefaultMaxFrameSize)
	if err != nil {
		b.Fatal(err)
	}
	_, body, _, err := wire.ParseFrame(frame, wire.DefaultMaxFrameSize)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, _, err := wire.ParseTargetPath(body)
		if err != nil || len(p) == 0 {
			b.Fatalf("ParseTargetPath: %q %v", p, err)
		}
	}
}
