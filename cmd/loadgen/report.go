package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zerohop/zerohop/ring"
)

// report is the result of one load run. With -json it is printed as one JSON
// object; the keys are a stable interface (PERFORMANCE.md and the loadgen
// test read them).
//
// Accounting: every Tell call for a new message counts once in tells_sent
// (backpressure retries of the same message are tells_retried, not sent);
// tells_failed are those that ended with an error (tells_abandoned of them
// were refused by a full buffer until after the load stopped);
// tells_delivered is the sum over all entities of (count after - count
// before), read with GetCount; lost = sent - delivered - failed.
//
// The loss is then told apart by cause, per shard, from what the client
// itself dropped after accepting it (failed_on_client, from
// engine.Config.OnDrop) and from the nodes' per-shard tallies
// (accounting.go; spec/DESIGN.md "Loss accounting"): state_lost (the
// counters' state ended: stopped by their node, or died with a crashed
// one), failed_on_node (dropped and counted by the nodes), in_flight_lost
// (in flight to a node that crashed, or written into a link to the owner
// that then failed: lost_links) and unexplained_lost. A run is OK
// only when unexplained_lost == 0 and every entity answered; without
// tallies (accounting "unavailable: ..."; a Casty cluster) every loss but
// failed_on_client is unexplained. client_queue_dropped (frames the
// client discarded from its connection queues, of unknown kind and shard)
// explains nothing by itself; hints say when it may be behind
// unexplained_lost.
type report struct {
	Cluster   string `json:"cluster"` // "embedded" or "external"
	Nodes     int    `json:"nodes"`
	Transport string `json:"transport"`
	Clients   int    `json:"clients"` // engine clients (-clients)
	// NodeTransport is the embedded nodes' transport (empty for an
	// external cluster).
	NodeTransport string `json:"node_transport,omitempty"`
	GoVersion     string `json:"go_version"`
	GOMAXPROCS    int    `json:"gomaxprocs"`

	System         string  `json:"system"`
	EntityType     string  `json:"entity_type"`
	Shards         int     `json:"shards"`
	ShardHash      string  `json:"shard_hash,omitempty"` // -shard-hash when not md5
	Entities       int     `json:"entities"`
	Workers        int     `json:"workers"`
	AskConcurrency int     `json:"ask_concurrency"`
	Rate           float64 `json:"rate"`                    // requested tells/s, 0 = open throttle
	AskRate        float64 `json:"ask_rate"`                // asks/s on a schedule (-ask-rate, or 1% of -rate), 0 = closed loop
	RateSchedule   string  `json:"rate_schedule,omitempty"` // -rate as given, when it steps (rate is then its start)
	Keys           string  `json:"keys"`                    // -keys

	DurationS float64 `json:"duration_s"` // the send phase
	DrainS    float64 `json:"drain_s"`    // from the end of sending until the client had written everything

	// CPU of this process (client, plus the nodes when embedded) over the
	// send and drain phases; cpu_cores = (user + sys) / wall time.
	CPUUserS float64 `json:"cpu_user_s"`
	CPUSysS  float64 `json:"cpu_sys_s"`
	CPUCores float64 `json:"cpu_cores"`
	// Go scheduler latency in this process over the same phases: how long
	// a goroutine made runnable (by a channel, a lock, the network poller:
	// an ask's reply on its way back, say) waited for a processor; the
	// upper bounds of runtime/metrics' buckets (/sched/latencies:seconds).
	// A flood that keeps every processor busy shows here first.
	SchedP50us  float64 `json:"sched_latency_p50_us"`
	SchedP99us  float64 `json:"sched_latency_p99_us"`
	SchedP999us float64 `json:"sched_latency_p999_us"`
	SchedEvents uint64  `json:"sched_events"`

	TellsSent      int64 `json:"tells_sent"`
	TellsDelivered int64 `json:"tells_delivered"`
	TellsFailed    int64 `json:"tells_failed"`
	TellsRetried   int64 `json:"tells_retried"`
	TellsAbandoned int64 `json:"tells_abandoned"`
	Lost           int64 `json:"lost"`
	// The loss by cause. The per-node and per-shard figures are present
	// only when the accounting used tallies.
	FailedOnClient     int64            `json:"failed_on_client"`     // accepted tells the client dropped later, never sent (OnDrop with a shard)
	ClientQueueDropped int64            `json:"client_queue_dropped"` // frames (any kind) discarded from the client's connection queues: not attributed
	StateLost          int64            `json:"state_lost"`
	StateLostByNode    map[string]int64 `json:"state_lost_by_node,omitzero"`
	StateLostByShard   []int64          `json:"state_lost_by_shard,omitzero"`
	FailedOnNode       int64            `json:"failed_on_node"`
	InFlightLost       int64            `json:"in_flight_lost"`
	UnexplainedLost    int64            `json:"unexplained_lost"`
	UnexplainedByShard []int64          `json:"unexplained_lost_by_shard,omitzero"` // signed: < 0 is more delivered than accounted for
	Accounting         string           `json:"accounting"`                         // "per-shard tallies" or "unavailable: <why>"
	TallyIncarnations  int              `json:"tally_incarnations,omitempty"`       // node incarnations seen
	GoneIncarnations   []string         `json:"gone_incarnations,omitempty"`        // node#incarnation that did not answer the end round ("(final)": left gracefully)
	LostLinks          []string         `json:"lost_links,omitempty"`               // nodes whose connection failed while open (clientDrops.LostLinks)
	TallyPolls         int64            `json:"tally_polls,omitempty"`              // GetShardTally asks answered
	TallyPollErrors    int64            `json:"tally_poll_errors,omitempty"`        // and failed
	Hints              []string         `json:"hints,omitempty"`                    // what the loss figures cannot say by themselves (e.g. client_queue_dropped with no crash)
	TellErrors         map[string]int64 `json:"tell_errors,omitempty"`              // failed tells by kind (load.go, errKindNames)
	TellsPerSec        float64          `json:"tells_per_sec"`                      // delivered / (duration_s + drain_s)
	SendTellsPerSec    float64          `json:"send_tells_per_sec"`                 // accepted by the client / duration_s
	UnverifiedEntities int              `json:"unverified_entities"`
	MismatchedEntities int              `json:"mismatched_entities"`
	VerifyRetries      int64            `json:"verify_retries"`

	TellLagP50US  float64 `json:"tell_lag_p50_us,omitempty"` // -rate only: intended send -> accepted
	TellLagP99US  float64 `json:"tell_lag_p99_us,omitempty"`
	TellLagP999US float64 `json:"tell_lag_p999_us,omitempty"`
	TellLagMaxUS  float64 `json:"tell_lag_max_us,omitempty"`

	Asks       int64   `json:"asks"`
	AskErrors  int64   `json:"ask_errors"`
	AskRetries int64   `json:"ask_retries"` // GetCount resent after a full-buffer refusal
	AsksPerSec float64 `json:"asks_per_sec"`
	AskP50US   float64 `json:"ask_p50_us"`
	AskP90US   float64 `json:"ask_p90_us"`
	AskP99US   float64 `json:"ask_p99_us"`
	AskP999US  float64 `json:"ask_p999_us"`
	AskMaxUS   float64 `json:"ask_max_us"`
	AskMeanUS  float64 `json:"ask_mean_us"`

	// From the node-stats services (absent when none answered).
	ClusterIncrements  *int64  `json:"cluster_increments,omitempty"`
	ClusterTellsPerSec float64 `json:"cluster_tells_per_sec,omitempty"` // increments / (last_at - first_at)
	StatsNodes         int     `json:"stats_nodes"`

	// The raw loopback ceiling measured in the same run (-ceiling).
	CeilingFramesPerSec float64 `json:"ceiling_frames_per_sec,omitempty"`
	CeilingMBPerSec     float64 `json:"ceiling_mb_per_sec,omitempty"`
	RatioToCeiling      float64 `json:"ratio_to_ceiling,omitempty"` // tells_per_sec / ceiling_frames_per_sec

	Client map[string]int64 `json:"client"` // the engine's Stats

	FirstTellError string `json:"first_tell_error,omitempty"`
	FirstAskError  string `json:"first_ask_error,omitempty"`
	VerifyError    string `json:"verify_error,omitempty"`
	StatsError     string `json:"stats_error,omitempty"`
	SeriesError    string `json:"series_error,omitempty"`

	// Interrupted: the load was ended early by SIGINT/SIGTERM; every figure
	// covers the part that ran, and the loss accounting is as strict as in
	// a full run.
	Interrupted bool `json:"interrupted"`
	// TellsLimit is -tells (0: none).
	TellsLimit int64 `json:"tells_limit,omitempty"`
	// Thresholds: each -max-*/-min-* set and its verdict; a broken one
	// exits 3 (not judged in an interrupted run).
	Thresholds []thresholdResult `json:"thresholds,omitempty"`
	OK         bool              `json:"ok"`

	// For -out's page: the ask latencies and the per-second points.
	askHist *hdrhistogram.Histogram
	points  []seriesPoint
}

// newReport starts the report of a run with o's settings.
func newReport(o *options) *report {
	r := &report{
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		System: o.system, EntityType: o.entityType, Shards: o.shards, Entities: o.entities,
		Workers: o.workers, AskConcurrency: o.askConcurrency, Rate: o.rate, AskRate: o.askRate, TellsLimit: o.tells,
		Keys: o.keys.text, Clients: o.clients,
	}
	if o.shardHash != ring.HashMD5 {
		r.ShardHash = o.shardHash.Name()
	}
	if o.schedule != nil && o.schedule.step != 0 {
		r.RateSchedule = o.schedule.text
	}
	return r
}

// setLoad copies what the load phase measured into the report; delivered
// is the verification's count.
func (r *report) setLoad(lr *loadResult, delivered int64) {
	r.Interrupted = lr.interrupted
	r.DurationS = lr.sendElapsed.Seconds()
	r.TellsSent, r.TellsFailed, r.TellsRetried, r.TellsAbandoned = lr.sent, lr.failed, lr.retried, lr.abandoned
	r.TellsDelivered = delivered
	r.Lost = lr.sent - delivered - lr.failed
	if el := r.DurationS + r.DrainS; el > 0 {
		r.TellsPerSec = float64(delivered) / el
	}
	if r.DurationS > 0 {
		r.SendTellsPerSec = float64(lr.sent-lr.failed) / r.DurationS
		r.AsksPerSec = float64(lr.asksOK) / r.DurationS
	}
	if lr.tellLag != nil {
		r.TellLagP50US = quantileUS(lr.tellLag, 50)
		r.TellLagP99US = quantileUS(lr.tellLag, 99)
		r.TellLagP999US = quantileUS(lr.tellLag, 99.9)
		r.TellLagMaxUS = float64(lr.tellLag.Max()) / 1e3
	}
	r.Asks, r.AskErrors, r.AskRetries = lr.asksOK, lr.askErrs, lr.askRetries
	r.askHist, r.points = lr.asks, lr.points
	r.AskP50US = quantileUS(lr.asks, 50)
	r.AskP90US = quantileUS(lr.asks, 90)
	r.AskP99US = quantileUS(lr.asks, 99)
	r.AskP999US = quantileUS(lr.asks, 99.9)
	if lr.asks.TotalCount() > 0 {
		r.AskMaxUS = float64(lr.asks.Max()) / 1e3
		r.AskMeanUS = lr.asks.Mean() / 1e3
	}
	if r.CeilingFramesPerSec > 0 {
		r.RatioToCeiling = r.TellsPerSec / r.CeilingFramesPerSec
	}
	if lr.firstErr != nil {
		r.FirstTellError = lr.firstErr.Error()
	}
	if lr.firstAskErr != nil {
		r.FirstAskError = lr.firstAskErr.Error()
	}
	for k, n := range lr.tellErrors {
		if n > 0 {
			if r.TellErrors == nil {
				r.TellErrors = map[string]int64{}
			}
			r.TellErrors[errKindNames[k]] = n
		}
	}
}

// judge sets OK and the thresholds' verdicts. Without tallies every loss
// is unexplained (unexplained_lost >= |lost|), so OK is the old rule
// (lost == 0) there.
func (r *report) judge(ts []threshold) {
	r.OK = r.UnexplainedLost == 0 && r.UnverifiedEntities == 0
	r.Thresholds = checkThresholds(r, ts)
}

// broken reports whether a threshold was broken.
func (r *report) broken() bool {
	for _, t := range r.Thresholds {
		if !t.OK {
			return true
		}
	}
	return false
}

// exitCode is the run's exit status (main.go, exitOK...).
func (r *report) exitCode() int {
	switch {
	case !r.OK:
		return exitLoss
	case r.Interrupted:
		return exitInterrupted
	case r.broken():
		return exitThreshold
	}
	return exitOK
}

// setAccounting copies a's figures into the report.
func (r *report) setAccounting(a *accounting) {
	r.StateLost, r.FailedOnNode, r.InFlightLost, r.UnexplainedLost = a.stateLost, a.failedOnNode, a.inFlightLost, a.unexplainedLost
	r.FailedOnClient, r.ClientQueueDropped = a.failedOnClient, a.queueDropped
	r.Accounting = a.method
	r.Hints = a.hints
	r.LostLinks = a.lostLinks
	if a.available() {
		r.StateLostByNode = a.stateLostByNode
		r.StateLostByShard = a.stateLostByShard
		r.UnexplainedByShard = a.unexplainedByShard
		r.TallyIncarnations = a.incarnations
		r.GoneIncarnations = a.gone
	}
}

func (r *report) writeJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}

// writeTable prints the report for a person: the headline first (verdict,
// delivered tells/s, ask latency, cluster), then the details; the engine's
// own counters only when verbose (-v).
func (r *report) writeTable(w io.Writer, verbose bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	r.headline(p)
	fmt.Fprintln(tw)
	r.details(p)
	if verbose && len(r.Client) > 0 {
		keys := make([]string, 0, len(r.Client))
		for k := range r.Client {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("client "+k, "%d", r.Client[k])
		}
	}
	return tw.Flush()
}

// printer prints one "key<TAB>value" line.
type printer func(k, format string, a ...any)

// headline prints what a person reads first.
func (r *report) headline(p printer) {
	p("result", "%s", r.verdict())
	p("tells", "%s/s delivered (%d in %.2fs sending + %.2fs draining; accepted %s/s while sending)",
		si(r.TellsPerSec), r.TellsDelivered, r.DurationS, r.DrainS, si(r.SendTellsPerSec))
	if r.Asks > 0 || r.AskErrors > 0 {
		p("asks", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%d ok, %s/s, %d errors)",
			usStr(r.AskP50US), usStr(r.AskP90US), usStr(r.AskP99US), usStr(r.AskP999US), usStr(r.AskMaxUS),
			r.Asks, si(r.AsksPerSec), r.AskErrors)
	}
	if why := r.askWhy(); why != "" {
		p("", "%s", why)
	}
	if r.Rate > 0 {
		p("tell lag", "p50 %s  p99 %s  p99.9 %s  max %s (from the intended send time, %s tells/s requested)",
			usStr(r.TellLagP50US), usStr(r.TellLagP99US), usStr(r.TellLagP999US), usStr(r.TellLagMaxUS), cmp.Or(r.RateSchedule, si(r.Rate)))
	}
	for _, t := range r.Thresholds {
		p("threshold", "%s", t)
	}
	nt := ""
	if r.NodeTransport != "" {
		nt = ", node transport " + r.NodeTransport
	}
	if b := r.Client["binary_connects"]; b > 0 {
		nt += fmt.Sprintf(", zhbin codec on %d of %d connections", b, r.Client["connects"])
		if h := r.Client["head_connects"]; h > 0 {
			nt += fmt.Sprintf(" (compact heads on %d)", h)
		}
	}
	p("cluster", "%s, %d nodes, %d client(s), client transport %s%s; %s, GOMAXPROCS %d", r.Cluster, r.Nodes, r.Clients, r.Transport, nt, r.GoVersion, r.GOMAXPROCS)
}

// askWhy explains in one line why asks are slower than alone, when they
// shared the client's connections with an unpaced tell flood.
func (r *report) askWhy() string {
	if r.Workers == 0 || r.Rate > 0 || r.Asks == 0 {
		return ""
	}
	return "(asks wait behind the tell flood in the same connection queues, so they are slower than alone: -workers 0 measures them alone, -rate paces the tells)"
}

// verdict is the result line.
func (r *report) verdict() string {
	sum := fmt.Sprintf("sent %d = delivered %d + failed %d", r.TellsSent, r.TellsDelivered, r.TellsFailed)
	v := "OK: 0 lost, " + sum
	switch {
	case !r.OK:
		v = fmt.Sprintf("FAILED: %d lost without an explanation (lost %d = sent - delivered - failed), %d entities unverified",
			r.UnexplainedLost, r.Lost, r.UnverifiedEntities)
	case r.Lost != 0:
		v = fmt.Sprintf("OK, BUT %d LOST, every one explained: failed_on_client %d + state_lost %d + failed_on_node %d + in_flight_lost %d",
			r.Lost, r.FailedOnClient, r.StateLost, r.FailedOnNode, r.InFlightLost)
	}
	for _, t := range r.Thresholds {
		if !t.OK {
			v += "; THRESHOLD BROKEN: " + t.Name
		}
	}
	if r.Interrupted {
		v = "INTERRUPTED after " + strconv.FormatFloat(r.DurationS, 'f', 2, 64) + "s of load (partial run); " + v
	}
	return v
}

// details prints the rest: settings, the accounting by cause, errors.
func (r *report) details(p printer) {
	shards := strconv.Itoa(r.Shards) + " shards"
	if r.ShardHash != "" {
		shards += " (" + r.ShardHash + ")"
	}
	p("workload", "%s/%s, %s, %d entities (-keys %s), %d workers, %d asks in flight", r.System, r.EntityType, shards, r.Entities, r.Keys, r.Workers, r.AskConcurrency)
	if r.AskRate > 0 {
		p("ask rate", "%.0f asks/s on a schedule (latency from intended send times)", r.AskRate)
	}
	p("process CPU", "%.2fs user + %.2fs sys = %.2f cores", r.CPUUserS, r.CPUSysS, r.CPUCores)
	p("tells failed", "%d (abandoned %d; refused by a full buffer and sent again: %d)%s", r.TellsFailed, r.TellsAbandoned, r.TellsRetried, keyed(r.TellErrors))
	p("lost", "%d", r.Lost)
	p("  failed on client", "%d (accepted, then dropped by the client without sending them: location unknown until expiry, shard unavailable, owner down)", r.FailedOnClient)
	if r.Accounting == accountingTallies {
		p("  state lost", "%d (counters whose state ended: stopped by their node, or died with a crashed one)%s", r.StateLost, keyed(r.StateLostByNode))
		p("  failed on node", "%d (dropped and counted by the nodes)", r.FailedOnNode)
		p("  in flight lost", "%d (in flight to a node that crashed, or on a link the client lost%s)", r.InFlightLost, lostLinks(r.LostLinks))
		p("  unexplained lost", "%d%s", r.UnexplainedLost, unexplainedShards(r.UnexplainedByShard))
		gone := ""
		if len(r.GoneIncarnations) > 0 {
			gone = ", gone: " + strings.Join(r.GoneIncarnations, ", ")
		}
		p("loss accounting", "per-shard tallies (node incarnations seen: %d%s)", r.TallyIncarnations, gone)
	} else {
		p("  unexplained lost", "%d (every loss but failed on client: no per-shard tallies)", r.UnexplainedLost)
		p("loss accounting", "%s", r.Accounting)
	}
	if r.ClientQueueDropped > 0 {
		p("client queue dropped", "%d frames (tells, asks or control messages) discarded from connection queues that failed or closed; shards unknown", r.ClientQueueDropped)
	}
	for _, h := range r.Hints {
		p("hint", "%s", h)
	}
	if r.UnverifiedEntities > 0 || r.MismatchedEntities > 0 {
		p("entities", "%d unverified, %d with a count other than sent-failed", r.UnverifiedEntities, r.MismatchedEntities)
	}
	if r.ClusterIncrements != nil {
		p("cluster side", "%d increments counted by %d nodes, %.0f/s first to last", *r.ClusterIncrements, r.StatsNodes, r.ClusterTellsPerSec)
	}
	if r.AskRetries > 0 {
		p("ask retries", "%d (asks refused by a full client buffer and sent again; the wait is in their latency)", r.AskRetries)
	}
	if r.CeilingFramesPerSec > 0 {
		p("loopback ceiling", "%.0f frames/s, %.0f MB/s; delivered tells are %.2f%% of it",
			r.CeilingFramesPerSec, r.CeilingMBPerSec, 100*r.RatioToCeiling)
	}
	for _, e := range []struct{ k, v string }{
		{"first tell error", r.FirstTellError}, {"first ask error", r.FirstAskError},
		{"verify error", r.VerifyError}, {"stats error", r.StatsError}, {"series error", r.SeriesError},
	} {
		if e.v != "" {
			p(e.k, "%s", e.v)
		}
	}
}

// keyed formats a map as " (k1 v1, k2 v2)", sorted by key; "" when empty.
func keyed(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// unexplainedShards formats the shards with an unexplained loss.
func unexplainedShards(by []int64) string {
	var parts []string
	for s, v := range by {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("shard %d: %d", s, v))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// lostLinks formats the lost links for the table: ": a, b", or "".
func lostLinks(nodes []string) string {
	if len(nodes) == 0 {
		return ""
	}
	return ": " + strings.Join(nodes, ", ")
}
