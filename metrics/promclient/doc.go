// Package promclient exports a zerohop client's counters (engine.Client:
// Stats, Nodes, AskLatency) to Prometheus: a prometheus.Collector that
// reads them at every scrape, so the exporter adds nothing to the
// client's hot paths (Tell stays 0 allocs/op; see the Observability
// section of package engine).
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promclient.New(client, nil)) // client is an *engine.Client
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// cmd/loadgen serves them with -metrics-addr host:port. The engine does
// not import this package (nor prometheus): a program that does not
// export metrics links neither. The node's counters are in package
// metrics/promnode.
//
// OpenTelemetry: there is no separate bridge package. The OpenTelemetry
// metric API has no asynchronous histogram, so a collector reading the
// client at collection time could not export the ask latency buckets; a
// program that exports with OpenTelemetry registers this collector in a
// prometheus.Registry and hands it to the OpenTelemetry Prometheus bridge
// (go.opentelemetry.io/contrib/bridges/prometheus, NewMetricProducer with
// WithGatherer(reg)), which converts every metric here.
//
// # Metrics
//
// Stable names; "node" is the node's logical address host:port, "reason"
// a engine.DropReason name (queue_full, shard_buffer_full,
// total_buffer_full, expired, owner_unavailable, shard_unavailable,
// conn_lost, closed, encode), "state" a engine.NodeState name
// (connecting, connected, suspect, reconnecting, down, closed).
// TestDocListsEveryMetric checks this list against the collector.
//
//	name                                              type       from
//	zerohop_client_node_state{node,state}             gauge      NodeStatus.State: 1 for the current state, 0 for the others
//	zerohop_client_node_frames_written_total{node}    counter    NodeStatus.FramesWritten
//	zerohop_client_node_bytes_written_total{node}     counter    NodeStatus.BytesWritten
//	zerohop_client_node_writes_total{node}            counter    NodeStatus.Writes
//	zerohop_client_node_frames_read_total{node}       counter    NodeStatus.FramesRead
//	zerohop_client_node_bytes_read_total{node}        counter    NodeStatus.BytesRead
//	zerohop_client_node_queue_depth{node}             gauge      NodeStatus.Queued
//	zerohop_client_node_queue_capacity{node}          gauge      NodeStatus.QueueCapacity
//	zerohop_client_node_connects_total{node}          counter    NodeStatus.Connects
//	zerohop_client_node_reconnects_total{node}        counter    NodeStatus.Reconnects
//	zerohop_client_node_connect_failures_total{node}  counter    NodeStatus.ConnectFailures
//	zerohop_client_node_suspects_total{node}          counter    NodeStatus.Suspects
//	zerohop_client_node_drops_total{node,reason}      counter    NodeStatus.Drops
//	zerohop_client_drops_total{reason}                counter    Stats.Drops
//	zerohop_client_ask_duration_seconds               histogram  AskLatency: buckets 10us * 2^i, i = 0..22
//	zerohop_client_tells_queued_total                 counter    Stats.TellsQueued
//	zerohop_client_frames_written_total               counter    Stats.FramesWritten
//	zerohop_client_bytes_written_total                counter    Stats.BytesWritten
//	zerohop_client_writes_total                       counter    Stats.Writes
//	zerohop_client_buffered                           gauge      Stats.Buffered
//	zerohop_client_queued                             gauge      Stats.Queued
//	zerohop_client_asks_ok_total                      counter    Stats.AsksOK
//	zerohop_client_asks_timed_out_total               counter    Stats.AsksTimedOut
//	zerohop_client_asks_failed_total                  counter    Stats.AsksFailed
//	zerohop_client_late_replies_total                 counter    Stats.LateReplies
//	zerohop_client_undeliverable_total                counter    Stats.Undeliverable
//	zerohop_client_connects_total                     counter    Stats.Connects
//	zerohop_client_reconnects_total                   counter    Stats.Reconnects
//	zerohop_client_binary_connects_total              counter    Stats.BinaryConnects
//	zerohop_client_head_connects_total                counter    Stats.HeadConnects
//	zerohop_client_connect_failures_total             counter    Stats.ConnectFailures
//	zerohop_client_suspects_total                     counter    Stats.Suspects
//	zerohop_client_suspects_cleared_total             counter    Stats.SuspectsCleared
//	zerohop_client_snapshots_received_total           counter    Stats.SnapshotsReceived
//	zerohop_client_snapshots_applied_total            counter    Stats.SnapshotsApplied
//	zerohop_client_snapshots_unchanged_total          counter    Stats.SnapshotsUnchanged
//	zerohop_client_snapshots_fenced_total             counter    Stats.SnapshotsFenced
//	zerohop_client_epoch_resets_total                 counter    Stats.EpochResets
//	zerohop_client_resubscribes_total                 counter    Stats.Resubscribes
//	zerohop_client_location_queries_total             counter    Stats.LocationQueries
//	zerohop_client_location_timeouts_total            counter    Stats.LocationTimeouts
//	zerohop_client_locations_applied_total            counter    Stats.LocationsApplied
//	zerohop_client_locations_fenced_total             counter    Stats.LocationsFenced
//	zerohop_client_unavailable_answers_total          counter    Stats.UnavailableAnswers
//	zerohop_client_watch_coalesced_total              counter    Stats.WatchCoalesced
//	zerohop_client_decode_errors_total                counter    Stats.DecodeErrors
//	zerohop_client_unknown_targets_total              counter    Stats.UnknownTargets
//	zerohop_client_conn_events_dropped_total          counter    Stats.ConnEventsDropped
//	zerohop_client_epoch                              gauge      Stats.Epoch
//
// The per-node series exist for the connections the client has now
// (Client.Nodes): a connection dropped because its node left the cluster
// stops being exported.
//
// # Invariants
//
//   - Collect reads Stats, Nodes and AskLatency once per scrape and
//     nothing else; the client does no work for the exporter between
//     scrapes.
//   - A metric's name, type and labels never change once listed here.
//
// # Concurrency
//
// A Collector is safe for concurrent use (Prometheus may scrape from
// several goroutines); it holds no state between scrapes. It must not be
// copied after New.
package promclient
