package mutant

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the module root (this package is internal/mutant).
var root = filepath.Join("..", "..")

func TestApply(t *testing.T) {
	m := Mutation{Name: "x/y", File: "f.go", Orig: "a < b", Repl: "a <= b"}
	for _, tc := range []struct {
		src, want, err string
	}{
		{src: "if a < b {", want: "if a <= b {"},
		{src: "if a > b {", err: "not found"},
		{src: "a < b; a < b", err: "occurs 2 times"},
	} {
		got, err := m.Apply([]byte(tc.src))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Apply(%q): error %v, want one containing %q", tc.src, err, tc.err)
		case tc.err == "" && (err != nil || string(got) != tc.want):
			t.Errorf("Apply(%q) = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
}

// TestMutationsApply: every mutation is well formed, has a unique name, and
// its snippet is found exactly once in its file (a stale mutation fails
// here, in make test, before anyone runs the gate); the mutated file still
// parses.
func TestMutationsApply(t *testing.T) {
	names := map[string]bool{}
	for _, m := range List() {
		if err := m.Check(); err != nil {
			t.Error(err)
			continue
		}
		if names[m.Name] {
			t.Errorf("%s: duplicate name", m.Name)
		}
		names[m.Name] = true
		src, err := os.ReadFile(filepath.Join(root, m.File))
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		out, err := m.Apply(src)
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := parser.ParseFile(token.NewFileSet(), m.File, out, 0); err != nil {
			t.Errorf("%s: the mutated file does not parse: %v", m.Name, err)
		}
		if !strings.HasPrefix(m.File, strings.TrimPrefix(m.Package, "./")+"/") && m.File != "topo/holder.go" {
			t.Logf("%s: mutates %s, tested from %s", m.Name, m.File, m.Package)
		}
	}
}

// TestEveryInvariantHasAMutation: every bullet of the Invariants sections
// of node/doc.go and engine/doc.go is broken by at least one mutation, and
// every mutation names one bullet. Adding an invariant to a doc.go means
// adding its mutation.
func TestEveryInvariantHasAMutation(t *testing.T) {
	for _, doc := range Docs {
		bullets, err := Invariants(root, doc)
		if err != nil {
			t.Fatal(err)
		}
		covered := map[string]int{}
		for _, m := range List() {
			if m.Doc != doc {
				continue
			}
			b, err := m.Bullet(bullets)
			if err != nil {
				t.Error(err)
				continue
			}
			covered[b]++
		}
		for _, b := range bullets {
			if covered[b] == 0 {
				t.Errorf("%s/doc.go: no mutation breaks the invariant %q", doc, b)
			}
		}
	}
	for _, m := range List() {
		known := false
		for _, d := range Docs {
			known = known || m.Doc == d
		}
		if !known {
			t.Errorf("%s: Doc %q is not one of %v", m.Name, m.Doc, Docs)
		}
	}
}

var testFunc = regexp.MustCompile(`(?m)^func (Test\w+)\(t \*testing\.T\)`)

// TestRunSelectsTests: each mutation's -run selects at least one test of
// its package (a typo would select none, and the runner would call the
// mutation invalid only after building it).
func TestRunSelectsTests(t *testing.T) {
	tests := map[string][]string{}
	for _, m := range List() {
		if _, ok := tests[m.Package]; !ok {
			files, _ := filepath.Glob(filepath.Join(root, m.Package, "*_test.go"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for _, sm := range testFunc.FindAllSubmatch(b, -1) {
					tests[m.Package] = append(tests[m.Package], string(sm[1]))
				}
			}
		}
		top := regexp.MustCompile(strings.SplitN(m.Run, "/", 2)[0])
		found := false
		for _, name := range tests[m.Package] {
			found = found || top.MatchString(name)
		}
		if !found {
			t.Errorf("%s: -run %q selects no test of %s", m.Name, m.Run, m.Package)
		}
	}
}

const (
	mdBegin = "<!-- mutants:begin (go run ./cmd/mutants -markdown) -->\n"
	mdEnd   = "\n<!-- mutants:end -->"
)

// TestTestingMDListsEveryMutation: TESTING.md's mutation list is the one
// Markdown generates from List and the doc.go files.
func TestTestingMDListsEveryMutation(t *testing.T) {
	want, err := Markdown(root, List())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "TESTING.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, mdBegin), strings.Index(s, mdEnd)
	if i < 0 || j < i {
		t.Fatalf("TESTING.md lacks the markers %q ... %q", mdBegin, mdEnd)
	}
	if got := s[i+len(mdBegin) : j]; got != want {
		t.Errorf("TESTING.md's mutation list is out of date: regenerate it with go run ./cmd/mutants -markdown")
	}
}
