package bench

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/zerohop/zerohop/engine"
	"github.com/zerohop/zerohop/workload"
)

// stack is the whole system in one process: an embedded Go cluster and an
// engine client connected to it, with every benchmark entity already
// resolved and started, so a benchmark measures steady state.
type stack struct {
	stopCluster func(context.Context) error // nil without a cluster
	c           *engine.Client
	ref         *engine.EntityRef
	ids         []string
	inc         any // workload.Increment{Amount: 1}, boxed once
}

const (
	stackShards   = workload.DefaultShards
	stackEntities = 1024 // a power of two: ids[i&(stackEntities-1)]
)

func (s *stack) close(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.c.Shutdown(ctx); err != nil {
		tb.Errorf("client Shutdown: %v", err)
	}
	if s.stopCluster != nil {
		if err := s.stopCluster(ctx); err != nil {
			tb.Errorf("cluster Close: %v", err)
		}
	}
}

// tell sends one Increment, yielding and retrying while the client's
// bounded queue is full (backpressure is flow control here, as in
// cmd/loadgen). It returns how many retries it took.
func (s *stack) tell(id string) (int, error) {
	for retries := 0; ; retries++ {
		err := s.ref.Tell(id, s.inc)
		if err == nil || !errors.Is(err, engine.ErrBufferFull) {
			return retries, err
		}
		runtime.Gosched()
	}
}

// flush waits until the client has written everything it accepted.
func (s *stack) flush(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.c.Flush(ctx); err != nil {
		st := s.c.Stats()
		tb.Fatalf("client did not drain: %v (%d buffered, %d queued)", err, st.Buffered, st.Queued)
	}
}
