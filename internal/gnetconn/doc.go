// Package gnetconn is the gnet v2 code the client and the node share: the
// event-loop frame reader with the carry peek (Reader), the adapter of
// gnet's logger to slog (Logger), and the client transport that reads
// every connection of a client from one gnet event loop (NewClient,
// selected by importing engine/gnettransport).
//
// It is apart from internal/netconn because importing gnet starts
// goroutines (the worker pool of ants, at package initialisation) and
// links gnet, ants, zap and lumberjack: a client that does not select the
// gnet transport must pay for none of it.
//
// # Invariants
//
//   - A Reader hands every complete frame of the connection's inbound
//     buffer to its callback exactly once, in order, and discards exactly
//     the frames the callback accepted.
//   - A Reader whose last pass left bytes (Carry) peeks the frame they
//     begin alone: gnet's Peek(-1) over its ring buffer plus a new read
//     copies both into one slice; the lone frame is one frame's copy, and
//     the rest of the read is then parsed in place.
//
// # Concurrency
//
// A Reader is owned by the event loop of its connection. A
// client transport is safe for concurrent use; each link's Write is called
// by its connection's writer only.
package gnetconn
