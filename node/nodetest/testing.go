package nodetest

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

// closeStuck is how long Start's cleanup waits for Close before it fails
// the test with the stacks of the goroutines Close waits for: a Kill that
// never returns is a bug to see in the test's output, not a package
// timeout whose dump a CI log cuts off.
const closeStuck = 2 * time.Minute

// Start is StartLocalCluster for tests: it fails tb if the cluster does not
// start within a minute, and closes it when the test ends (a failed Close
// fails the test; a Close stuck for closeStuck fails it with the stacks of
// the stuck Kills, last in the output).
func Start(tb testing.TB, n int, opts Options) *LocalCluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := StartLocalCluster(ctx, n, opts)
	if err != nil {
		tb.Fatalf("nodetest: %d-node cluster: %v", n, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- c.Close(ctx) }()
		stuck := time.NewTimer(closeStuck)
		defer stuck.Stop()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("nodetest: close: %v", err)
			}
		case <-stuck.C:
			tb.Fatalf("nodetest: Close stuck for %v; every goroutine:\n%s\n--- the stuck ones (Kill and what it waits for):\n%s",
				closeStuck, allStacks(), stuckStacks())
		}
	})
	return c
}

// allStacks returns every goroutine's stack.
func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// stuckStacks returns the stacks in a Node's Kill or shutdown path.
func stuckStacks() string {
	var b strings.Builder
	for _, g := range strings.Split(allStacks(), "\n\n") {
		if strings.Contains(g, "(*Node).Kill") || strings.Contains(g, "(*Node).abort") ||
			strings.Contains(g, "Shutdown") || strings.Contains(g, "shutdown") {
			b.WriteString(g)
			b.WriteString("\n\n")
		}
	}
	return b.String()
}
