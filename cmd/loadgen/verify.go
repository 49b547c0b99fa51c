package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// countResult is the outcome of asking a set of entities for their counters.
type countResult struct {
	values   []int64 // by entity index; valid where ok
	ok       []bool
	failures int   // entities with no answer after every attempt
	retries  int64 // extra attempts made
	firstErr error
}

// countAll asks every entity in ids for its counter (GetCount) with at most
// conc asks in flight. An entity whose ask fails is asked again, up to
// attempts times in all, with a short growing pause between attempts
// (verification must survive a slow moment of a shared machine, and
// GetCount is read-only so repeating it is safe).
func countAll(ctx context.Context, t target, ids []string, conc, attempts int, timeout time.Duration) countResult {
	res := countResult{values: make([]int64, len(ids)), ok: make([]bool, len(ids))}
	var (
		next     atomic.Int64
		retries  atomic.Int64
		mu       sync.Mutex // guards res.failures, res.firstErr
		wg       sync.WaitGroup
		nWorkers = min(conc, len(ids))
	)
	for range nWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				var err error
				for a := range attempts {
					if a > 0 {
						retries.Add(1)
						select {
						case <-time.After(time.Duration(a) * 100 * time.Millisecond):
						case <-ctx.Done():
						}
					}
					if ctx.Err() != nil {
						err = ctx.Err()
						break
					}
					actx, cancel := context.WithTimeout(ctx, timeout)
					var v int64
					v, err = t.GetCount(actx, ids[i])
					cancel()
					if err == nil {
						// Each index is written by exactly one goroutine and
						// read after wg.Wait.
						res.values[i] = v
						res.ok[i] = true
						break
					}
				}
				if err != nil {
					mu.Lock()
					res.failures++
					if res.firstErr == nil {
						res.firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	res.retries = retries.Load()
	return res
}
