// Package scrape fetches and parses a /metrics page (Prometheus text
// format) for tests: the samples by name and labels.
//
// Invariants: Get never waits more than 10 s. Parse refuses a sample line
// without a numeric value.
//
// Concurrency: functions are safe for concurrent use; a Metrics value is a
// plain map, not safe for concurrent writes.
package scrape
