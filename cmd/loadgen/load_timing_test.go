package main

import (
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/zerohop/zerohop/workload"
)

// nopTarget accepts every tell at once and does nothing else: what is left
// of tellOne's cost is the runner's own bookkeeping per tell.
type nopTarget struct{ memTarget }

func (*nopTarget) Tell(context.Context, string) error { return nil }

// BenchmarkTellOne measures the runner's per-tell bookkeeping (accepted per
// entity, the shard lookup for the refusal policy, and with -series the
// per-shard counter), with a target that costs nothing.
func BenchmarkTellOne(b *testing.B) {
	for _, series := range []bool{false, true} {
		b.Run("series="+strconv.FormatBool(series), func(b *testing.B) {
			o, err := parseFlags([]string{"-entities", "1000"}, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, o.entities)
			for i := range ids {
				ids[i] = "e" + strconv.Itoa(i)
			}
			var w io.Writer
			if series {
				w = io.Discard
			}
			r := newRunner(o, &nopTarget{}, ids, io.Discard, w)
			r.tellCtx = context.Background()
			wk := r.workers[0]
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r.tellOne(wk, i%len(ids))
			}
			b.StopTimer()
			if wk.sent.Load() != int64(b.N) || len(wk.okByShard) != map[bool]int{false: 0, true: workload.DefaultShards}[series] {
				b.Fatalf("got sent %d, %d shard counters", wk.sent.Load(), len(wk.okByShard))
			}
		})
	}
}
