package nodetest

import (
	"context"
	"testing"
	"time"
)

// Start is StartLocalCluster for tests: it fails tb if the cluster does not
// start within a minute, and closes it when the test ends (a failed Close
// fails the test).
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
		if err := c.Close(ctx); err != nil {
			tb.Errorf("nodetest: close: %v", err)
		}
	})
	return c
}
