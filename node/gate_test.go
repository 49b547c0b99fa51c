package node

import (
	"testing"
)

// TestNoGateInProduction: a node started without Config.Pausable has no
// pause gate (nothing of it runs: the gate checks are nil tests and
// memberlist's transport is not wrapped), and Pause says so instead of
// silently doing nothing.
func TestNoGateInProduction(t *testing.T) {
	n := startSingle(t, Config{}, EntityFunc(func(*Context, any) {}))
	if n.gate != nil {
		t.Fatal("a node started without Config.Pausable has a pause gate")
	}
	if !n.gate.wait(n.stop) {
		t.Fatal("wait on no gate did not return true")
	}
	n.gate.resume() // Close and Kill call it: a no-op
	defer func() {
		if recover() == nil {
			t.Fatal("Pause without Config.Pausable did not panic")
		}
	}()
	n.Pause()
}
