package wire

import (
	"bytes"
	"testing"
)

var (
	benchTarget = "casty://live@127.0.0.1:25560/_region-counter"
	benchSender = "casty://live-client@127.0.0.1:0/"
	benchHeader = Header{Target: benchTarget, Sender: benchSender, TypeHint: TypeShardEnvelope}
	benchSink   int
)

func benchMessageFrame() []byte {
	dst, start := BeginFrame(nil, FrameMessage)
	dst = AppendHeader(dst, benchHeader)
	dst = append(dst, `{"_type": "casty.cluster.envelope.ShardEnvelope", "entity_id": "user-0", "message": {"_type": "app_messages.Increment", "amount": 5}}`...)
	dst, _ = EndFrame(dst, start, 0)
	return dst
}

func BenchmarkParseFrame(b *testing.B) {
	for _, size := range []int{64, 300, 16 << 10} {
		frame := frameBytes(FrameMessage, string(bytes.Repeat([]byte("x"), size)))
		b.Run(sizeName(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				_, body, n, _ := ParseFrame(frame, 0)
				benchSink += n + len(body)
			}
		})
	}
}

func BenchmarkFrameReader(b *testing.B) {
	frame := benchMessageFrame()
	fr := NewFrameReader(&loopReader{data: bytes.Repeat(frame, 16)}, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		_, body, err := fr.Next()
		if err != nil {
			b.Fatal(err)
		}
		benchSink += len(body)
	}
}

func BenchmarkAppendMessageFrameHeader(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		dst, start := BeginFrame(buf[:0], FrameMessage)
		dst = AppendHeader(dst, benchHeader)
		dst, _ = EndFrame(dst, start, 0)
		benchSink += len(dst)
	}
}

func BenchmarkAppendHeader(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		benchSink += len(AppendHeader(buf[:0], benchHeader))
	}
}

func BenchmarkParseMessage(b *testing.B) {
	body := benchMessageFrame()[FrameHeaderLen:]
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		h, p, _ := ParseMessage(body)
		benchSink += len(h.Target) + len(p)
	}
}

func BenchmarkParseTargetPath(b *testing.B) {
	body := benchMessageFrame()[FrameHeaderLen:]
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		p, _, _ := ParseTargetPath(body)
		benchSink += len(p)
	}
}

func BenchmarkParseAddress(b *testing.B) {
	for _, uri := range []string{benchTarget, "casty://live-client@127.0.0.1:0/_ask/0123456789abcdef0123456789abcdef", "casty://z@[::1]:7000/_region-x"} {
		b.Run(uri[len("casty://"):len("casty://")+4], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a, _ := ParseAddress(uri)
				benchSink += a.Port
			}
		})
	}
}

func BenchmarkAppendURI(b *testing.B) {
	a, _ := ParseAddress(benchTarget)
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		benchSink += len(a.AppendURI(buf[:0]))
	}
}

func BenchmarkParseHandshake(b *testing.B) {
	body := AppendHandshake(nil, Handshake{Host: "127.0.0.1", Port: 25560})
	b.ReportAllocs()
	for b.Loop() {
		h, _ := ParseHandshake(body)
		benchSink += h.Port
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<10:
		return itoa(n>>10) + "KiB"
	default:
		return itoa(n) + "B"
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// loopReader returns data over and over.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}
