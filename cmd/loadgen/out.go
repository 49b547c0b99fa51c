package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zerohop/zerohop/internal/svgchart"
)

// The files of a -out directory. loadgen compare and loadgen merge read
// them back.
const (
	outReport = "report.json"  // the -json report
	outSeries = "series.jsonl" // one -series line per second
	outHlog   = "asks.hlog"    // ask latencies, HdrHistogram interval log (ns)
	outHTML   = "report.html"  // self-contained page with SVG charts
)

// results writes the files of a -out directory that grow during the load
// (series, interval log). Owned by the session; interval is called only
// by the runner's progressLoop.
type results struct {
	dir    string
	series *os.File
	hlog   *os.File
	lw     *hdrhistogram.HistogramLogWriter
	begun  bool // the log's header is written
}

// openResults creates dir (and its parents) and the files written during
// the load.
func openResults(dir string) (*results, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &configError{fmt.Errorf("loadgen: -out: %w", err)}
	}
	res := &results{dir: dir}
	var err error
	if res.series, err = os.Create(filepath.Join(dir, outSeries)); err != nil {
		return nil, &configError{fmt.Errorf("loadgen: -out: %w", err)}
	}
	if res.hlog, err = os.Create(filepath.Join(dir, outHlog)); err != nil {
		res.series.Close()
		return nil, &configError{fmt.Errorf("loadgen: -out: %w", err)}
	}
	res.lw = hdrhistogram.NewHistogramLogWriter(res.hlog)
	return res, nil
}

// interval logs the ask latencies of one interval in HdrHistogram's
// interval-log format (version 1.3, the one HistogramLogProcessor and
// HistogramLogReader read): a header with the start time at the first
// interval, then one line per interval, its start relative to that base.
func (res *results) interval(h *hdrhistogram.Histogram, from, to time.Time) error {
	if !res.begun {
		res.begun = true
		base := from.UnixMilli()
		res.lw.SetBaseTime(base)
		for _, f := range []func() error{
			func() error {
				return res.lw.OutputComment("loadgen ask latencies (GetCount), in nanoseconds; one interval per second")
			},
			res.lw.OutputLogFormatVersion,
			func() error { return res.lw.OutputStartTime(base) },
			func() error { return res.lw.OutputBaseTime(base) },
			res.lw.OutputLegend,
		} {
			if err := f(); err != nil {
				return fmt.Errorf("loadgen: -out: %w", err)
			}
		}
	}
	h.SetStartTimeMs(from.UnixMilli())
	h.SetEndTimeMs(to.UnixMilli())
	if err := res.lw.OutputIntervalHistogram(h); err != nil {
		return fmt.Errorf("loadgen: -out: %w", err)
	}
	return nil
}

// close closes the files written during the load.
func (res *results) close() error {
	err := res.series.Close()
	if herr := res.hlog.Close(); err == nil {
		err = herr
	}
	if err != nil {
		return fmt.Errorf("loadgen: -out: %w", err)
	}
	return nil
}

// save writes the report and the HTML page into dir.
func (r *report) save(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, outReport), append(b, '\n'), 0o644)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, outHTML), r.html(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("loadgen: -out: %w", err)
	}
	return nil
}

// spectrumPoints are the percentiles drawn on the latency spectrum, as
// x = -log10(1 - q/100): 0 for p0, 1 for p90, 2 for p99, ...
var spectrumPoints = func() []float64 {
	var qs []float64
	for x := 0.0; x <= 5.0001; x += 0.1 {
		qs = append(qs, x)
	}
	return qs
}()

// html renders the report as a self-contained page: the headline, then
// four charts (ask latency by percentile; tells/s, asks/s and ask latency
// by second) as inline SVG; no script, no network.
func (r *report) html() []byte {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>loadgen report</title>\n" +
		"<style>body{font-family:sans-serif;margin:24px;color:#222}pre{background:#f6f6f6;padding:12px}svg.chart{display:block;margin:12px 0}</style>\n</head><body>\n")
	fmt.Fprintf(&b, "<h1>loadgen: %s</h1>\n<pre>", html.EscapeString(r.verdict()))
	var table bytes.Buffer
	_ = r.writeTable(&table, false)
	b.WriteString(html.EscapeString(table.String()))
	b.WriteString("</pre>\n")
	for _, c := range r.charts() {
		b.Write(c.AppendSVG(nil))
		b.WriteByte('\n')
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

// charts are the page's charts.
func (r *report) charts() []svgchart.Chart {
	us := func(v float64) string {
		if v == 0 {
			return "0"
		}
		return usStr(v)
	}
	var spec svgchart.Series
	spec.Name = "ask latency"
	if r.askHist != nil && r.askHist.TotalCount() > 0 {
		for _, x := range spectrumPoints {
			spec.X = append(spec.X, x)
			spec.Y = append(spec.Y, quantileUS(r.askHist, 100*(1-math.Pow(10, -x))))
		}
	}
	var tells, asks, p50, p99 svgchart.Series
	tells.Name, asks.Name, p50.Name, p99.Name = "tells/s accepted", "asks/s", "ask p50", "ask p99"
	for _, p := range r.points {
		tells.X, tells.Y = append(tells.X, p.T), append(tells.Y, p.TellsPerSec)
		asks.X, asks.Y = append(asks.X, p.T), append(asks.Y, p.AsksPerSec)
		y50, y99 := p.AskP50US, p.AskP99US
		if p.AsksOK == 0 {
			y50, y99 = math.NaN(), math.NaN() // no asks answered: no point
		}
		p50.X, p50.Y = append(p50.X, p.T), append(p50.Y, y50)
		p99.X, p99.Y = append(p99.X, p.T), append(p99.Y, y99)
	}
	return []svgchart.Chart{
		{Title: "Ask latency by percentile", XLabel: "percentile", YFormat: us, Series: []svgchart.Series{spec},
			XTicks: []svgchart.Tick{{X: 0, Label: "0%"}, {X: 1, Label: "90%"}, {X: 2, Label: "99%"}, {X: 3, Label: "99.9%"}, {X: 4, Label: "99.99%"}, {X: 5, Label: "99.999%"}}},
		{Title: "Tells by second", XLabel: "seconds since the load started", YFormat: si, Series: []svgchart.Series{tells}},
		{Title: "Asks by second", XLabel: "seconds since the load started", YFormat: si, Series: []svgchart.Series{asks}},
		{Title: "Ask latency by second", XLabel: "seconds since the load started", YFormat: us, Series: []svgchart.Series{p50, p99}},
	}
}
