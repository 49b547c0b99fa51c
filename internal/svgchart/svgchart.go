package svgchart

import (
	"html"
	"math"
	"strconv"
)

// Series is one line of a chart: Y[i] drawn at X[i] (pairs beyond the
// shorter slice are ignored).
type Series struct {
	Name  string
	Color string // any SVG colour; "" takes the next of a fixed palette
	X, Y  []float64
}

// Tick is an x-axis label at X.
type Tick struct {
	X     float64
	Label string
}

// Chart is a line chart. The zero value of each field is its default.
type Chart struct {
	Title, XLabel, YLabel string
	Width, Height         int    // pixels; 0: 640 x 240
	XTicks                []Tick // nil: 5 evenly spaced ticks with the x value
	YFormat               func(float64) string
	Series                []Series
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

// margins of the plot area inside the chart, in pixels.
const (
	marginLeft   = 64
	marginRight  = 16
	marginTop    = 28
	marginBottom = 40
)

// bounds returns the data's x and y ranges (see the package invariants).
func (c *Chart) bounds() (x0, x1, y0, y1 float64) {
	x0, y0 = math.Inf(1), math.Inf(1)
	x1, y1 = math.Inf(-1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range min(len(s.X), len(s.Y)) {
			x, y := s.X[i], s.Y[i]
			if !finite(x) || !finite(y) {
				continue
			}
			x0, x1 = math.Min(x0, x), math.Max(x1, x)
			y0, y1 = math.Min(y0, y), math.Max(y1, y)
		}
	}
	for _, t := range c.XTicks {
		if finite(t.X) {
			x0, x1 = math.Min(x0, t.X), math.Max(x1, t.X)
		}
	}
	if math.IsInf(x0, 1) {
		x0, x1 = 0, 1
	}
	if math.IsInf(y0, 1) {
		y0, y1 = 0, 1
	}
	if y0 >= 0 {
		y0 = 0
	}
	if x0 > 0 {
		x0 = 0
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	if y1 == y0 {
		y1 = y0 + 1
	}
	return x0, x1, y0, y1
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// AppendSVG appends the chart as one <svg> element to dst.
func (c *Chart) AppendSVG(dst []byte) []byte {
	w, h := c.Width, c.Height
	if w <= 0 || h <= 0 {
		w, h = 640, 240
	}
	x0, x1, y0, y1 := c.bounds()
	pw, ph := float64(w-marginLeft-marginRight), float64(h-marginTop-marginBottom)
	px := func(x float64) float64 { return marginLeft + (x-x0)/(x1-x0)*pw }
	py := func(y float64) float64 { return marginTop + ph - (y-y0)/(y1-y0)*ph }
	yf := c.YFormat
	if yf == nil {
		yf = func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
	}

	dst = append(dst, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="`...)
	dst = strconv.AppendInt(dst, int64(w), 10)
	dst = append(dst, `" height="`...)
	dst = strconv.AppendInt(dst, int64(h), 10)
	dst = append(dst, `" viewBox="0 0 `...)
	dst = strconv.AppendInt(dst, int64(w), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(h), 10)
	dst = append(dst, `" font-family="sans-serif" font-size="11">`...)
	dst = append(dst, `<rect width="100%" height="100%" fill="#fff"/>`...)
	dst = text(dst, marginLeft, 16, "start", "bold", c.Title)
	dst = text(dst, marginLeft+pw/2, float64(h)-6, "middle", "", c.XLabel)
	dst = c.appendGrid(dst, px, py, x0, x1, y0, y1, yf)
	dst = c.appendLines(dst, px, py)
	dst = c.appendLegend(dst, float64(w-marginRight))
	return append(dst, "</svg>"...)
}

// appendGrid draws the axes, 5 horizontal grid lines with y labels and the
// x ticks.
func (c *Chart) appendGrid(dst []byte, px, py func(float64) float64, x0, x1, y0, y1 float64, yf func(float64) string) []byte {
	for i := range 5 {
		y := y0 + (y1-y0)*float64(i)/4
		dst = line(dst, px(x0), py(y), px(x1), py(y), "#ddd")
		dst = text(dst, marginLeft-4, py(y)+4, "end", "", yf(y))
	}
	if c.YLabel != "" {
		dst = text(dst, marginLeft-4, marginTop-8, "end", "", c.YLabel)
	}
	ticks := c.XTicks
	if ticks == nil {
		step := niceStep(x1 - x0)
		for x := math.Ceil(x0/step) * step; x <= x1+step/1e6; x += step {
			ticks = append(ticks, Tick{X: x, Label: strconv.FormatFloat(x, 'g', 4, 64)})
		}
	}
	for _, t := range ticks {
		dst = line(dst, px(t.X), py(y0), px(t.X), py(y0)+4, "#000")
		dst = text(dst, px(t.X), py(y0)+16, "middle", "", t.Label)
	}
	dst = line(dst, px(x0), py(y0), px(x1), py(y0), "#000")
	return line(dst, px(x0), py(y0), px(x0), py(y1), "#000")
}

// appendLines draws one polyline per series.
func (c *Chart) appendLines(dst []byte, px, py func(float64) float64) []byte {
	for i, s := range c.Series {
		dst = append(dst, `<polyline class="series" fill="none" stroke-width="1.5" stroke="`...)
		dst = append(dst, html.EscapeString(color(s, i))...)
		dst = append(dst, `" points="`...)
		first := true
		for j := range min(len(s.X), len(s.Y)) {
			if !finite(s.X[j]) || !finite(s.Y[j]) {
				continue
			}
			if !first {
				dst = append(dst, ' ')
			}
			first = false
			dst = strconv.AppendFloat(dst, math.Round(px(s.X[j])*10)/10, 'f', -1, 64)
			dst = append(dst, ',')
			dst = strconv.AppendFloat(dst, math.Round(py(s.Y[j])*10)/10, 'f', -1, 64)
		}
		dst = append(dst, `"><title>`...)
		dst = append(dst, html.EscapeString(s.Name)...)
		dst = append(dst, `</title></polyline>`...)
	}
	return dst
}

// appendLegend names the series at the top right.
func (c *Chart) appendLegend(dst []byte, right float64) []byte {
	x := right
	for i := len(c.Series) - 1; i >= 0; i-- {
		s := c.Series[i]
		x -= float64(7*len(s.Name) + 22)
		dst = line(dst, x, 12, x+14, 12, color(s, i))
		dst = text(dst, x+18, 16, "start", "", s.Name)
	}
	return dst
}

// niceStep is 1, 2 or 5 times a power of ten, giving 4 to 10 ticks over
// span (> 0).
func niceStep(span float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(span)))
	for _, m := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10} {
		if span/(m*p) <= 10 {
			return m * p
		}
	}
	return 10 * p
}

func color(s Series, i int) string {
	if s.Color != "" {
		return s.Color
	}
	return palette[i%len(palette)]
}

func line(dst []byte, xa, ya, xb, yb float64, stroke string) []byte {
	dst = append(dst, `<line x1="`...)
	dst = strconv.AppendFloat(dst, math.Round(xa*10)/10, 'f', -1, 64)
	dst = append(dst, `" y1="`...)
	dst = strconv.AppendFloat(dst, math.Round(ya*10)/10, 'f', -1, 64)
	dst = append(dst, `" x2="`...)
	dst = strconv.AppendFloat(dst, math.Round(xb*10)/10, 'f', -1, 64)
	dst = append(dst, `" y2="`...)
	dst = strconv.AppendFloat(dst, math.Round(yb*10)/10, 'f', -1, 64)
	dst = append(dst, `" stroke="`...)
	dst = append(dst, html.EscapeString(stroke)...)
	return append(dst, `"/>`...)
}

func text(dst []byte, x, y float64, anchor, weight, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, `<text x="`...)
	dst = strconv.AppendFloat(dst, math.Round(x*10)/10, 'f', -1, 64)
	dst = append(dst, `" y="`...)
	dst = strconv.AppendFloat(dst, math.Round(y*10)/10, 'f', -1, 64)
	dst = append(dst, `" text-anchor="`...)
	dst = append(dst, anchor...)
	if weight != "" {
		dst = append(dst, `" font-weight="`...)
		dst = append(dst, weight...)
	}
	dst = append(dst, `">`...)
	dst = append(dst, html.EscapeString(s)...)
	return append(dst, `</text>`...)
}
