// Package bench holds zerohop's cross-stack benchmarks and the raw loopback
// ceiling that every end-to-end number is divided by.
//
// The benchmarks live in the package's _test.go files (run them with
// `go test -run '^$' -bench . -benchtime 1s ./bench/`); they drive the real
// packages (wire, ring, topo, engine, node) and call b.ReportAllocs
// everywhere. The non-test part of the package is the ceiling: Ceiling moves
// fixed-size frames in Casty's framing (u32 big-endian length, one type byte,
// body; PROTOCOL.md section 2.1) over one loopback TCP connection with one
// writer doing batched writes and one reader parsing and counting frames. It
// uses no zerohop code, so it measures what this machine's kernel and Go
// runtime can physically carry, measured in the same run as the zerohop
// number it is compared with. The command bench/cmd/ceiling prints it.
//
// Invariants: Ceiling listens only on 127.0.0.1 with a kernel-chosen port;
// every frame the writer encodes is either counted by the reader or the run
// fails with an error (a short count is a broken invariant, not a result).
//
// Concurrency: Ceiling is safe to call from several goroutines, although
// concurrent runs share the machine and measure each other. It starts two
// goroutines per call and returns only after both have exited.
package bench
