package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadSpec is one loadgen run against the cluster.
type LoadSpec struct {
	Contacts []string
	Duration time.Duration
	Rate     float64 // tells/s; 0 = flat out
	Workers  int     // 0 = loadgen's default
	Netns    string
	Binary   bool // -binary: offer zhbin to the nodes
}

// seriesPoll is how often the harness reads new lines of loadgen's -series
// file; when it first saw each line places the series on the monotonic
// timeline (EstimateStart).
const seriesPoll = 20 * time.Millisecond

// LoadRun is a running loadgen and the reader of its -series file (a
// goroutine owned by the LoadRun that ends when loadgen has exited and the
// file was read to its end; Wait and Kill wait for it).
type LoadRun struct {
	proc       *Proc
	seriesPath string
	tailDone   chan struct{}

	mu    sync.Mutex
	lines []SeriesLine // guarded by mu; appended by tail
	seen  []int64      // CLOCK_MONOTONIC when lines[i] was first read; guarded by mu
	bad   int          // lines that did not parse; guarded by mu
}

// LoadReport is loadgen's -json report: the fields the checks read, typed,
// and every field raw (Raw) for the figures. Present tells which keys the
// report had, so that a missing one is reported as such, never read as 0.
type LoadReport struct {
	Raw      map[string]json.RawMessage
	ExitCode int
	Err      string // why there is no report (loadgen crashed, printed no JSON)

	OK                 bool             `json:"ok"`
	TellsSent          int64            `json:"tells_sent"`
	TellsDelivered     int64            `json:"tells_delivered"`
	TellsFailed        int64            `json:"tells_failed"`
	TellsPerSec        float64          `json:"tells_per_sec"`
	Lost               int64            `json:"lost"`
	StateLost          int64            `json:"state_lost"`
	StateLostByNode    map[string]int64 `json:"state_lost_by_node"`
	StateLostByShard   []int64          `json:"state_lost_by_shard"`
	FailedOnNode       int64            `json:"failed_on_node"`
	FailedOnClient     int64            `json:"failed_on_client"`
	InFlightLost       int64            `json:"in_flight_lost"`
	UnexplainedLost    int64            `json:"unexplained_lost"`
	UnexplainedByShard []int64          `json:"unexplained_lost_by_shard"`
	Accounting         string           `json:"accounting"`
	GoneIncarnations   []string         `json:"gone_incarnations"`
	LostLinks          []string         `json:"lost_links"` // nodes whose client link failed while open
	TallyPolls         int64            `json:"tally_polls"`
	TallyPollErrors    int64            `json:"tally_poll_errors"`
	TellErrors         map[string]int64 `json:"tell_errors"`
	UnverifiedEntities int64            `json:"unverified_entities"`
	MismatchedEntities int64            `json:"mismatched_entities"`
	FirstTellError     string           `json:"first_tell_error"`
	FirstAskError      string           `json:"first_ask_error"`
	VerifyError        string           `json:"verify_error"`
	SeriesError        string           `json:"series_error"`
	// Client is the client engine's counters (engine.Stats: connects,
	// binary_connects, head_connects, ...); nil when the report has none.
	Client map[string]int64 `json:"client"`
}

// accountingTallies is loadgen's "accounting" value when the loss was
// told apart by cause from the nodes' tallies; anything else means every
// loss counts as unexplained.
const accountingTallies = "per-shard tallies"

// accountingKeys are the loss accounting fields of DESIGN.md, in report
// order; a report without one of them is not usable.
var accountingKeys = []string{"lost", "state_lost", "failed_on_node", "in_flight_lost", "unexplained_lost", "accounting"}

// StartLoad starts loadgen against the cluster with -json and -series.
func (h *Harness) StartLoad(spec LoadSpec, name string) (*LoadRun, error) {
	lr := &LoadRun{seriesPath: filepath.Join(h.logDir, name+".series"), tailDone: make(chan struct{})}
	args := []string{
		"-contact=" + strings.Join(spec.Contacts, ","),
		"-json",
		"-duration=" + spec.Duration.String(),
		"-progress",
		"-log-level=warn",
		"-drain-timeout=30s",
		"-ask-timeout=2s",
		"-series=" + lr.seriesPath,
	}
	if spec.Rate > 0 {
		args = append(args, "-rate="+strconv.FormatFloat(spec.Rate, 'f', -1, 64))
	}
	if spec.Workers > 0 {
		args = append(args, "-workers="+strconv.Itoa(spec.Workers))
	}
	if spec.Binary {
		args = append(args, "-binary")
	}
	_ = os.Remove(lr.seriesPath) // a line of an earlier run must not be read as this one's
	p, err := StartProc(ProcSpec{
		Name: name, Bin: h.cfg.LoadgenBin, Args: args, Netns: spec.Netns,
		Log: filepath.Join(h.logDir, name+".log"), KeepStdout: 4 << 20,
	})
	if err != nil {
		return nil, err
	}
	h.track(p)
	lr.proc = p
	go lr.tail()
	return lr, nil
}

// tail reads the -series file as loadgen writes it, noting when each line
// was first seen, until loadgen has exited and the file is read to its end.
func (lr *LoadRun) tail() {
	defer close(lr.tailDone)
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var partial []byte
	buf := make([]byte, 64<<10)
	t := time.NewTicker(seriesPoll)
	defer t.Stop()
	for {
		exited := lr.proc.Exited()
		if f == nil {
			f, _ = os.Open(lr.seriesPath) // loadgen creates it at start
		}
		for f != nil {
			n, err := f.Read(buf)
			if n > 0 {
				partial = lr.addLines(append(partial, buf[:n]...), monoNow())
			}
			if err != nil || n == 0 {
				break
			}
		}
		if exited {
			return
		}
		select {
		case <-t.C:
		case <-lr.proc.Done():
		}
	}
}

// addLines parses the complete lines of b, records them as seen at now and
// returns the unfinished rest.
func (lr *LoadRun) addLines(b []byte, now int64) []byte {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return b
		}
		line := bytes.TrimSpace(b[:i])
		b = b[i+1:]
		if len(line) == 0 {
			continue
		}
		l, err := ParseSeriesLine(line)
		if err != nil {
			lr.bad++
			continue
		}
		lr.lines = append(lr.lines, l)
		lr.seen = append(lr.seen, now)
	}
}

// Wait waits for loadgen to exit and reads its report.
func (lr *LoadRun) Wait(ctx context.Context) *LoadReport {
	code, err := lr.proc.WaitExit(ctx)
	if err != nil {
		lr.proc.Kill()
		<-lr.tailDone
		return &LoadReport{ExitCode: -1, Err: err.Error()}
	}
	<-lr.tailDone
	return parseLoadReport(lr.proc.Stdout(), code, lr.proc.Log)
}

// Kill stops loadgen at once (if it still runs) and waits for the series
// reader.
func (lr *LoadRun) Kill() {
	lr.proc.Kill()
	<-lr.tailDone
}

// Running reports whether loadgen still runs.
func (lr *LoadRun) Running() bool { return !lr.proc.Exited() }

// SeriesData is loadgen's -series as read so far: the lines, the series
// on the monotonic timeline, and the estimated start of the load phase.
type SeriesData struct {
	Lines  []SeriesLine
	Series Series
	Start  int64 // CLOCK_MONOTONIC of loadgen's load start (EstimateStart)
	Bad    int   // lines that did not parse
}

// Series returns the -series lines read so far placed on the monotonic
// timeline; ok is false (with the reason) when there are none.
func (lr *LoadRun) Series() (SeriesData, string, bool) {
	lr.mu.Lock()
	d := SeriesData{Lines: slices.Clone(lr.lines), Bad: lr.bad}
	seen := slices.Clone(lr.seen)
	lr.mu.Unlock()
	start, ok := EstimateStart(d.Lines, seen)
	if !ok {
		return d, fmt.Sprintf("no line in %s (%d unparsable)", lr.seriesPath, d.Bad), false
	}
	d.Start = start
	d.Series = SeriesFromLines(d.Lines, start)
	return d, "", true
}

func parseLoadReport(stdout []byte, code int, log string) *LoadReport {
	r := &LoadReport{ExitCode: code}
	// The report is the last JSON object on stdout.
	i := bytes.LastIndex(stdout, []byte("\n{"))
	if i < 0 {
		i = bytes.IndexByte(stdout, '{')
	} else {
		i++
	}
	if i < 0 {
		r.Err = fmt.Sprintf("loadgen printed no JSON report (exit %d); log %s: %s", code, log, tail(log, 400))
		return r
	}
	obj := stdout[i:]
	if err := json.NewDecoder(bytes.NewReader(obj)).Decode(&r.Raw); err != nil {
		r.Err = fmt.Sprintf("loadgen's report: %v (exit %d)", err, code)
		return r
	}
	if err := json.NewDecoder(bytes.NewReader(obj)).Decode(r); err != nil {
		r.Err = fmt.Sprintf("loadgen's report: %v (exit %d)", err, code)
		return r
	}
	var missing []string
	for _, k := range accountingKeys {
		if _, ok := r.Raw[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		r.Err = fmt.Sprintf("loadgen's report lacks %s (exit %d)", strings.Join(missing, ", "), code)
	}
	return r
}

// figures adds loadgen's key numbers to res.
func (r *LoadReport) figures(res *Result) {
	if r.Err != "" {
		res.Fig("loadgen", "no usable report: %s", r.Err)
		return
	}
	res.Fig("loadgen", "exit %d, ok=%v, sent %d, delivered %d, failed %d%s, %.0f tells/s delivered",
		r.ExitCode, r.OK, r.TellsSent, r.TellsDelivered, r.TellsFailed, keyed(r.TellErrors), r.TellsPerSec)
	res.Fig("loss accounting", "lost %d = failed_on_client %d + state_lost %d%s + failed_on_node %d + in_flight_lost %d + unexplained_lost %d (%s; gone incarnations %v; lost links %v; tally polls %d, %d failed)",
		r.Lost, r.FailedOnClient, r.StateLost, keyed(r.StateLostByNode), r.FailedOnNode, r.InFlightLost, r.UnexplainedLost,
		r.Accounting, r.GoneIncarnations, r.LostLinks, r.TallyPolls, r.TallyPollErrors)
	if r.UnexplainedLost != 0 {
		res.Fig("unexplained by shard", "%s", nonZero(r.UnexplainedByShard))
	}
	if r.StateLost != 0 {
		res.Fig("state lost by shard", "%s", nonZero(r.StateLostByShard))
	}
	if r.UnverifiedEntities > 0 {
		res.Fig("unverified entities", "%d", r.UnverifiedEntities)
	}
	if r.FirstTellError != "" {
		res.Fig("first tell error", "%s", r.FirstTellError)
	}
	if r.VerifyError != "" {
		res.Fig("verify error", "%s", r.VerifyError)
	}
	if r.SeriesError != "" {
		res.Fig("series error", "%s", r.SeriesError)
	}
}

// checkLoss records the unexplained_lost check (0 required, from tallies),
// and in_flight_lost = 0 when inFlightToo.
func (r *LoadReport) checkLoss(res *Result, inFlightToo bool) {
	if r.Err != "" {
		res.Check("unexplained_lost=0", Violation, "no usable loadgen report: %s", r.Err)
		return
	}
	if r.Accounting != accountingTallies {
		res.Check("unexplained_lost=0", Violation, "loss not told apart by cause (accounting %q): unexplained_lost %d of lost %d", r.Accounting, r.UnexplainedLost, r.Lost)
	} else {
		res.Expect("unexplained_lost=0", r.UnexplainedLost == 0, "unexplained_lost %d (by shard: %s)", r.UnexplainedLost, nonZero(r.UnexplainedByShard))
	}
	if inFlightToo {
		res.Expect("in_flight_lost=0", r.InFlightLost == 0, "in_flight_lost %d", r.InFlightLost)
	}
}

// checkOthersLossless records that nothing was lost on the shards of the
// nodes the fault did not hit (faulted: the shards the victim owned): no
// state lost there (the survivors' entities kept theirs), and no loss
// unexplained anywhere. Tells that failed are typed failures the client
// saw, not losses.
func (r *LoadReport) checkOthersLossless(res *Result, victim string, faulted []int) {
	if r.Err != "" {
		res.Check("no-loss-on-other-nodes", Violation, "no usable loadgen report: %s", r.Err)
		return
	}
	var other int64
	var shards []string
	for s, v := range r.StateLostByShard {
		if v != 0 && !slices.Contains(faulted, s) {
			other += v
			shards = append(shards, fmt.Sprintf("%d:%d", s, v))
		}
	}
	var nodes []string
	for n, v := range r.StateLostByNode {
		if n != victim && v != 0 {
			nodes = append(nodes, fmt.Sprintf("%s:%d", n, v))
		}
	}
	slices.Sort(nodes)
	res.Expect("no-loss-on-other-nodes", other == 0 && len(nodes) == 0 && r.UnexplainedLost == 0 && r.Accounting == accountingTallies,
		"state lost on other shards %d [%s], by other nodes [%s], unexplained %d", other, strings.Join(shards, " "), strings.Join(nodes, " "), r.UnexplainedLost)
}

// nonZero lists the non-zero entries of a per-shard slice as shard:value.
func nonZero(v []int64) string {
	var parts []string
	for s, x := range v {
		if x != 0 {
			parts = append(parts, fmt.Sprintf("%d:%d", s, x))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// keyed formats a map as " (k v, ...)" sorted by key, "" when empty.
func keyed(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
