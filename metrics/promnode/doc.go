// Package promnode exports a zerohop node's counters (node.Stats) to
// Prometheus: a prometheus.Collector that reads node.Stats at every
// scrape, so serving the metrics costs the node nothing between scrapes.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promnode.New(n, nil)) // n is a *node.Node
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// cmd/node serves them with -metrics-addr host:port. The client's
// counters are in package metrics/promclient, which does not import the
// node (a client program links no node, no gnet).
//
// # Metrics
//
// Every exported field of node.Stats is one metric, named zerohop_node_
// followed by the field's name in snake case: counters end in _total,
// gauges (current values and high-water marks) do not, durations are
// gauges in seconds (_seconds), and counts by reason carry a reason
// label. The names are stable: TestDocListsEveryMetric checks this list
// against the collector, so a field added to node.Stats is added here.
// The meaning of each is the node.Stats field's documentation.
//
//	name                                               type     node.Stats field
//	zerohop_node_connections_accepted_total            counter  ConnectionsAccepted
//	zerohop_node_connections_open                      gauge    ConnectionsOpen
//	zerohop_node_peer_dials_total                      counter  PeerDials
//	zerohop_node_peer_dial_failures_total              counter  PeerDialFailures
//	zerohop_node_frames_in_total                       counter  FramesIn
//	zerohop_node_frames_out_total                      counter  FramesOut
//	zerohop_node_bytes_in_total                        counter  BytesIn
//	zerohop_node_bytes_out_total                       counter  BytesOut
//	zerohop_node_handshakes_refused_total              counter  HandshakesRefused
//	zerohop_node_binary_connections_total              counter  BinaryConnections
//	zerohop_node_framing_errors_total                  counter  FramingErrors
//	zerohop_node_decode_failures_total                 counter  DecodeFailures
//	zerohop_node_unknown_targets_total                 counter  UnknownTargets
//	zerohop_node_unexpected_messages_total             counter  UnexpectedMessages
//	zerohop_node_forwarded_total                       counter  Forwarded
//	zerohop_node_forwarded_received_total              counter  ForwardedReceived
//	zerohop_node_redirected_total                      counter  Redirected
//	zerohop_node_hop_limited_total                     counter  HopLimited
//	zerohop_node_held_for_move_total                   counter  HeldForMove
//	zerohop_node_held_for_table_total                  counter  HeldForTable
//	zerohop_node_forwards_unsent_total                 counter  ForwardsUnsent
//	zerohop_node_peer_full_total                       counter  PeerFull
//	zerohop_node_dropped_replies_total                 counter  DroppedReplies
//	zerohop_node_dropped_peer_bytes_total              counter  DroppedPeerBytes
//	zerohop_node_dropped_client_bytes_total            counter  DroppedClientBytes
//	zerohop_node_slow_consumers_cut_total              counter  SlowConsumersCut
//	zerohop_node_mailbox_full_total                    counter  MailboxFull
//	zerohop_node_mailbox_dropped_total                 counter  MailboxDropped
//	zerohop_node_mailbox_high_water                    gauge    MailboxHighWater
//	zerohop_node_mailbox_waits_total                   counter  MailboxWaits
//	zerohop_node_messages_processed_total              counter  MessagesProcessed
//	zerohop_node_entities_started_total                counter  EntitiesStarted
//	zerohop_node_entities_stopped_total                counter  EntitiesStopped
//	zerohop_node_entities_live                         gauge    EntitiesLive
//	zerohop_node_entity_panics_total                   counter  EntityPanics
//	zerohop_node_subscribers                           gauge    Subscribers
//	zerohop_node_snapshots_pushed_total                counter  SnapshotsPushed
//	zerohop_node_snapshot_encodes_total                counter  SnapshotEncodes
//	zerohop_node_snapshots_dropped_total               counter  SnapshotsDropped
//	zerohop_node_locations_answered_total              counter  LocationsAnswered
//	zerohop_node_unavailable_answers_total             counter  UnavailableAnswers
//	zerohop_node_undeliverable_sent_total              counter  UndeliverableSent
//	zerohop_node_allocations_total                     counter  Allocations
//	zerohop_node_reallocations_total                   counter  Reallocations
//	zerohop_node_requests_expired_total                counter  RequestsExpired
//	zerohop_node_requests_rejected_total               counter  RequestsRejected
//	zerohop_node_gossip_rejected_total                 counter  GossipRejected
//	zerohop_node_cluster_refused_total                 counter  ClusterRefused
//	zerohop_node_rejoins_total                         counter  Rejoins
//	zerohop_node_renewals_total                        counter  Renewals
//	zerohop_node_renew_failures_total                  counter  RenewFailures
//	zerohop_node_lease_regained_total                  counter  LeaseRegained
//	zerohop_node_stalls_total                          counter  Stalls
//	zerohop_node_suspends_total                        counter  Suspends
//	zerohop_node_allocation_epoch                      gauge    AllocationEpoch
//	zerohop_node_leader_changes_total                  counter  LeaderChanges
//	zerohop_node_leader_terms_total                    counter  LeaderTerms
//	zerohop_node_max_tick_gap_seconds                  gauge    MaxTickGap (seconds)
//	zerohop_node_dead_letters_total                    counter  DeadLetters
//	zerohop_node_dead_letters_by_reason_total{reason}  counter  DeadLettersByReason
//	zerohop_node_max_health_score                      gauge    MaxHealthScore
//	zerohop_node_connections_refused_total             counter  ConnectionsRefused
//	zerohop_node_frame_timeouts_total                  counter  FrameTimeouts
//	zerohop_node_inbound_budget_cuts_total             counter  InboundBudgetCuts
//	zerohop_node_inbound_buffered                      gauge    InboundBuffered
//
// # Invariants
//
//   - Collect reads node.Stats once per scrape and nothing else; the
//     node's hot paths do no work for the exporter.
//   - A metric's name, type and labels follow from its node.Stats field
//     and never change for a given field.
//
// # Concurrency
//
// A Collector is safe for concurrent use (Prometheus may scrape from
// several goroutines); it holds no state between scrapes. It must not be
// copied after New.
package promnode
