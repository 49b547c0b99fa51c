package engine_test

import (
	"bytes"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeSnippet returns the first ```go block under heading in the README
// at path.
func readmeSnippet(t *testing.T, path, heading string) []byte {
	t.Helper()
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s: no %q heading", path, heading)
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	_, block, ok := strings.Cut(section, "\n```go\n")
	if !ok {
		t.Fatalf("%s: no ```go block under %q", path, heading)
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	if !ok {
		t.Fatalf("%s: the ```go block under %q is not closed", path, heading)
	}
	return []byte(block + "\n")
}

// TestREADMEClientSnippetCompiles: the README's "The client in five calls"
// is a whole program that builds and passes go vet against this module's
// packages, and is gofmt-formatted. The go command, run in the module
// with the snippet's file (in a temporary directory) as its argument,
// resolves the snippet's imports in this module: the test writes nothing
// into the repository and needs no network.
func TestREADMEClientSnippetCompiles(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	snippet := readmeSnippet(t, filepath.Join(root, "README.md"), "## The client in five calls")
	if formatted, err := format.Source(snippet); err != nil {
		t.Fatalf("README snippet does not parse: %v\n%s", err, snippet)
	} else if !bytes.Equal(formatted, snippet) {
		t.Errorf("README snippet is not gofmt-formatted; formatted:\n%s", formatted)
	}

	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, snippet, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"build", "-o", filepath.Join(dir, "snippet"), src},
		{"vet", src},
	} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s fails on the README snippet: %v\n%s\nsnippet:\n%s", args[0], err, out, snippet)
		}
	}
}
