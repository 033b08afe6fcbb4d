package flowlabtest

import (
	"bytes"
	"os/exec"
	"testing"
)

// ValidateNotebook checks a notebook file with Debian's python3-nbformat
// (nbformat.validate against the schema of its nbformat_minor), skipping
// the test like RequirePython when nbformat is missing.
func ValidateNotebook(tb testing.TB, path string) {
	tb.Helper()
	RequirePython(tb, "nbformat")
	const script = `import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=nbformat.NO_CONVERT)
nbformat.validate(nb)
`
	out, err := exec.Command(Python, "-c", script, path).CombinedOutput()
	if err != nil {
		tb.Fatalf("nbformat does not validate %s: %v\n%s", path, err, bytes.TrimSpace(out))
	}
}
