package lint

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sourceFile is one .go file of the main module.
type sourceFile struct {
	path string // relative to the module root
	src  []byte
}

// moduleFiles returns every .go file of the main module, skipping testdata,
// hidden directories and nested modules.
func moduleFiles(t *testing.T) []sourceFile {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	var files []sourceFile
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if p != root {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir // a nested module
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, sourceFile{path: filepath.ToSlash(rel), src: src})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("found %d .go files under %s: the walk is broken", len(files), root)
	}
	return files
}

func generated(src []byte) bool {
	head := src
	if len(head) > 4096 {
		head = head[:4096]
	}
	return bytes.Contains(head, []byte("Code generated")) && bytes.Contains(head, []byte("DO NOT EDIT"))
}

func TestNoLongFiles(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if generated(f.src) {
			continue
		}
		if n := bytes.Count(f.src, []byte("\n")); n > MaxFileLines {
			t.Errorf("%s: %d lines, want at most %d: split it along what it holds", f.path, n, MaxFileLines)
		}
	}
}

func TestNoLongFunctions(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if generated(f.src) {
			continue
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, f.path, f.src, parser.ParseComments)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		for _, decl := range file.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			if n <= MaxFuncLines || hasLongReason(fd.Doc) {
				continue
			}
			t.Errorf("%s: func %s is %d lines, want at most %d (or a doc comment line starting with \"Long:\" saying why)",
				f.path, fd.Name.Name, n, MaxFuncLines)
		}
	}
}

func hasLongReason(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	for _, line := range strings.Split(doc.Text(), "\n") {
		if strings.HasPrefix(line, "Long: ") && len(line) > len("Long: ")+10 {
			return true
		}
	}
	return false
}

// TestEveryPackageIsDocumented: a library package has a doc.go with the
// package comment; a command (package main) has a package comment.
func TestEveryPackageIsDocumented(t *testing.T) {
	type pkg struct {
		main, hasDocGo, hasComment bool
	}
	pkgs := map[string]*pkg{}
	for _, f := range moduleFiles(t) {
		if strings.HasSuffix(f.path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f.path, f.src, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		dir := filepath.Dir(f.path)
		p := pkgs[dir]
		if p == nil {
			p = &pkg{}
			pkgs[dir] = p
		}
		p.main = p.main || file.Name.Name == "main"
		if file.Doc != nil {
			p.hasComment = true
			if filepath.Base(f.path) == "doc.go" {
				p.hasDocGo = true
			}
		}
	}
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		p := pkgs[d]
		switch {
		case p.main && !p.hasComment:
			t.Errorf("command %s has no package comment", d)
		case !p.main && !p.hasDocGo:
			t.Errorf("package %s has no doc.go with its package comment", d)
		}
	}
}
