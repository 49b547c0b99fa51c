package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// runOut runs loadgen against m with -out dir and returns dir.
func runOut(t *testing.T, m *memTarget, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "r")
	var stdout, stderr bytes.Buffer
	args = append([]string{"-entities", "20", "-workers", "1", "-progress=false", "-out", dir}, args...)
	if code := run(context.Background(), args, &stdout, &stderr, memOpener(m)); code != exitOK {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	return dir
}

// TestOutDirectory: -out writes the JSON report, a series line per
// interval whose tells add up to the accepted tells, and an interval log
// that HdrHistogram's own reader reads back to every ask of the report.
func TestOutDirectory(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	m := &memTarget{}
	dir := runOut(t, m, "-duration", "2500ms")
	var rep map[string]any
	b, err := os.ReadFile(filepath.Join(dir, outReport))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", outReport, err)
	}
	f, err := os.Open(filepath.Join(dir, outSeries))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines int
	var tellsOK int64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var p seriesPoint
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("%s line %q: %v", outSeries, sc.Text(), err)
		}
		lines++
		tellsOK += p.TellsOK
	}
	accepted, _, _ := m.books()
	if lines < 3 || tellsOK != accepted {
		t.Errorf("got %d series lines with tells_ok summing to %d, want >= 3 (2.5 s) and the target's accepted %d", lines, tellsOK, accepted)
	}
	hf, err := os.Open(filepath.Join(dir, outHlog))
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	lr := hdrhistogram.NewHistogramLogReader(hf)
	var intervals, count int64
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("%s: %v", outHlog, err)
		}
		if h == nil {
			break
		}
		intervals++
		count += h.TotalCount()
	}
	if intervals != int64(lines) || float64(count) != num(t, rep, "asks") {
		t.Errorf("got %d intervals with %d asks, want %d intervals (one per series line) and the report's %v asks", intervals, count, lines, rep["asks"])
	}
}

// chromium finds Debian's chromium (or another Chrome). Under CI=true a
// missing browser fails the test: .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH under CI=true (.ci/run installs Debian's chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// TestHTMLRendersInChromium opens -out's report.html in a real headless
// Chromium: the DOM it builds holds the four charts, each with its drawn
// lines, and the screenshot is not blank and has the charts' colours.
func TestHTMLRendersInChromium(t *testing.T) {
	t.Parallel() // a run of fixed duration: overlaps the others (the package's -count=5 fits go test's 10 min)
	if testing.Short() {
		t.Skip("starts a browser")
	}
	bin := chromium(t)
	dir := runOut(t, &memTarget{}, "-duration", "2500ms", "-ask-concurrency", "2")
	page := "file://" + filepath.Join(dir, outHTML)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	browse := func(args ...string) []byte {
		t.Helper()
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
			"--user-data-dir=" + t.TempDir(), "--window-size=1000,1800"}, args...)
		cmd := exec.CommandContext(ctx, bin, append(args, page)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", bin, args, err, stderr.String())
		}
		return out
	}
	dom := string(browse("--dump-dom"))
	if n := strings.Count(dom, "<svg"); n != 4 {
		t.Errorf("got %d <svg> in the rendered DOM, want 4", n)
	}
	for _, title := range []string{"Ask latency by percentile", "Tells by second", "Asks by second", "Ask latency by second"} {
		if !strings.Contains(dom, title) {
			t.Errorf("rendered DOM lacks the chart %q", title)
		}
	}
	if n := strings.Count(dom, `<polyline class="series"`); n < 5 || strings.Contains(dom, `points=""`) {
		t.Errorf("got %d polylines (an empty one: %v), want 5 with points", n, strings.Contains(dom, `points=""`))
	}
	shot := filepath.Join(t.TempDir(), "shot.png")
	browse("--screenshot=" + shot)
	inked, coloured := screenshotInk(t, shot)
	if inked < 0.01 || coloured < 200 {
		t.Errorf("got %.2f%% of the screenshot inked and %d coloured pixels, want >= 1%% and >= 200 (text and chart lines)", 100*inked, coloured)
	}
}

// screenshotInk returns the share of pixels that are not white and the
// number that are clearly coloured (not grey: the chart lines).
func screenshotInk(t *testing.T, path string) (inked float64, coloured int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	var n int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if r < 240 || g < 240 || bl < 240 {
				n++
			}
			if max(r, g, bl)-min(r, g, bl) > 60 {
				coloured++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy()), coloured
}
