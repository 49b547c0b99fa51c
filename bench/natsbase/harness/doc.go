// Package harness is the NATS core side of zerohop's side-by-side
// measurement (issue 12): a counting service that plays the role of
// cmd/node's counter entities, and a load that plays loadgen's, both on
// nats.go against a nats-server, measuring the shapes loadgen's two-process
// runs measure (tells flat out; a lone request-reply; many requests in
// flight) and reporting them under loadgen's -json key names.
//
// The service (Serve) subscribes to TellPrefix+">" and counts every message
// (an Increment's stand-in), answers AskPrefix+">" requests with a reply of
// ServiceConfig.ReplyBytes (a GetCount's stand-in answered with a
// CountReply's), and answers StatsSubject with its counters (Stats, JSON).
// The load (Run) publishes fire-and-forget messages of Config.TellBytes to
// TellPrefix+<entity id>, cycling over Config.Entities ids from a
// per-worker offset as loadgen does, and keeps Config.AskConcurrency
// requests of Config.AskBytes in flight against random entities.
//
// Invariants:
//   - Delivery is verified by count: tells_delivered is the growth of the
//     service's tell counter over the run, read with a StatsSubject request
//     after the publisher's Flush, and lost = tells_sent - tells_delivered -
//     tells_failed. A run is OK only when lost == 0, nothing failed and the
//     service's subscriptions dropped nothing (subscriber_dropped).
//   - The service's counter only grows; Run reads it before and after, so
//     several runs may share one service.
//   - The drain (drain_s) lasts from the end of sending until the service
//     has counted every tell sent, or until its count stopped changing for
//     Config.Settle (then the rest is lost); tells_per_sec is
//     tells_delivered / (duration_s + drain_s), as in loadgen.
//
// Concurrency: a Service is safe for concurrent use; its counters are
// atomics written by the subscriptions' delivery goroutines. Run starts
// Workers + AskConcurrency goroutines and returns after all of them have
// stopped. Neither keeps the *nats.Conn it is given: the caller owns and
// closes it (after Service.Close).
package harness
