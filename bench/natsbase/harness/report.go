package harness

import (
	"runtime"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// Report is one run's result, a plain value. Keys shared with loadgen's -json report mean
// the same thing there (cmd/loadgen/report.go); the nats_* and subscriber_*
// keys are this harness's own.
type Report struct {
	Cluster       string `json:"cluster"` // "external": the server is another process (or, in tests, goroutine)
	Nodes         int    `json:"nodes"`
	Transport     string `json:"transport"`
	System        string `json:"system"` // "nats-core"
	ServerVersion string `json:"nats_server_version"`
	ClientVersion string `json:"nats_client_version"`
	GoVersion     string `json:"go_version"`
	GOMAXPROCS    int    `json:"gomaxprocs"`

	Entities       int `json:"entities"`
	Workers        int `json:"workers"`
	AskConcurrency int `json:"ask_concurrency"`
	TellBytes      int `json:"tell_bytes"`
	AskBytes       int `json:"ask_bytes"`

	DurationS float64 `json:"duration_s"` // the send phase
	DrainS    float64 `json:"drain_s"`    // end of sending until the service had counted every tell (or Settle passed)

	CPUUserS     float64 `json:"cpu_user_s"` // this (the load's) process
	CPUSysS      float64 `json:"cpu_sys_s"`
	CPUCores     float64 `json:"cpu_cores"`
	NodeCPUCores float64 `json:"node_cpu_cores"` // the service's process (the NATS server's, when embedded there), same interval

	TellsSent         int64   `json:"tells_sent"`
	TellsDelivered    int64   `json:"tells_delivered"`
	TellsFailed       int64   `json:"tells_failed"`
	Lost              int64   `json:"lost"`
	SubscriberDropped int64   `json:"subscriber_dropped"`
	TellsPerSec       float64 `json:"tells_per_sec"`      // delivered / (duration_s + drain_s)
	SendTellsPerSec   float64 `json:"send_tells_per_sec"` // published / duration_s

	Asks       int64   `json:"asks"`
	AskErrors  int64   `json:"ask_errors"`
	AsksPerSec float64 `json:"asks_per_sec"`
	AskP50US   float64 `json:"ask_p50_us"`
	AskP90US   float64 `json:"ask_p90_us"`
	AskP99US   float64 `json:"ask_p99_us"`
	AskP999US  float64 `json:"ask_p999_us"`
	AskMaxUS   float64 `json:"ask_max_us"`
	AskMeanUS  float64 `json:"ask_mean_us"`

	FirstTellError string `json:"first_tell_error,omitempty"`
	FirstAskError  string `json:"first_ask_error,omitempty"`
	StatsError     string `json:"stats_error,omitempty"`

	OK bool `json:"ok"` // lost == 0, nothing failed, nothing dropped, stats answered
}

func newReport(nc *nats.Conn, cfg Config) Report {
	return Report{
		Cluster: "external", Nodes: 1, Transport: "nats.go", System: "nats-core",
		ServerVersion: nc.ConnectedServerVersion(), ClientVersion: nats.Version,
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Entities: cfg.Entities, Workers: cfg.Workers, AskConcurrency: cfg.AskConcurrency,
		TellBytes: cfg.TellBytes, AskBytes: cfg.AskBytes,
	}
}

// setLatencies fills the ask figures from every ask's latency (sorted in
// place): exact order statistics, nearest rank.
func (r *Report) setLatencies(lat []time.Duration, wall time.Duration) {
	r.Asks = int64(len(lat))
	if wall > 0 {
		r.AsksPerSec = float64(len(lat)) / wall.Seconds()
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.5) - 1
		i = max(0, min(i, len(lat)-1))
		return us(lat[i])
	}
	r.AskP50US, r.AskP90US, r.AskP99US, r.AskP999US = q(0.50), q(0.90), q(0.99), q(0.999)
	r.AskMaxUS = us(lat[len(lat)-1])
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	r.AskMeanUS = us(sum / time.Duration(len(lat)))
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
