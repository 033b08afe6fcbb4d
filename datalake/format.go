package datalake

import (
	"fmt"
	"strings"
)

// Format is a file format of a dataset.
type Format string

// The formats a dataset can hold.
const (
	Parquet Format = "PARQUET"
	JSON    Format = "JSON" // one object per line
	CSV     Format = "CSV"  // with a header line
)

var formats = []Format{Parquet, JSON, CSV}

// parseFormat accepts a format name in any case. The error wraps
// ErrBadFormat and lists the accepted names.
func parseFormat(s string) (Format, error) {
	f := Format(strings.ToUpper(strings.TrimSpace(s)))
	switch f {
	case Parquet, JSON, CSV:
		return f, nil
	case "NDJSON", "JSONL", "JSONLINES":
		return JSON, nil
	}
	return "", fmt.Errorf("%w %q: use PARQUET, JSON (one object per line) or CSV", ErrBadFormat, s)
}

// ext is the extension the package gives files it writes.
func (f Format) ext() string {
	switch f {
	case JSON:
		return ".json"
	case CSV:
		return ".csv"
	}
	return ".parquet"
}

// formatOfFile tells which format a data file holds by its name, accepting
// what Spark, DuckDB and pandas write (compressed text included). ok is false
// for files that are not data (markers, checksums).
func formatOfFile(name string) (Format, bool) {
	n := strings.ToLower(name)
	for _, c := range []string{".gz", ".zst"} {
		n = strings.TrimSuffix(n, c)
	}
	switch {
	case strings.HasSuffix(n, ".parquet"):
		return Parquet, true
	case strings.HasSuffix(n, ".json"), strings.HasSuffix(n, ".jsonl"), strings.HasSuffix(n, ".ndjson"):
		return JSON, true
	case strings.HasSuffix(n, ".csv"):
		return CSV, true
	}
	return "", false
}
