package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// rateSchedule is -rate: a constant rate, or steps from start toward end,
// changing by step every every (rate of step i = start + i*step, clamped to
// end). A constant rate is start == end with step 0. Immutable once
// parsed.
type rateSchedule struct {
	start, end, step float64 // tells/s
	every            time.Duration
	text             string // as given, for the report
}

// rateAt is the rate of segment i, [i*every, (i+1)*every).
func (s *rateSchedule) rateAt(i int64) float64 {
	r := s.start + float64(i)*s.step
	if s.step > 0 {
		return math.Min(r, s.end)
	}
	return math.Max(r, s.end)
}

// segLen is a segment's length in ns (a constant rate is one endless
// segment).
func (s *rateSchedule) segLen() float64 {
	if s.step == 0 {
		return math.Inf(1)
	}
	return float64(s.every)
}

// scheduleCursor walks a schedule forward in time: at(t) is how many tells
// (of all workers) are due by t ns since the start, inverse(n) the time the
// n-th is due. Both only ever move forward: t and n never decrease between
// calls. Owned by one worker.
type scheduleCursor struct {
	s    *rateSchedule
	seg  int64   // current segment
	t0   float64 // its start, ns
	base float64 // tells due before it
}

// advance moves to the segment holding t (ns), or n tells, whichever the
// caller asks; it never moves back.
func (c *scheduleCursor) advance(beyond func(end, endBase float64) bool) {
	for l := c.s.segLen(); !math.IsInf(l, 1); {
		end, endBase := c.t0+l, c.base+c.s.rateAt(c.seg)*l/1e9
		if !beyond(end, endBase) {
			return
		}
		c.seg, c.t0, c.base = c.seg+1, end, endBase
	}
}

// at returns the tells due by t ns since the start.
func (c *scheduleCursor) at(t float64) float64 {
	c.advance(func(end, _ float64) bool { return t >= end })
	return c.base + c.s.rateAt(c.seg)*(t-c.t0)/1e9
}

// inverse returns when (ns since the start) the n-th tell is due.
func (c *scheduleCursor) inverse(n float64) float64 {
	c.advance(func(_, endBase float64) bool { return n >= endBase })
	return c.t0 + (n-c.base)/c.s.rateAt(c.seg)*1e9
}

// parseRate parses a rate: a number with an optional k or M suffix.
func parseRate(s string) (float64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	return v * mult, nil
}

// parseSchedule parses -rate: "R" (constant) or "START:END:step=S,every=D"
// (e.g. 100k:2M:step=100k,every=3s).
func parseSchedule(text string) (*rateSchedule, error) {
	parts := strings.Split(text, ":")
	s := &rateSchedule{text: text}
	var err error
	if s.start, err = parseRate(parts[0]); err != nil {
		return nil, fmt.Errorf("-rate %q: %v", text, err)
	}
	if len(parts) == 1 {
		s.end = s.start
		return s, nil
	}
	if len(parts) != 3 {
		return nil, fmt.Errorf("-rate %q: want R or START:END:step=S,every=D", text)
	}
	if s.end, err = parseRate(parts[1]); err != nil {
		return nil, fmt.Errorf("-rate %q: %v", text, err)
	}
	for _, kv := range strings.Split(parts[2], ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "step":
			s.step, err = parseRate(v)
		case "every":
			s.every, err = time.ParseDuration(v)
		default:
			err = fmt.Errorf("unknown %q (want step= and every=)", k)
		}
		if err != nil {
			return nil, fmt.Errorf("-rate %q: %v", text, err)
		}
	}
	switch {
	case s.start <= 0 || s.end <= 0:
		return nil, fmt.Errorf("-rate %q: START and END must be > 0", text)
	case s.step <= 0 || s.every <= 0:
		return nil, fmt.Errorf("-rate %q: step and every must be > 0", text)
	case s.end < s.start:
		s.step = -s.step // a descending schedule
	}
	return s, nil
}

// rateFlag is the -rate flag.Value.
type rateFlag struct{ s **rateSchedule }

func (f rateFlag) String() string {
	if f.s == nil || *f.s == nil {
		return "0"
	}
	return (*f.s).text
}

func (f rateFlag) Set(v string) error {
	if v == "0" {
		*f.s = nil
		return nil
	}
	s, err := parseSchedule(v)
	if err != nil {
		return err
	}
	*f.s = s
	return nil
}
