package kernel_test

import (
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// TestConformance drives the installed kernel with Debian's jupyter_client:
// every message type, status ordering, execution counts, live streaming,
// interrupts, panics, signatures, shutdown and restart
// (testdata/conformance/test_conformance.py).
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernel processes; run without -short")
	}
	flowlabtest.RequirePython(t, "jupyter_client", "zmq")
	bin := flowlabtest.Binary(t)
	jupyterPath, name := flowlabtest.Kernelspec(t, bin)
	env := flowlabtest.Env(
		"JUPYTER_PATH="+jupyterPath,
		"JUPYTER_RUNTIME_DIR="+t.TempDir(),
		"FLOWLAB_KERNEL_NAME="+name,
	)
	flowlabtest.RunPythonTests(t, "testdata/conformance", "test_conformance", env, 10*time.Minute)
}
