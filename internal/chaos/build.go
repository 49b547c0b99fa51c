package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModuleDir returns the root of the zerohop module that holds dir.
func ModuleDir(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("chaos: go list -m: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// BuildBinaries builds cmd/node and cmd/loadgen of the module at modDir
// into outDir and returns their paths.
func BuildBinaries(ctx context.Context, modDir, outDir string) (node, loadgen string, err error) {
	node, loadgen = filepath.Join(outDir, "node"), filepath.Join(outDir, "loadgen")
	for _, b := range []struct{ pkg, out string }{{"./cmd/node", node}, {"./cmd/loadgen", loadgen}} {
		var msg bytes.Buffer
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = modDir
		cmd.Stdout, cmd.Stderr = &msg, &msg
		if err := cmd.Run(); err != nil {
			return "", "", fmt.Errorf("chaos: go build %s: %w: %s", b.pkg, err, strings.TrimSpace(msg.String()))
		}
	}
	return node, loadgen, nil
}

// Binaries returns the node and loadgen binaries in dir (-bin).
func Binaries(dir string) (node, loadgen string) {
	return filepath.Join(dir, "node"), filepath.Join(dir, "loadgen")
}
