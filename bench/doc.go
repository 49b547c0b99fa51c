// Package bench holds zerohop's cross-stack benchmarks and the raw loopback
// ceiling that every end-to-end number is divided by.
//
// The benchmarks live in the package's _test.go files (run them with
// `go test -run '^$' -bench . -benchtime 1s ./bench/`); they drive the real
// packages (wire, castyjson, ring, topo, engine, node) and call b.ReportAllocs
// everywhere. The non-test part of the package is the ceiling: Ceiling moves
// fixed-size frames in Casty's framing (u32 big-endian length, one type byte,
// body; PROTOCOL.md section 2.1) over one loopback TCP connection with one
// writer doing batched writes and one reader parsing and counting frames. It
// uses no zerohop code, so it measures what this machine's kernel and Go
// runtime can physically carry, measured in the same run as the zerohop
// number it is compared with. The command bench/cmd/ceiling prints it, and
// RoundTrip (ceiling -rtt N) measures the raw loopback round trip of one
// frame, the floor under any ask's latency. Between two processes the
// floor is RoundTripOver a connection to ServeEcho in the other one
// (ceiling -rtt-echo process); RoundTripHandoff adds the requesting
// client's hand-offs, a writer or a reader goroutine between the requester
// and the socket (ceiling -rtt-handoff), and bench/placement.sh measures
// both with a lone request of zerohop and of NATS, with the two processes
// on one vCPU, on two, or placed by the kernel.
//
// bench/perf.sh runs every measurement PERFORMANCE.md reports (ceiling,
// cmd/loadgen end to end with the ceiling measured in the same process,
// asks, scaling sweeps, these benchmarks, and optionally a real Casty v1
// cluster, and side by side with NATS core: bench/peers.sh, and
// bench/placement.sh) and keeps the raw outputs; bench/cmd/perfsum turns
// the load runs into the Markdown tables (median and every run, ratios to
// NATS and to the raw echo). The scripts share bench/lib.sh.
//
// The cross-stack benchmarks: BenchmarkTell (a client alone against a
// scripted sink node: Tell and TellContext, 1 and 8 goroutines, both
// transports), BenchmarkEndToEnd (both transports through an embedded
// 3-node cluster, every tell verified), BenchmarkAskPipelined (1, 16, 256
// asks in flight), BenchmarkRoute and BenchmarkRouteClientTable (100 to
// 10,000 shards, 3 and 30 nodes), BenchmarkSnapshotCompile, and
// BenchmarkEnvelopeEncode/Decode and BenchmarkTargetPath. bench/fastjson
// is a module of its own (its go.mod replaces zerohop with ../..): the
// comparison of castyjson's decoder with valyala/fastjson and
// encoding/json behind castyjson/doc.go, kept out of zerohop's go.mod.
//
// Invariants: Ceiling listens only on 127.0.0.1 with a kernel-chosen port;
// every frame the writer encodes is either counted by the reader or the run
// fails with an error (a short count is a broken invariant, not a result).
//
// Concurrency: Ceiling and RoundTrip are safe to call from several
// goroutines, although concurrent runs share the machine and measure each
// other; RoundTripOver and RoundTripHandoff own their connection while
// they run. Each starts its own goroutines and returns only after they
// have exited, and ServeEcho after its connections' goroutines.
package bench
