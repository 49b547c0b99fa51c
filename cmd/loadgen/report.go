package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
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
// before), read with GetCount; lost = sent - delivered - failed, and a run is
// OK only when lost == 0 and every entity answered.
type report struct {
	Cluster   string `json:"cluster"` // "embedded" or "external"
	Nodes     int    `json:"nodes"`
	Transport string `json:"transport"`
	// NodeTransport is the embedded nodes' transport (empty for an
	// external cluster).
	NodeTransport string `json:"node_transport,omitempty"`
	GoVersion     string `json:"go_version"`
	GOMAXPROCS    int    `json:"gomaxprocs"`

	System         string  `json:"system"`
	EntityType     string  `json:"entity_type"`
	Shards         int     `json:"shards"`
	Entities       int     `json:"entities"`
	Workers        int     `json:"workers"`
	AskConcurrency int     `json:"ask_concurrency"`
	Rate           float64 `json:"rate"`     // requested tells/s, 0 = open throttle
	AskRate        float64 `json:"ask_rate"` // asks/s on a schedule (-ask-rate, or 1% of -rate), 0 = closed loop

	DurationS float64 `json:"duration_s"` // the send phase
	DrainS    float64 `json:"drain_s"`    // from the end of sending until the client had written everything

	// CPU of this process (client, plus the nodes when embedded) over the
	// send and drain phases; cpu_cores = (user + sys) / wall time.
	CPUUserS float64 `json:"cpu_user_s"`
	CPUSysS  float64 `json:"cpu_sys_s"`
	CPUCores float64 `json:"cpu_cores"`

	TellsSent          int64   `json:"tells_sent"`
	TellsDelivered     int64   `json:"tells_delivered"`
	TellsFailed        int64   `json:"tells_failed"`
	TellsRetried       int64   `json:"tells_retried"`
	TellsAbandoned     int64   `json:"tells_abandoned"`
	Lost               int64   `json:"lost"`
	TellsPerSec        float64 `json:"tells_per_sec"`      // delivered / (duration_s + drain_s)
	SendTellsPerSec    float64 `json:"send_tells_per_sec"` // accepted by the client / duration_s
	UnverifiedEntities int     `json:"unverified_entities"`
	MismatchedEntities int     `json:"mismatched_entities"`
	VerifyRetries      int64   `json:"verify_retries"`

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

	OK bool `json:"ok"`
}

func (r *report) writeJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}

func (r *report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	nt := ""
	if r.NodeTransport != "" {
		nt = ", node transport " + r.NodeTransport
	}
	p("cluster", "%s, %d nodes, transport %s%s, %s, GOMAXPROCS %d", r.Cluster, r.Nodes, r.Transport, nt, r.GoVersion, r.GOMAXPROCS)
	p("workload", "%s/%s, %d shards, %d entities, %d workers, %d asks in flight", r.System, r.EntityType, r.Shards, r.Entities, r.Workers, r.AskConcurrency)
	if r.Rate > 0 {
		p("rate", "%.0f tells/s requested", r.Rate)
	}
	if r.AskRate > 0 {
		p("ask rate", "%.0f asks/s on a schedule (latency from intended send times)", r.AskRate)
	}
	p("duration", "%.2fs sending + %.3fs draining", r.DurationS, r.DrainS)
	p("process CPU", "%.2fs user + %.2fs sys = %.2f cores", r.CPUUserS, r.CPUSysS, r.CPUCores)
	p("tells sent", "%d", r.TellsSent)
	p("tells delivered", "%d", r.TellsDelivered)
	p("tells failed", "%d (abandoned %d, backpressure retries %d)", r.TellsFailed, r.TellsAbandoned, r.TellsRetried)
	p("lost", "%d", r.Lost)
	if r.UnverifiedEntities > 0 || r.MismatchedEntities > 0 {
		p("entities", "%d unverified, %d with a count other than sent-failed", r.UnverifiedEntities, r.MismatchedEntities)
	}
	p("tells/s delivered", "%.0f (accepted by the client while sending: %.0f/s)", r.TellsPerSec, r.SendTellsPerSec)
	if r.ClusterIncrements != nil {
		p("cluster side", "%d increments counted by %d nodes, %.0f/s first to last", *r.ClusterIncrements, r.StatsNodes, r.ClusterTellsPerSec)
	}
	if r.Rate > 0 {
		p("tell lag", "p50 %s  p99 %s  p99.9 %s  max %s (from the intended send time)",
			usStr(r.TellLagP50US), usStr(r.TellLagP99US), usStr(r.TellLagP999US), usStr(r.TellLagMaxUS))
	}
	p("asks", "%d ok, %d errors, %.0f/s (backpressure retries %d)", r.Asks, r.AskErrors, r.AsksPerSec, r.AskRetries)
	p("ask latency", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s",
		usStr(r.AskP50US), usStr(r.AskP90US), usStr(r.AskP99US), usStr(r.AskP999US), usStr(r.AskMaxUS))
	if r.CeilingFramesPerSec > 0 {
		p("loopback ceiling", "%.0f frames/s, %.0f MB/s; delivered tells are %.2f%% of it",
			r.CeilingFramesPerSec, r.CeilingMBPerSec, 100*r.RatioToCeiling)
	}
	if len(r.Client) > 0 {
		keys := make([]string, 0, len(r.Client))
		for k := range r.Client {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("client "+k, "%d", r.Client[k])
		}
	}
	for _, e := range []struct{ k, v string }{
		{"first tell error", r.FirstTellError}, {"first ask error", r.FirstAskError},
		{"verify error", r.VerifyError}, {"stats error", r.StatsError},
	} {
		if e.v != "" {
			p(e.k, "%s", e.v)
		}
	}
	verdict := "OK: sent = delivered + failed"
	if !r.OK {
		verdict = "FAILED: sent != delivered + failed (or entities unverified)"
	}
	p("result", "%s", verdict)
	return tw.Flush()
}
