package engine

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// benchSink returns a client and entity ref whose every shard is owned by
// one fake node that discards what it receives after the first region
// message.
func benchSink(b *testing.B, transport string) (*Client, *EntityRef) {
	b.Helper()
	cl := newFakeCluster(b, 1)
	for s := 0; s < 32; s++ {
		cl.setAlloc("counter", s, 0)
	}
	c := dialFake(b, cl, func(cfg *Config) {
		cfg.Transport = transport
		// The sink never answers again: a benchmark longer than
		// SuspectAfter (its b.N ramp on a loaded box) must not find
		// its node suspect.
		cfg.SuspectAfter = time.Hour
		cfg.LivenessWindow = time.Hour
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
	return c, ref
}

// tellRetry tells, retrying (yielding) while the connection queue is full
// or late (Config.QueueTarget): the benchmark measures sustained
// throughput into the socket.
func tellRetry(b *testing.B, ref *EntityRef, id string, msg any, full *atomic.Int64) {
	for {
		err := ref.Tell(id, msg)
		if err == nil {
			return
		}
		if e, _ := ref.et.table.Load().Owner(3); err != e.nc.fullErr && err != e.nc.lateErr {
			b.Fatal(err)
		}
		full.Add(1)
		runtime.Gosched()
	}
}

// endTellBench waits until the client has written every tell, stops the
// timer and reports the batching factor (and, with full, the retries on a
// full queue per tell).
func endTellBench(b *testing.B, c *Client, full *atomic.Int64) {
	waitFor(b, "drained", func() bool { return c.Stats().Queued == 0 })
	b.StopTimer()
	if full != nil {
		b.ReportMetric(float64(full.Load())/float64(b.N), "full-retries/op")
	}
	st := c.Stats()
	b.ReportMetric(float64(st.FramesWritten)/float64(max(1, st.Writes)), "frames/write")
}

// goroutineIDs returns the 16 entity ids of parallel benchmark goroutine g.
func goroutineIDs(g int64) []string {
	ids := make([]string, 16)
	for i := range ids {
		ids[i] = "user-" + strconv.FormatInt(g, 10) + "-" + strconv.Itoa(i)
	}
	return ids
}

// BenchmarkTell: one goroutine telling one entity on a routed shard; the
// writer drains into a loopback socket.
func BenchmarkTell(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr, func(b *testing.B) {
			c, ref := benchSink(b, tr)
			msg := any(workload.Increment{Amount: 1000})
			var full atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tellRetry(b, ref, "user-0", msg, &full)
			}
			endTellBench(b, c, &full)
		})
	}
}

// BenchmarkTellParallel: GOMAXPROCS*4 goroutines, each telling its own
// entities.
func BenchmarkTellParallel(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr, func(b *testing.B) {
			c, ref := benchSink(b, tr)
			msg := any(workload.Increment{Amount: 1000})
			var full, gid atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ids := goroutineIDs(gid.Add(1))
				i := 0
				for pb.Next() {
					tellRetry(b, ref, ids[i&15], msg, &full)
					i++
				}
			})
			endTellBench(b, c, &full)
		})
	}
}

// BenchmarkAskPipelined: 8 goroutines per GOMAXPROCS asking concurrently (pipelined on
// one connection) to a fake node that answers every GetCount.
func BenchmarkAskPipelined(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr, func(b *testing.B) {
			cl := newFakeCluster(b, 1)
			for s := 0; s < 32; s++ {
				cl.setAlloc("counter", s, 0)
			}
			c := dialFake(b, cl, func(cfg *Config) { cfg.Transport = tr })
			ref, _ := c.EntityRef("counter", 32)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := getCount(ctx, c, ref, "user-7"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "asks/s")
		})
	}
}

// BenchmarkAskLone: one goroutine asking sequentially (one ask in flight)
// a fake node that answers from its reading goroutine, so the round trip
// is mostly the client's: p50 and p99 of the round trips are reported.
func BenchmarkAskLone(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr, func(b *testing.B) {
			cl := newFakeCluster(b, 1)
			for s := 0; s < 32; s++ {
				cl.setAlloc("counter", s, 0)
			}
			c := dialFake(b, cl, func(cfg *Config) { cfg.Transport = tr })
			ref, _ := c.EntityRef("counter", 32)
			ctx := context.Background()
			if _, err := getCount(ctx, c, ref, "user-7"); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := getCount(ctx, c, ref, "user-7"); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}

// BenchmarkTellParallelContext is BenchmarkTellParallel with TellContext:
// producers wait for queue room instead of spinning on ErrBufferFull.
func BenchmarkTellParallelContext(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr, func(b *testing.B) {
			c, ref := benchSink(b, tr)
			msg := any(workload.Increment{Amount: 1000})
			var gid atomic.Int64
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ids := goroutineIDs(gid.Add(1))
				i := 0
				for pb.Next() {
					if err := ref.TellContext(ctx, ids[i&15], msg); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			endTellBench(b, c, nil)
		})
	}
}
