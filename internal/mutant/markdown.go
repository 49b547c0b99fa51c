package mutant

import (
	"bytes"
	"fmt"
	"strings"
)

// Docs are the packages whose Invariants sections the gate covers.
var Docs = []string{"node", "engine", "internal/netconn", "internal/gnetconn", "castyjson", "zhbin"}

// Markdown returns TESTING.md's mutation list: for each Invariants bullet
// of each package in Docs, in order, the mutations that break it.
func Markdown(root string, ms []Mutation) (string, error) {
	var b bytes.Buffer
	for _, doc := range Docs {
		bullets, err := Invariants(root, doc)
		if err != nil {
			return "", err
		}
		by := map[string][]Mutation{}
		for _, m := range ms {
			if m.Doc != doc {
				continue
			}
			bl, err := m.Bullet(bullets)
			if err != nil {
				return "", err
			}
			by[bl] = append(by[bl], m)
		}
		fmt.Fprintf(&b, "### %s/doc.go\n", doc)
		for i, bl := range bullets {
			fmt.Fprintf(&b, "\n%d. %s\n\n", i+1, bl)
			b.WriteString("   | mutation | change | file | tests that kill it | CI subset |\n")
			b.WriteString("   |---|---|---|---|---|\n")
			for _, m := range by[bl] {
				fast := ""
				if m.Fast {
					fast = "yes"
				}
				fmt.Fprintf(&b, "   | `%s` | %s | `%s` | `%s` | %s |\n", m.Name, cell(m.What), m.File, cell(m.Run), fast)
			}
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n"), nil
}

// cell escapes a table cell's pipes.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
