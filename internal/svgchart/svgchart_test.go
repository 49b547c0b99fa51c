package svgchart

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

// wellFormed decodes s as XML to its end.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
	}
}

// points returns the points attribute of each polyline.
func points(s string) []string {
	var out []string
	for _, part := range strings.Split(s, `<polyline`)[1:] {
		_, rest, _ := strings.Cut(part, `points="`)
		p, _, _ := strings.Cut(rest, `"`)
		out = append(out, p)
	}
	return out
}

func TestAppendSVG(t *testing.T) {
	for _, tc := range []struct {
		name       string
		c          Chart
		wantPoints []int // points per polyline
	}{
		{"zero chart", Chart{}, nil},
		{"two series", Chart{Title: "a <b> & c", Series: []Series{
			{Name: `x"y`, X: []float64{0, 1, 2}, Y: []float64{1, 3, 2}},
			{Name: "z", X: []float64{0, 1}, Y: []float64{5, 5, 7}},
		}}, []int{3, 2}},
		{"non-finite skipped", Chart{Series: []Series{{X: []float64{0, 1, 2, 3}, Y: []float64{1, math.NaN(), math.Inf(1), 4}}}}, []int{2}},
		{"flat", Chart{Series: []Series{{X: []float64{3, 3}, Y: []float64{0, 0}}}}, []int{2}},
		{"ticks", Chart{XTicks: []Tick{{0, "0%"}, {2, "99%"}}, Series: []Series{{X: []float64{0, 2}, Y: []float64{-1, 1}}}}, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := string(tc.c.AppendSVG(nil))
			wellFormed(t, s)
			if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
				t.Errorf("got a non-finite coordinate:\n%s", s)
			}
			ps := points(s)
			if len(ps) != len(tc.wantPoints) {
				t.Fatalf("got %d polylines, want %d", len(ps), len(tc.wantPoints))
			}
			for i, p := range ps {
				if n := len(strings.Fields(p)); n != tc.wantPoints[i] {
					t.Errorf("polyline %d: got %d points %q, want %d", i, n, p, tc.wantPoints[i])
				}
			}
			if tc.c.Title != "" && !strings.Contains(s, "a &lt;b&gt; &amp; c") {
				t.Errorf("title not escaped:\n%s", s)
			}
		})
	}
}

// TestPointsInsidePlot: every point lies inside the chart, and a larger y
// is drawn higher (a smaller SVG y).
func TestPointsInsidePlot(t *testing.T) {
	c := Chart{Width: 300, Height: 200, Series: []Series{{X: []float64{0, 10}, Y: []float64{1, 100}}}}
	ps := strings.Fields(points(string(c.AppendSVG(nil)))[0])
	var ys []float64
	for _, p := range ps {
		var x, y float64
		if _, err := fmtSscan(p, &x, &y); err != nil {
			t.Fatal(err)
		}
		if x < 0 || x > 300 || y < 0 || y > 200 {
			t.Errorf("point %s outside 300x200", p)
		}
		ys = append(ys, y)
	}
	if ys[1] >= ys[0] {
		t.Errorf("got y %v for values 1 and 100, want the second higher (smaller)", ys)
	}
}

func fmtSscan(p string, x, y *float64) (int, error) {
	return fmt.Sscan(strings.Replace(p, ",", " ", 1), x, y)
}
