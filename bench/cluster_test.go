package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerohop/zerohop/castyjson"
	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/node"
	"github.com/zerohop/zerohop/node/nodetest"
	"github.com/zerohop/zerohop/wire"
	"github.com/zerohop/zerohop/workload"
)

// newStack starts an embedded cluster of nodes Go nodes (node.StartLocalCluster)
// and dials a client to it over transport ("" = the engine's default).
func newStack(tb testing.TB, nodes int, transport string) *stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The client runs in the same process: nodes on the Go network poller,
	// as loadgen's embedded cluster (PERFORMANCE.md, "Node transports").
	lc, err := nodetest.StartLocalCluster(ctx, nodes, nodetest.Options{Logger: logger,
		Configure: func(_ int, cfg *node.Config) { cfg.Transport = node.TransportNet }})
	if err != nil {
		tb.Fatalf("StartLocalCluster: %v", err)
	}
	reg := castyjson.NewRegistry()
	if err := workload.Register(reg, workload.DefaultModule); err != nil {
		tb.Fatal(err)
	}
	c, err := engine.Dial(ctx, engine.Config{
		ContactPoints: lc.ContactPoints(),
		SystemName:    workload.DefaultSystem,
		Types:         reg,
		Transport:     transport,
		Logger:        logger,
	})
	if err != nil {
		_ = lc.Close(ctx)
		tb.Fatalf("Dial: %v", err)
	}
	s := &stack{stopCluster: lc.Close, c: c, inc: workload.Increment{Amount: 1}}
	if err := c.WaitTopology(ctx); err != nil {
		s.close(tb)
		tb.Fatalf("WaitTopology: %v", err)
	}
	if s.ref, err = c.EntityRef(workload.DefaultEntityType, stackShards); err != nil {
		s.close(tb)
		tb.Fatal(err)
	}
	s.ids = make([]string, stackEntities)
	for i := range s.ids {
		s.ids[i] = "bench-" + strconv.Itoa(i)
	}
	// Warm up: resolve every shard and start every entity.
	if _, err := s.counts(ctx); err != nil {
		s.close(tb)
		tb.Fatalf("warm-up: %v", err)
	}
	return s
}

// BenchmarkEndToEnd compares the two client transports on plaintext, end
// to end: b.N tells (TellContext: wait for queue room) from GOMAXPROCS goroutines, then the wait until the
// client has written everything, all timed; then (untimed) every entity is
// asked for its count and the sum must have grown by exactly b.N.
// tells/s is delivered tells per second.
func BenchmarkEndToEnd(b *testing.B) {
	for _, tp := range transports {
		b.Run("transport="+tp, func(b *testing.B) {
			s := newStack(b, 3, tp)
			defer s.close(b)
			ctx := context.Background()
			before, err := s.counts(ctx)
			if err != nil {
				b.Fatal(err)
			}
			st0 := s.c.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for g := range runtime.GOMAXPROCS(0) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					i := g * 131
					for next.Add(1) <= int64(b.N) {
						if err := s.ref.TellContext(ctx, s.ids[i&(stackEntities-1)], s.inc); err != nil {
							b.Error(err)
							return
						}
						i++
					}
				}()
			}
			wg.Wait()
			s.flush(b)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tells/s")
			reportBatching(b, st0, s.c.Stats())
			after, err := s.counts(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if got := after - before; got != int64(b.N) {
				b.Fatalf("delivered %d tells, sent %d: lost %d", got, b.N, int64(b.N)-got)
			}
		})
	}
}

// BenchmarkAskPipelined is GetCount round trips with a fixed number in
// flight (one goroutine per in-flight ask), over the default transport.
// ns/op is wall time per completed ask, so asks/s = 1e9 / ns/op.
func BenchmarkAskPipelined(b *testing.B) {
	s := newStack(b, 3, "")
	defer s.close(b)
	for _, inflight := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			b.ReportAllocs()
			var next atomic.Int64
			var wg sync.WaitGroup
			ctx := context.Background()
			b.ResetTimer()
			for g := range inflight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					i := g * 131
					for next.Add(1) <= int64(b.N) {
						// Bounded by the client's AskTimeout (no timer per ask here).
						_, err := s.getCount(ctx, s.ids[i&(stackEntities-1)])
						if err != nil {
							b.Error(err)
							return
						}
						i++
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "asks/s")
		})
	}
}

// getCount asks one entity for its counter; a refusal by a full client
// queue is flow control and is retried, as in cmd/loadgen.
func (s *stack) getCount(ctx context.Context, id string) (int64, error) {
	for {
		r, err := engine.AskAs[workload.CountReply](ctx, s.c, s.ref, func(replyTo wire.Ref) any {
			return engine.ShardEnvelope{EntityID: id, Message: workload.GetCount{ReplyTo: replyTo}}
		})
		if err == nil || !errors.Is(err, engine.ErrBufferFull) || ctx.Err() != nil {
			return r.Value, err
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// counts returns the sum of every benchmark entity's counter, asking 32 at
// a time and retrying a failed ask up to 5 times.
func (s *stack) counts(ctx context.Context) (int64, error) {
	var (
		sum, next atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		firstErr  error
	)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(s.ids) {
					return
				}
				var err error
				for range 5 {
					var v int64
					actx, cancel := context.WithTimeout(ctx, 5*time.Second)
					v, err = s.getCount(actx, s.ids[i])
					cancel()
					if err == nil {
						sum.Add(v)
						break
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("GetCount %s: %w", s.ids[i], err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return sum.Load(), firstErr
}
