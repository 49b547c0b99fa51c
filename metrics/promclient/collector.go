package promclient

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zerohop/zerohop/engine"
)

// Source is what the collector reads at scrape time: *engine.Client.
type Source interface {
	Stats() engine.Stats
	Nodes() []engine.NodeStatus
	AskLatency() engine.LatencyHistogram
}

const ns = "zerohop_client_"

// scalar is one engine.Stats field exported as one metric.
type scalar struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*engine.Stats) float64
}

// perNode is one engine.NodeStatus field exported with a node label.
type perNode struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*engine.NodeStatus) float64
}

// Collector is a prometheus.Collector of one engine client's counters
// (the package documentation lists the metrics). It reads the client's
// Stats, Nodes and AskLatency at every scrape and keeps nothing between
// scrapes. Safe for concurrent use; create it with New.
type Collector struct {
	src       Source
	scalars   []scalar
	nodes     []perNode
	nodeState *prometheus.Desc
	nodeDrops *prometheus.Desc
	drops     *prometheus.Desc
	askLat    *prometheus.Desc
}

// New returns a collector of src's counters (an *engine.Client). Every
// metric carries constLabels (nil for none): what tells the clients of
// one process apart when several are registered together, e.g.
// prometheus.Labels{"client": "orders"}.
func New(src Source, constLabels prometheus.Labels) *Collector {
	c := &Collector{src: src}
	counter := func(name, help string, f func(*engine.Stats) uint64) {
		c.scalars = append(c.scalars, scalar{
			desc:  prometheus.NewDesc(ns+name, help, nil, constLabels),
			kind:  prometheus.CounterValue,
			value: func(s *engine.Stats) float64 { return float64(f(s)) },
		})
	}
	gauge := func(name, help string, f func(*engine.Stats) float64) {
		c.scalars = append(c.scalars, scalar{
			desc: prometheus.NewDesc(ns+name, help, nil, constLabels), kind: prometheus.GaugeValue, value: f,
		})
	}
	counter("tells_queued_total", "Messages accepted for sending, queued or buffered.", func(s *engine.Stats) uint64 { return s.TellsQueued })
	counter("frames_written_total", "Frames written to node connections.", func(s *engine.Stats) uint64 { return s.FramesWritten })
	counter("bytes_written_total", "Bytes written to node connections.", func(s *engine.Stats) uint64 { return s.BytesWritten })
	counter("writes_total", "Write calls to node connections.", func(s *engine.Stats) uint64 { return s.Writes })
	gauge("buffered", "Messages held now, waiting for a shard location.", func(s *engine.Stats) float64 { return float64(s.Buffered) })
	gauge("queued", "Frames in connection queues now.", func(s *engine.Stats) float64 { return float64(s.Queued) })
	counter("asks_ok_total", "Asks answered.", func(s *engine.Stats) uint64 { return s.AsksOK })
	counter("asks_timed_out_total", "Asks that timed out.", func(s *engine.Stats) uint64 { return s.AsksTimedOut })
	counter("asks_failed_total", "Asks failed with an error other than a timeout.", func(s *engine.Stats) uint64 { return s.AsksFailed })
	counter("late_replies_total", "Replies to asks already finished.", func(s *engine.Stats) uint64 { return s.LateReplies })
	counter("undeliverable_total", "Asks failed by an Undeliverable reply.", func(s *engine.Stats) uint64 { return s.Undeliverable })
	counter("connects_total", "Connection openings, reconnects included.", func(s *engine.Stats) uint64 { return s.Connects })
	counter("reconnects_total", "Reconnections.", func(s *engine.Stats) uint64 { return s.Reconnects })
	counter("binary_connects_total", "Connection openings whose handshake negotiated the zhbin codec.", func(s *engine.Stats) uint64 { return s.BinaryConnects })
	counter("head_connects_total", "Connection openings in zhbin whose node announced compact frame heads.", func(s *engine.Stats) uint64 { return s.HeadConnects })
	counter("connect_failures_total", "Failed connection attempts.", func(s *engine.Stats) uint64 { return s.ConnectFailures })
	counter("suspects_total", "Connections marked suspect (nothing received for SuspectAfter).", func(s *engine.Stats) uint64 { return s.Suspects })
	counter("suspects_cleared_total", "Suspect connections that received again.", func(s *engine.Stats) uint64 { return s.SuspectsCleared })
	counter("snapshots_received_total", "Topology snapshots received.", func(s *engine.Stats) uint64 { return s.SnapshotsReceived })
	counter("snapshots_applied_total", "Topology snapshots applied.", func(s *engine.Stats) uint64 { return s.SnapshotsApplied })
	counter("snapshots_unchanged_total", "Snapshots applied but equal to the current one.", func(s *engine.Stats) uint64 { return s.SnapshotsUnchanged })
	counter("snapshots_fenced_total", "Snapshots ignored: epoch below the highest seen.", func(s *engine.Stats) uint64 { return s.SnapshotsFenced })
	counter("epoch_resets_total", "Highest epochs abandoned after a long fence.", func(s *engine.Stats) uint64 { return s.EpochResets })
	counter("resubscribes_total", "Topology subscriptions moved to another contact.", func(s *engine.Stats) uint64 { return s.Resubscribes })
	counter("location_queries_total", "GetShardLocation queries sent.", func(s *engine.Stats) uint64 { return s.LocationQueries })
	counter("location_timeouts_total", "Location queries that timed out.", func(s *engine.Stats) uint64 { return s.LocationTimeouts })
	counter("locations_applied_total", "Shard locations applied.", func(s *engine.Stats) uint64 { return s.LocationsApplied })
	counter("locations_fenced_total", "Shard locations ignored: epoch below the highest seen.", func(s *engine.Stats) uint64 { return s.LocationsFenced })
	counter("unavailable_answers_total", "ShardUnavailable answers to location queries.", func(s *engine.Stats) uint64 { return s.UnavailableAnswers })
	counter("watch_coalesced_total", "Listings replaced in a slow watcher's buffer.", func(s *engine.Stats) uint64 { return s.WatchCoalesced })
	counter("decode_errors_total", "Inbound payloads that did not decode.", func(s *engine.Stats) uint64 { return s.DecodeErrors })
	counter("unknown_targets_total", "Inbound messages to a path the client does not serve.", func(s *engine.Stats) uint64 { return s.UnknownTargets })
	counter("conn_events_dropped_total", "Connection state events not told to a slow OnConnState.", func(s *engine.Stats) uint64 { return s.ConnEventsDropped })
	gauge("epoch", "Highest allocation epoch applied; -1 before the first snapshot.", func(s *engine.Stats) float64 { return float64(s.Epoch) })

	node := []string{"node"}
	nodeCounter := func(name, help string, f func(*engine.NodeStatus) uint64) {
		c.nodes = append(c.nodes, perNode{
			desc:  prometheus.NewDesc(ns+"node_"+name, help, node, constLabels),
			kind:  prometheus.CounterValue,
			value: func(s *engine.NodeStatus) float64 { return float64(f(s)) },
		})
	}
	nodeGauge := func(name, help string, f func(*engine.NodeStatus) int) {
		c.nodes = append(c.nodes, perNode{
			desc:  prometheus.NewDesc(ns+"node_"+name, help, node, constLabels),
			kind:  prometheus.GaugeValue,
			value: func(s *engine.NodeStatus) float64 { return float64(f(s)) },
		})
	}
	nodeCounter("frames_written_total", "Frames written to the node.", func(s *engine.NodeStatus) uint64 { return s.FramesWritten })
	nodeCounter("bytes_written_total", "Bytes written to the node.", func(s *engine.NodeStatus) uint64 { return s.BytesWritten })
	nodeCounter("writes_total", "Write calls to the node.", func(s *engine.NodeStatus) uint64 { return s.Writes })
	nodeCounter("frames_read_total", "Frames received from the node.", func(s *engine.NodeStatus) uint64 { return s.FramesRead })
	nodeCounter("bytes_read_total", "Bytes of the frames received from the node, headers included.", func(s *engine.NodeStatus) uint64 { return s.BytesRead })
	nodeGauge("queue_depth", "Frames in the node's outbound queue now.", func(s *engine.NodeStatus) int { return s.Queued })
	nodeGauge("queue_capacity", "The bound of the node's outbound queue.", func(s *engine.NodeStatus) int { return s.QueueCapacity })
	nodeCounter("connects_total", "Connection openings to the node, reconnects included.", func(s *engine.NodeStatus) uint64 { return s.Connects })
	nodeCounter("reconnects_total", "Reconnections to the node.", func(s *engine.NodeStatus) uint64 { return s.Reconnects })
	nodeCounter("connect_failures_total", "Failed connection attempts to the node.", func(s *engine.NodeStatus) uint64 { return s.ConnectFailures })
	nodeCounter("suspects_total", "Times the node's connection was marked suspect.", func(s *engine.NodeStatus) uint64 { return s.Suspects })
	c.nodeState = prometheus.NewDesc(ns+"node_state", "1 for the connection's current state (connecting, connected, suspect, reconnecting, down, closed), 0 for the others.", []string{"node", "state"}, constLabels)
	c.nodeDrops = prometheus.NewDesc(ns+"node_drops_total", "Messages or frames refused or dropped at the node's connection, by reason.", []string{"node", "reason"}, constLabels)
	c.drops = prometheus.NewDesc(ns+"drops_total", "Messages or frames refused or dropped, by reason.", []string{"reason"}, constLabels)
	c.askLat = prometheus.NewDesc(ns+"ask_duration_seconds", "Round trips of the asks that got a reply.", nil, constLabels)
	return c
}

// Describe sends the descriptors of every metric (prometheus.Collector).
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range c.scalars {
		ch <- s.desc
	}
	for _, n := range c.nodes {
		ch <- n.desc
	}
	ch <- c.nodeState
	ch <- c.nodeDrops
	ch <- c.drops
	ch <- c.askLat
}

// Collect reads the client's counters and sends them (prometheus.Collector).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	for _, s := range c.scalars {
		ch <- prometheus.MustNewConstMetric(s.desc, s.kind, s.value(&st))
	}
	for _, r := range engine.DropReasons() {
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(st.Drops[r]), r.String())
	}
	states := engine.NodeStates()
	for _, st := range c.src.Nodes() {
		addr := st.Node.Host + ":" + strconv.Itoa(st.Node.Port)
		for _, n := range c.nodes {
			ch <- prometheus.MustNewConstMetric(n.desc, n.kind, n.value(&st), addr)
		}
		for _, s := range states {
			v := 0.0
			if st.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.nodeState, prometheus.GaugeValue, v, addr, s.String())
		}
		for _, r := range engine.DropReasons() {
			ch <- prometheus.MustNewConstMetric(c.nodeDrops, prometheus.CounterValue, float64(st.Drops[r]), addr, r.String())
		}
	}
	h := c.src.AskLatency()
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b.Seconds()] = cum
	}
	ch <- prometheus.MustNewConstHistogram(c.askLat, h.Count, h.Sum.Seconds(), buckets)
}
