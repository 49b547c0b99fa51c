// Package leakimport holds one test, in a test binary of its own: a
// program that imports package engine (and nothing that starts goroutines
// at initialisation) has no goroutine but its own after the import. The
// package has no code: its test binary links engine and goleak only.
//
// Invariants: importing engine starts no goroutine. Concurrency: none.
package leakimport
