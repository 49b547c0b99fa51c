package main

import (
	"testing"

	"go.uber.org/goleak"
)

// gnetPoolGoroutines are the two housekeeping goroutines of the process-wide
// ants pool that gnet v2 creates when its package is initialised; they live
// as long as the process and are not ours to stop.
var gnetPoolGoroutines = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, gnetPoolGoroutines...)
}
