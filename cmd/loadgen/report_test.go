package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTableHeadline: the table opens with the verdict, tells/s, asks and
// the cluster; the engine's counters appear only with -v; the one line on
// why asks are slower appears exactly when asks shared the client with an
// unpaced tell flood.
func TestTableHeadline(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantWhy    bool
		wantClient bool
	}{
		{"flood with asks", nil, true, false},
		{"-v", []string{"-v"}, true, true},
		{"asks alone", []string{"-workers", "0"}, false, false},
		{"paced", []string{"-rate", "2000"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"-duration", "300ms", "-entities", "20", "-workers", "1", "-progress=false"}, tc.args...)
			if code := run(context.Background(), args, &stdout, &stderr, memOpener(&memTarget{})); code != 0 {
				t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr.String())
			}
			lines := strings.Split(stdout.String(), "\n")
			for i, k := range []string{"result", "tells", "asks"} {
				if f := strings.Fields(lines[i]); len(f) == 0 || f[0] != k {
					t.Errorf("line %d: got %q, want it to start with %q\n%s", i, lines[i], k, stdout.String())
				}
			}
			if got := strings.Contains(stdout.String(), "asks wait behind the tell flood"); got != tc.wantWhy {
				t.Errorf("got the ask explanation %v, want %v\n%s", got, tc.wantWhy, stdout.String())
			}
			if got := strings.Contains(stdout.String(), "client tell_calls"); got != tc.wantClient {
				t.Errorf("got the engine's counters %v, want %v\n%s", got, tc.wantClient, stdout.String())
			}
		})
	}
}
