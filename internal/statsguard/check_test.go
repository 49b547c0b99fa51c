package statsguard

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Errorf calls instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

type sample struct {
	Moved    int64
	Untested int64
	ByHelper int64
	Unused   int64
}

// The functions below are what Check inspects in this file.

func TestSampleMoved(t *testing.T) {
	var s sample
	s.Moved++
	if s.Moved != 1 {
		t.Fatal("not moved")
	}
	sampleHelper(t)
}

func sampleHelper(t *testing.T) {
	var s sample
	s.ByHelper++
	if s.ByHelper != 1 {
		t.Fatal("not moved")
	}
}

func sampleUnusedHelper(t *testing.T) {
	var s sample
	s.Unused++
	if s.Unused != 1 {
		t.Fatal("not moved")
	}
}

var _ = sampleUnusedHelper

func TestCheck(t *testing.T) {
	r := &recorder{TB: t}
	Check(r, ".", reflect.TypeFor[sample](), map[string][]string{
		"Moved":    {"TestSampleMoved", "TestNoSuchTest", "TestCheck"},
		"ByHelper": {"sampleHelper"},
		"Unused":   {"sampleUnusedHelper"},
		"Gone":     {"TestSampleMoved"},
	})
	want := []string{
		"Moved: test TestNoSuchTest not found",
		"Moved: TestCheck does not read the field",
		"Untested has no test",
		"Unused: helper sampleUnusedHelper is used by no Test function",
		"lists Gone, not a field",
	}
	for _, w := range want {
		found := false
		for _, e := range r.errs {
			found = found || strings.Contains(e, w)
		}
		if !found {
			t.Errorf("no error containing %q in %q", w, r.errs)
		}
	}
	if len(r.errs) != len(want) {
		t.Errorf("%d errors, want %d: %q", len(r.errs), len(want), r.errs)
	}
}
