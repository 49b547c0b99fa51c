package mutant

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Mutation is one named, deliberate break of an invariant: in File, the
// exact text Orig (unique in the file) becomes Repl. The tests Run selects
// in Package must fail under it.
//
// A Mutation is a plain value: safe to copy, and its zero value is not a
// valid mutation (Check says why).
type Mutation struct {
	// Name identifies the mutation: "<package>/<what-breaks>", stable
	// (TESTING.md and -run select by it).
	Name string
	// Doc is the package whose doc.go states the invariant ("node",
	// "engine"), and Invariant the start of its bullet in the Invariants
	// section, as written there (whitespace is normalised).
	Doc, Invariant string
	// What the mutation does, in a few words (TESTING.md's table).
	What string
	// File is relative to the module root; Orig must occur in it exactly
	// once, and Repl replaces it (a one-line change in spirit).
	File, Orig, Repl string
	// Package is the go test package ("./node") and Run the -run regexp of
	// the tests that must kill the mutation.
	Package, Run string
	// Fast puts the mutation in the CI subset (make mutants-fast): its
	// tests take seconds, not minutes.
	Fast bool
	// Timeout bounds the test run (0: Runner.Timeout). TimeoutKills, when
	// set, says why a test run that times out counts as killed (the
	// mutation makes the tests hang, e.g. a lost wake-up); otherwise a
	// timeout is not a kill.
	Timeout      time.Duration
	TimeoutKills string
}

// Apply returns src with the mutation applied. It fails when Orig does not
// occur in src exactly once: a mutation whose code moved must be updated,
// never silently skipped.
func (m Mutation) Apply(src []byte) ([]byte, error) {
	switch n := bytes.Count(src, []byte(m.Orig)); n {
	case 1:
	case 0:
		return nil, fmt.Errorf("mutant: %s: snippet not found in %s (stale mutation: update it with the code)", m.Name, m.File)
	default:
		return nil, fmt.Errorf("mutant: %s: snippet occurs %d times in %s (make it unique)", m.Name, n, m.File)
	}
	return bytes.Replace(src, []byte(m.Orig), []byte(m.Repl), 1), nil
}

var namePattern = regexp.MustCompile(`^[a-z]+/[a-z0-9-]+$`)

// Check reports what is wrong with m's fields (not whether its snippet is
// found: Apply does that against the file).
func (m Mutation) Check() error {
	var bad []string
	if !namePattern.MatchString(m.Name) {
		bad = append(bad, fmt.Sprintf("name %q is not <package>/<lower-case-words>", m.Name))
	}
	if m.Doc == "" || m.Invariant == "" || m.What == "" {
		bad = append(bad, "Doc, Invariant and What are required")
	}
	if m.File == "" || m.Orig == "" {
		bad = append(bad, "File and Orig are required")
	}
	if m.Orig == m.Repl {
		bad = append(bad, "Repl equals Orig")
	}
	if !strings.HasPrefix(m.Package, "./") || m.Run == "" {
		bad = append(bad, fmt.Sprintf("Package %q must be ./<dir> and Run set", m.Package))
	}
	if _, err := regexp.Compile(m.Run); err != nil {
		bad = append(bad, fmt.Sprintf("Run %q: %v", m.Run, err))
	}
	if len(bad) > 0 {
		return fmt.Errorf("mutant: %s: %s", m.Name, strings.Join(bad, "; "))
	}
	return nil
}
