package engine

import (
	"sync/atomic"
	"testing"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// BenchmarkTellCodec is BenchmarkTell on the net transport with each
// payload codec: json (Casty's) and zhbin (Config.Binary; the fake node
// does not negotiate, so the connection is switched by hand once
// connected). The fake node discards what it reads: this measures the
// client's side, encode to socket. frame-bytes is the mean frame size.
func BenchmarkTellCodec(b *testing.B) {
	for _, codec := range []string{"json", "zhbin"} {
		b.Run(codec, func(b *testing.B) {
			cl := newFakeCluster(b, 1)
			for s := 0; s < 32; s++ {
				cl.setAlloc("counter", s, 0)
			}
			c := dialFake(b, cl, func(cfg *Config) {
				cfg.Transport = TransportNet
				if codec == "zhbin" {
					cfg.Binary = binaryCodec(b, cfg.Types)
				}
			})
			ref, err := c.EntityRef("counter", 32)
			if err != nil {
				b.Fatal(err)
			}
			cl.nodes[0].sink.Store(true)
			if err := ref.Tell("user-0", workload.Increment{Amount: 1}); err != nil {
				b.Fatal(err)
			}
			waitFor(b, "sink mode", func() bool { return len(cl.nodes[0].messages(wire.PathRegionPrefix)) == 1 })
			c.mu.Lock()
			for _, nc := range c.connList {
				nc.binary.Store(codec == "zhbin")
			}
			c.mu.Unlock()
			before := c.Stats()
			msg := any(workload.Increment{Amount: 1000})
			var full atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tellRetry(b, ref, "user-0", msg, &full)
			}
			endTellBench(b, c, &full)
			st := c.Stats()
			b.ReportMetric(float64(st.BytesWritten-before.BytesWritten)/float64(max(1, st.FramesWritten-before.FramesWritten)), "frame-bytes")
		})
	}
}
