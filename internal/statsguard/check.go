package statsguard

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Check reports through t every field of typ without a test in table,
// every table entry that is not a field of typ, and every listed test
// that is not in dir/*_test.go, does not read its field, or (a helper) is
// used by no Test function (directly or through other helpers).
func Check(t testing.TB, dir string, typ reflect.Type, table map[string][]string) {
	t.Helper()
	funcs, err := testFuncs(dir)
	if err != nil {
		t.Fatal(err)
	}
	// used: identifiers that appear in Test* functions (calls, and helpers
	// passed as values).
	// A helper used by such a helper counts too (testBadInput runs
	// testUndecodable in a subtest).
	used := map[string]bool{}
	var work []*ast.FuncDecl
	for name, fd := range funcs {
		if strings.HasPrefix(name, "Test") {
			work = append(work, fd)
		}
	}
	for len(work) > 0 {
		fd := work[len(work)-1]
		work = work[:len(work)-1]
		ast.Inspect(fd, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && !used[id.Name] {
				used[id.Name] = true
				if h := funcs[id.Name]; h != nil && !strings.HasPrefix(id.Name, "Test") {
					work = append(work, h)
				}
			}
			return true
		})
	}
	fields := map[string]bool{}
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		fields[f.Name] = true
		tests := table[f.Name]
		if len(tests) == 0 {
			t.Errorf("%s.%s has no test: add one that makes it move and list it", typ, f.Name)
			continue
		}
		for _, name := range tests {
			fd := funcs[name]
			switch {
			case fd == nil:
				t.Errorf("%s.%s: test %s not found in %s", typ, f.Name, name, filepath.Join(dir, "*_test.go"))
			case !reads(fd, f.Name):
				t.Errorf("%s.%s: %s does not read the field", typ, f.Name, name)
			case !strings.HasPrefix(name, "Test") && !used[name]:
				t.Errorf("%s.%s: helper %s is used by no Test function", typ, f.Name, name)
			}
		}
	}
	for name := range table {
		if !fields[name] {
			t.Errorf("the table lists %s, not a field of %s", name, typ)
		}
	}
}

// testFuncs parses dir/*_test.go and returns their top-level functions by
// name.
func testFuncs(dir string) (map[string]*ast.FuncDecl, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	funcs := map[string]*ast.FuncDecl{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				funcs[fd.Name.Name] = fd
			}
		}
	}
	return funcs, nil
}

// reads reports whether fd's body has a selector .field.
func reads(fd *ast.FuncDecl, field string) bool {
	found := false
	ast.Inspect(fd, func(n ast.Node) bool {
		if se, ok := n.(*ast.SelectorExpr); ok && se.Sel.Name == field {
			found = true
		}
		return !found
	})
	return found
}
