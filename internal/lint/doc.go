// Package lint holds the house rules that a compiler does not check,
// written as Go tests (the way cockroachdb/pebble keeps its lint rules):
// every library package has a doc.go, every command a package comment; no
// source file over MaxFileLines lines except generated code; no function
// over MaxFuncLines lines unless its doc comment has a line starting with
// "Long:" that says why (a table of data, a state machine read best in one
// piece).
//
// The package has no code of its own beyond the limits; its tests walk the
// module's source tree from the module root (nested modules under bench/
// have their own rules and are skipped).
package lint

// The limits of issue 13: a file a reviewer can hold in mind, a function
// that fits on two screens.
const (
	MaxFileLines = 700
	MaxFuncLines = 120
)
