package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportLinksNoGnet: the engine package links none of gnet, ants, zap
// or lumberjack (they come with the gnet transport, which a program
// selects by importing engine/gnettransport), nor prometheus (it comes
// with metrics/promclient, which a program imports to export the
// client's counters). Checked with go list -deps,
// which lists what a program importing engine links.
func TestImportLinksNoGnet(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	banned := []string{"github.com/panjf2000/gnet", "github.com/panjf2000/ants", "go.uber.org/zap", "gopkg.in/natefinch/lumberjack", "github.com/prometheus/"}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || !strings.Contains(string(out), "github.com/zerohop/zerohop/wire") {
		t.Fatalf("go list -deps listed no wire: %q", out)
	}
	for _, d := range deps {
		for _, b := range banned {
			if strings.HasPrefix(d, b) {
				t.Errorf("engine links %s (wanted none of %v)", d, banned)
			}
		}
	}
}
