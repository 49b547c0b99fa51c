// Package mutant is zerohop's mutation gate: a checked-in list of named
// mutations, each a deliberate one-line break of an invariant that
// node/doc.go or engine/doc.go states, and a runner that applies them one
// at a time and runs the tests that must catch each. cmd/mutants is its
// command line (make mutants, make mutants-fast); TESTING.md shows the list
// by invariant and the last run.
//
//	for _, m := range mutant.List() { ... }       // the gate, in doc order
//	r := &mutant.Runner{Root: root, Work: dir}
//	res := r.Baseline(ctx, "./node", "^TestX$")   // must pass unmutated
//	res = r.Run(ctx, m)                           // res.Outcome: Killed, Survived, ...
//	bullets, _ := mutant.Invariants(root, "node") // the doc's Invariants bullets
//	md, _ := mutant.Markdown(root, mutant.List()) // TESTING.md's list
//
// Invariants of the gate itself:
//
//   - The source tree is never written: a mutated file reaches the compiler
//     through go test -overlay only, so an interrupted run leaves nothing.
//   - A snippet that is not in its file exactly once is an error (Stale),
//     never a skipped mutation; so is a mutation that does not build
//     (Invalid: a kill must come from a test, not the compiler), and a
//     -run that selects no test or only skipped ones.
//   - A timeout is a kill only when the mutation documents why a hang is
//     the bug (TimeoutKills).
//   - Every Invariants bullet of node/doc.go and engine/doc.go has at least
//     one mutation, every mutation names one bullet, and TESTING.md lists
//     them all: the package's tests check each of these, in make test.
//
// Concurrency: List, Invariants and Markdown are pure and safe for
// concurrent use; a Runner is not (mutations run in sequence by design).
package mutant
