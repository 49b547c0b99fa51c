// Package statsguard checks, in a package's own tests, that every field of
// its Stats type is read by a test that makes it move: each package keeps a
// table field -> test names next to its tests and calls Check from one test
// (node.TestEveryStatsFieldHasATest, engine.TestEveryStatsFieldHasATest).
//
//	statsguard.Check(t, ".", reflect.TypeFor[Stats](), table)
//
// Invariants:
//
//   - Every exported field of the Stats type has at least one entry, and
//     every entry names a field that exists: a new field without a test, or
//     a renamed one whose table was not updated, fails the package's tests.
//   - A listed name is a function declared in dir/*_test.go whose body reads
//     the field (a selector .Field); a helper (not Test*) must be referenced
//     by a Test function (forEachTransport(t, testX) counts).
//
// Whether the test makes the field move as its scenario says is the test's
// own assertion; Check only ties fields to tests. It parses source files
// only; safe for concurrent use (no shared state).
package statsguard
