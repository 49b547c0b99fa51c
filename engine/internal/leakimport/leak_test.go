package leakimport

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/zerohop/zerohop/engine"
)

// TestImportStartsNoGoroutine: with engine imported and initialised, no
// goroutine runs beyond the test's own (goleak ignores none: gnet's
// worker pool, which starts at import, would fail this).
func TestImportStartsNoGoroutine(t *testing.T) {
	_ = engine.DefaultTransport // engine is linked and initialised
	goleak.VerifyNone(t)
}
