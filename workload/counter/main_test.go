package counter_test

import (
	"testing"

	"github.com/zerohop/zerohop/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
