// Package svgchart draws small line charts as inline SVG, for HTML reports
// that must render with no network access and no script (loadgen's -out
// report.html).
//
//	c := svgchart.Chart{Title: "tells/s", XLabel: "s", Series: []svgchart.Series{{Name: "delivered", X: xs, Y: ys}}}
//	html = c.AppendSVG(html)
//
// Invariants:
//   - The output is one well-formed <svg> element; every text taken from
//     the caller (titles, labels, series names) is XML-escaped.
//   - Each series is one <polyline class="series"> with one point per
//     finite (x, y) pair, in the order given; non-finite values are skipped,
//     never drawn at 0.
//   - The axes span the data: [min, max] of every finite value (from 0
//     when every value on that axis is >= 0), widened to a unit span when the data is one
//     value, so an empty or flat series never divides by zero.
//
// Concurrency: a Chart is a plain value; AppendSVG only reads it, so one
// Chart may be drawn from many goroutines while none changes it. The zero
// Chart is usable (an empty 640x240 chart).
package svgchart
