package node_test

import (
	"flag"
	"testing"

	"github.com/zerohop/zerohop/internal/leakcheck"
)

// TestMain runs four of the package's parallel tests at a time unless
// -parallel says otherwise (go test's default is GOMAXPROCS, 2 on the
// 2-core machines this runs on): they are 3-node clusters waiting on
// their timers (failure detection, leases, frame timeouts), not CPU, and
// four at a time keep one iteration near a minute, so that
// go test -race -count=5 fits the default 10-minute timeout of a test
// binary on a loaded box.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", "4"); err != nil {
			panic(err)
		}
	}
	leakcheck.VerifyTestMain(m)
}
