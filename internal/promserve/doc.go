// Package promserve serves a Prometheus registry at /metrics over HTTP:
// what cmd/node and cmd/loadgen do with -metrics-addr.
//
// Invariants: one serving goroutine per Server, stopped and waited for by
// Close. Nothing is served but /metrics.
//
// Concurrency: a Server is safe for concurrent use; Close is idempotent.
package promserve
