package bench

import (
	"fmt"
	"testing"
)

// TestSinkCountsEveryTell checks the sinkNode that BenchmarkTell relies on:
// a client routes every shard to it at once and every tell arrives.
func TestSinkCountsEveryTell(t *testing.T) {
	for _, tp := range transports {
		t.Run(tp, func(t *testing.T) {
			sink, s := sinkClient(t, tp)
			defer sink.close()
			defer s.close(t)
			const n = 20000
			for i := range n {
				if _, err := s.tell(s.ids[i&(stackEntities-1)]); err != nil {
					t.Fatalf("tell %d: %v", i, err)
				}
			}
			s.flush(t)
			waitFor(t, func() bool { return sink.frames.Load() == n },
				func() string { return fmt.Sprintf("sink counted %d of %d tells", sink.frames.Load(), n) })
		})
	}
}
