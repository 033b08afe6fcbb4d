package datalake

import (
	"path/filepath"
	"testing"

	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// golden compares got with testdata/name (go test -update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	flowlabtest.Golden(t, filepath.Join("testdata", name), got)
}
