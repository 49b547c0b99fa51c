package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

// FlagSet is the set of flags a binary accepts, read from its -h output.
// The zero value accepts nothing. It is immutable once built and safe for
// concurrent reads.
type FlagSet struct {
	names map[string]bool
}

// flagLine matches a flag in the flag package's usage output ("  -name
// type" or "  -name"), and the "-name" forms of a hand-written usage.
var flagLine = regexp.MustCompile(`(?m)^\s{1,8}--?([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// ParseFlagSet reads the flags named in usage text.
func ParseFlagSet(usage string) FlagSet {
	fs := FlagSet{names: make(map[string]bool)}
	for _, m := range flagLine.FindAllStringSubmatch(usage, -1) {
		fs.names[m[1]] = true
	}
	return fs
}

// Has reports whether the binary accepts -name.
func (f FlagSet) Has(name string) bool { return f.names[name] }

// Names returns the flags, sorted.
func (f FlagSet) Names() []string {
	out := make([]string, 0, len(f.names))
	for n := range f.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// DetectFlags runs bin -h (exit status 0 or 2 are both usage) and parses
// the flags it lists. A binary that lists no flag is an error: the harness
// would otherwise pass nothing and run a default node.
func DetectFlags(ctx context.Context, bin string) (FlagSet, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-h")
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // -h exits 0 (cmd/node) or 2 (the flag package's default)
	fs := ParseFlagSet(out.String())
	if len(fs.names) == 0 {
		return fs, fmt.Errorf("chaos: %s -h lists no flag: %q", bin, firstLine(out.String()))
	}
	return fs, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Require reports every name in names the binary does not accept, at
// once (nil when it accepts them all).
func (f FlagSet) Require(bin string, names ...string) error {
	var missing []string
	for _, n := range names {
		if !f.Has(n) {
			missing = append(missing, "-"+n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("chaos: %s lacks %s (the harness needs them)", bin, strings.Join(missing, ", "))
	}
	return nil
}

// Arg is one command-line flag and its value.
type Arg struct {
	Name, Value string
}

// Args filters want down to the flags the binary supports and renders
// them as "-name=value". skipped lists the names it dropped, for the
// report ("not passed: the binary has no -raft").
func (f FlagSet) Args(want []Arg) (args, skipped []string) {
	for _, a := range want {
		if !f.Has(a.Name) {
			skipped = append(skipped, a.Name)
			continue
		}
		args = append(args, "-"+a.Name+"="+a.Value)
	}
	return args, skipped
}
