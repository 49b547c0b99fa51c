package mutant

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Invariants returns the bullets of the "# Invariants" section of the
// package doc in <root>/<pkg>/doc.go, each as one line with its whitespace
// normalised, in the order written.
func Invariants(root, pkg string) ([]string, error) {
	src, err := os.ReadFile(filepath.Join(root, pkg, "doc.go"))
	if err != nil {
		return nil, err
	}
	var bullets []string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "//")
		if !ok {
			if in {
				break // the comment ended
			}
			continue
		}
		text := strings.TrimSpace(line)
		if strings.HasPrefix(text, "# ") {
			if in {
				break // the next section
			}
			in = text == "# Invariants"
			continue
		}
		if !in {
			continue
		}
		switch {
		case strings.HasPrefix(text, "- "):
			bullets = append(bullets, strings.TrimPrefix(text, "- "))
		case text != "" && len(bullets) > 0 && strings.HasPrefix(line, "     "):
			bullets[len(bullets)-1] += " " + text // a continuation line
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(bullets) == 0 {
		return nil, fmt.Errorf("mutant: %s/doc.go has no bullets under # Invariants", pkg)
	}
	for i, b := range bullets {
		bullets[i] = normalize(b)
	}
	return bullets, nil
}

// normalize collapses runs of white space into one space.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// Bullet returns the bullet of bullets that m's Invariant starts, or an
// error when none or several do.
func (m Mutation) Bullet(bullets []string) (string, error) {
	want := normalize(m.Invariant)
	var found []string
	for _, b := range bullets {
		if strings.HasPrefix(b, want) {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("mutant: %s: invariant %q starts %d bullets of %s/doc.go, want 1", m.Name, want, len(found), m.Doc)
	}
	return found[0], nil
}
