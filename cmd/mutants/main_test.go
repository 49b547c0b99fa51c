package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/internal/leakcheck"
	"github.com/zerohop/zerohop/internal/mutant"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func TestList(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-list"}, &out, &errOut); code != 0 {
		t.Fatalf("-list exit %d: %s", code, errOut.String())
	}
	for _, m := range mutant.List() {
		if !strings.Contains(out.String(), m.Name) {
			t.Errorf("-list lacks %s", m.Name)
		}
	}
	out.Reset()
	if code := run([]string{"-list", "-fast"}, &out, &errOut); code != 0 {
		t.Fatalf("-list -fast exit %d: %s", code, errOut.String())
	}
	for _, m := range mutant.List() {
		if got := strings.Contains(out.String(), m.Name+" "); got != m.Fast {
			t.Errorf("-list -fast lists %s: %v, want %v", m.Name, got, m.Fast)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"-run", "("}, "-run: error parsing regexp", 2},
		{[]string{"-timeout", "0s"}, "-timeout 0s <= 0", 2},
		{[]string{"extra"}, "unexpected arguments", 2},
		{[]string{"-run", "^no-such-mutation$"}, "no mutation selected", 2},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
		}
	}
}
