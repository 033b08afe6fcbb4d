package duckdb_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/duckdb"
)

func TestEngineSettings(t *testing.T) {
	root := t.TempDir()
	e, err := duckdb.Open(duckdb.Options{Root: root, MemoryLimit: "300MiB", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.Query(context.Background(), `SELECT current_setting('memory_limit'), current_setting('threads'),
		current_setting('temp_directory'), current_setting('TimeZone'), current_setting('enable_external_access'),
		current_setting('lock_configuration')`)
	if err != nil {
		t.Fatal(err)
	}
	var mem, tz, temp string
	var threads int64
	var external, locked bool
	if !rows.Next() {
		t.Fatal("no row")
	}
	if err := rows.Scan(&mem, &threads, &temp, &tz, &external, &locked); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if mem != "300.0 MiB" || threads != 1 || tz != "UTC" || external || !locked {
		t.Errorf("settings: memory %s, threads %d, time zone %s, external access %v, locked %v", mem, threads, tz, external, locked)
	}
	if fi, err := os.Stat(temp); err != nil || !fi.IsDir() {
		t.Errorf("spill folder %s: %v", temp, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(temp); !os.IsNotExist(err) {
		t.Errorf("spill folder left after Close: %v", err)
	}
	if err := e.Exec(context.Background(), "SELECT 1"); !errors.Is(err, datalake.ErrClosed) {
		t.Errorf("Exec after Close: %v", err)
	}
}

func TestDefaultMemoryLimit(t *testing.T) {
	m := regexp.MustCompile(`^(\d+)MiB$`).FindStringSubmatch(duckdb.DefaultMemoryLimit())
	if m == nil {
		t.Fatalf("DefaultMemoryLimit = %q", duckdb.DefaultMemoryLimit())
	}
	mib, _ := strconv.Atoi(m[1])
	if mib < 512 || mib > 4096 {
		t.Fatalf("DefaultMemoryLimit = %d MiB, want 512 to 4096", mib)
	}
}
