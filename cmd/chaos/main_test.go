package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/zerohop/zerohop/internal/chaos"
	"github.com/zerohop/zerohop/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func TestList(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-list"}, &out, &errOut); code != 0 {
		t.Fatalf("-list exit %d: %s", code, errOut.String())
	}
	for _, s := range chaos.Scenarios() {
		if !strings.Contains(out.String(), s.Name) {
			t.Errorf("-list lacks %s", s.Name)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "-scenario is required"},
		{[]string{"-scenario", "nope"}, "unknown scenario nope"},
		{[]string{"-scenario", "follower-kill", "-nodes", "1", "-duration", "0s", "-rate", "-1"}, "-nodes 1 < 2; -duration 0s <= 0; -rate -1 < 0"},
		{[]string{"-scenario", "follower-kill", "extra"}, "unexpected arguments"},
	}
	for _, tc := range tests {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: stderr %q, want %q", tc.args, errOut.String(), tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, &out, &errOut); code != 0 {
		t.Errorf("-h exit %d, want 0", code)
	}
	if !strings.Contains(errOut.String(), "-keep-logs") {
		t.Errorf("usage lacks -keep-logs: %q", errOut.String())
	}
}
