package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the outcome of one check.
type Status string

// Check outcomes.
const (
	Pass      Status = "pass"
	Violation Status = "VIOLATION"
	// Unchecked: the data the check needs was not available in this run.
	// It fails the scenario only in strict mode.
	Unchecked Status = "unchecked"
)

// Check is one acceptance check.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Figure is one measured number (or fact) of a scenario.
type Figure struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Result is one scenario's outcome. It is built by one goroutine.
type Result struct {
	Scenario string        `json:"scenario"`
	Nodes    int           `json:"nodes"`
	Network  string        `json:"network"` // loopback or netns
	Elapsed  time.Duration `json:"-"`
	ElapsedS float64       `json:"elapsed_s"`
	Figures  []Figure      `json:"figures"`
	Checks   []Check       `json:"checks"`
	Notes    []string      `json:"notes,omitempty"`
	Error    string        `json:"error,omitempty"` // the scenario could not run to its end
	Logs     string        `json:"logs,omitempty"`
	Strict   bool          `json:"strict"`
}

// Fig records a figure.
func (r *Result) Fig(key, format string, a ...any) {
	r.Figures = append(r.Figures, Figure{Key: key, Value: fmt.Sprintf(format, a...)})
}

// Note records a remark (a flag not passed, a fallback used).
func (r *Result) Note(format string, a ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, a...))
}

// Check records a check.
func (r *Result) Check(name string, st Status, format string, a ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Status: st, Detail: fmt.Sprintf(format, a...)})
}

// Expect records a pass when ok, a violation otherwise.
func (r *Result) Expect(name string, ok bool, format string, a ...any) {
	st := Pass
	if !ok {
		st = Violation
	}
	r.Check(name, st, format, a...)
}

// Counts returns the number of violations and unchecked checks.
func (r *Result) Counts() (violations, unchecked int) {
	for _, c := range r.Checks {
		switch c.Status {
		case Violation:
			violations++
		case Unchecked:
			unchecked++
		}
	}
	return violations, unchecked
}

// Failed reports whether the scenario failed: it could not run, had a
// violation, or (strict) left a check unchecked.
func (r *Result) Failed() bool {
	v, u := r.Counts()
	return r.Error != "" || v > 0 || (r.Strict && u > 0)
}

// WriteText prints the scenario's block: figures, checks, verdict.
func (r *Result) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "== %s (%d nodes, %s, %.1fs)\n", r.Scenario, r.Nodes, r.Network, r.Elapsed.Seconds())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range r.Figures {
		fmt.Fprintf(tw, "  %s\t%s\n", f.Key, f.Value)
	}
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "  check %s\t%s\t%s\n", c.Name, c.Status, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	if r.Logs != "" {
		fmt.Fprintf(w, "  logs: %s\n", r.Logs)
	}
	v, u := r.Counts()
	verdict := "PASS"
	if r.Failed() {
		verdict = "FAIL"
	}
	var why []string
	if r.Error != "" {
		why = append(why, "did not complete")
	}
	why = append(why, fmt.Sprintf("%d violations", v), fmt.Sprintf("%d unchecked", u))
	if r.Strict {
		why = append(why, "strict")
	}
	_, err := fmt.Fprintf(w, "  result: %s (%s)\n", verdict, strings.Join(why, ", "))
	return err
}

// WriteJSON prints the result as one JSON line.
func (r *Result) WriteJSON(w io.Writer) error {
	r.ElapsedS = r.Elapsed.Seconds()
	type out struct {
		*Result
		Violations int  `json:"violations"`
		Unchecked  int  `json:"unchecked"`
		Failed     bool `json:"failed"`
	}
	v, u := r.Counts()
	return json.NewEncoder(w).Encode(out{r, v, u, r.Failed()})
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

func fmtBytes(b int64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
