package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/engine"
	_ "github.com/zerohop/zerohop/engine/gnettransport" // selects engine.TransportGnet
	"github.com/zerohop/zerohop/workload"
)

var transports = []string{engine.TransportGnet, engine.TransportNet}

// sinkClient dials an engine client to a fresh sinkNode and waits until
// every shard of "counter" is routed.
func sinkClient(tb testing.TB, transport string) (*sinkNode, *stack) {
	tb.Helper()
	sink := newSinkNode(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, workload.DefaultModule); err != nil {
		tb.Fatal(err)
	}
	c, err := engine.Dial(ctx, engine.Config{
		ContactPoints: []string{sink.contact()},
		SystemName:    workload.DefaultSystem,
		Types:         reg,
		Transport:     transport,
	})
	if err != nil {
		sink.close()
		tb.Fatalf("Dial: %v", err)
	}
	s := &stack{c: c, inc: workload.Increment{Amount: 1}}
	if err := c.WaitTopology(ctx); err != nil {
		s.close(tb)
		sink.close()
		tb.Fatalf("WaitTopology: %v", err)
	}
	if s.ref, err = c.EntityRef(workload.DefaultEntityType, stackShards); err != nil {
		s.close(tb)
		sink.close()
		tb.Fatal(err)
	}
	s.ids = make([]string, stackEntities)
	for i := range s.ids {
		s.ids[i] = "bench-" + strconv.Itoa(i)
	}
	return sink, s
}

// BenchmarkTell is Tell on a client whose only peer is a sinkNode, so it
// measures the client alone: route (MD5 + table), encode into the owner
// queue's slot, and the writer's batched writes on the other core. When the
// writer is behind, the queue fills: api=Tell yields and retries until it
// has room (retries/op), api=TellContext waits for room inside the engine.
// So ns/op is the client's steady-state cost per message and tells/s its
// throughput ceiling on this machine. allocs/op counts the
// whole process, which here is the client (the sink reads into a reused
// buffer). After the loop every tell must have reached the sink.
func BenchmarkTell(b *testing.B) {
	for _, tp := range transports {
		for _, m := range []struct {
			api string
			par int // 0: one goroutine; else b.SetParallelism(par)
		}{{"Tell", 0}, {"Tell", 4}, {"TellContext", 4}} {
			name := fmt.Sprintf("transport=%s/api=%s/goroutines=1", tp, m.api)
			if m.par > 0 {
				name = fmt.Sprintf("transport=%s/api=%s/goroutines=GOMAXPROCSx%d", tp, m.api, m.par)
			}
			b.Run(name, func(b *testing.B) {
				sink, s := sinkClient(b, tp)
				defer sink.close()
				defer s.close(b)
				send := s.tell
				if m.api == "TellContext" {
					ctx := context.Background()
					send = func(id string) (int, error) { return 0, s.ref.TellContext(ctx, id, s.inc) }
				}
				var retries, sent atomic.Int64
				st0 := s.c.Stats()
				b.ReportAllocs()
				b.ResetTimer()
				if m.par == 0 {
					r := 0
					for i := 0; i < b.N; i++ {
						n, err := send(s.ids[i&(stackEntities-1)])
						if err != nil {
							b.Fatal(err)
						}
						r += n
					}
					retries.Add(int64(r))
					sent.Add(int64(b.N))
				} else {
					b.SetParallelism(m.par)
					var next atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						i := int(next.Add(1)) * 97
						r, n := 0, 0
						for pb.Next() {
							k, err := send(s.ids[i&(stackEntities-1)])
							if err != nil {
								b.Error(err)
								break
							}
							r += k
							n++
							i++
						}
						retries.Add(int64(r))
						sent.Add(int64(n))
					})
				}
				b.StopTimer()
				if m.api == "Tell" {
					b.ReportMetric(float64(retries.Load())/float64(b.N), "retries/op")
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tells/s")
				s.flush(b)
				reportBatching(b, st0, s.c.Stats())
				waitFor(b, func() bool { return sink.frames.Load() == sent.Load() },
					func() string { return fmt.Sprintf("sink counted %d of %d tells", sink.frames.Load(), sent.Load()) })
			})
		}
	}
}

// reportBatching reports frames per write call between two Stats.
func reportBatching(b *testing.B, before, after engine.Stats) {
	if w := after.Writes - before.Writes; w > 0 {
		b.ReportMetric(float64(after.FramesWritten-before.FramesWritten)/float64(w), "frames/write")
	}
}

// waitFor polls cond for up to a minute.
func waitFor(tb testing.TB, cond func() bool, what func() string) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal(what())
		}
		time.Sleep(time.Millisecond)
	}
}
