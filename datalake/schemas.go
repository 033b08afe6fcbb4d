package datalake

import (
	"fmt"
	"strings"
	"sync"
)

// schemaCache remembers the Parquet schema of each data file. Published
// files never change (a partition file appears once, under a fresh name), so
// a file's schema is read from its footer once per lake.
type schemaCache struct {
	mu  sync.Mutex
	sig map[string]string // file path relative to the root -> schema signature
}

// parquetSchemasAgree reports whether the Parquet files all have one schema:
// the same columns with the same types, in the same order. Only then may the
// engine read them without union_by_name, which matches columns by name per
// file and costs more than the scan itself on hundreds of files
// (BENCHMARKS.md). Any doubt (an engine error, a file missing from the
// answer) reports false, so the slower, always-correct read is used.
func (l *Lake) parquetSchemasAgree(files []dataFile) bool {
	l.schemas.mu.Lock()
	if l.schemas.sig == nil {
		l.schemas.sig = map[string]string{}
	}
	var missing []string
	for _, f := range files {
		if _, ok := l.schemas.sig[f.rel]; !ok {
			missing = append(missing, f.rel)
		}
	}
	l.schemas.mu.Unlock()
	if len(missing) > 0 {
		sigs, err := l.readParquetSchemas(missing)
		if err != nil {
			l.log.Debug("datalake schema check failed; reading by column name", "err", err)
			return false
		}
		l.schemas.mu.Lock()
		for rel, s := range sigs {
			l.schemas.sig[rel] = s
		}
		l.schemas.mu.Unlock()
	}
	l.schemas.mu.Lock()
	defer l.schemas.mu.Unlock()
	first, ok := l.schemas.sig[files[0].rel]
	if !ok {
		return false
	}
	for _, f := range files[1:] {
		if s, ok := l.schemas.sig[f.rel]; !ok || s != first {
			return false
		}
	}
	return true
}

// readParquetSchemas returns the schema signature of each file, read from
// the Parquet footers by the engine, in the footers' column order.
func (l *Lake) readParquetSchemas(rels []string) (map[string]string, error) {
	eng, ctx, err := l.engine()
	if err != nil {
		return nil, err
	}
	files, err := l.hostPathList(rels)
	if err != nil {
		return nil, err
	}
	rows, err := eng.Query(ctx, "SELECT file_name, name, coalesce(type, ''), coalesce(logical_type, ''), coalesce(repetition_type, ''), coalesce(num_children, 0) FROM parquet_schema("+files+")")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	parts := map[string]*strings.Builder{}
	prefix := l.hostRoot + "/"
	for rows.Next() {
		var file, name, typ, logical, repetition string
		var children int64
		if err := rows.Scan(&file, &name, &typ, &logical, &repetition, &children); err != nil {
			return nil, err
		}
		rel, ok := strings.CutPrefix(file, prefix)
		if !ok {
			return nil, fmt.Errorf("parquet_schema named %q, outside the lake", file)
		}
		sb := parts[rel]
		if sb == nil {
			sb = &strings.Builder{}
			parts[rel] = sb
		}
		fmt.Fprintf(sb, "%s %s %s %s %d;", name, typ, logical, repetition, children)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(parts))
	for rel, sb := range parts {
		out[rel] = sb.String()
	}
	return out, nil
}

// hostPathList is the files at rels (lake-relative) as a DuckDB list
// literal of their host paths, for DuckDB's parquet_* table functions.
func (l *Lake) hostPathList(rels []string) (string, error) {
	var b strings.Builder
	b.WriteByte('[')
	for i, rel := range rels {
		if i > 0 {
			b.WriteString(", ")
		}
		q, err := quoteString(l.hostRoot + "/" + rel)
		if err != nil {
			return "", err
		}
		b.WriteString(q)
	}
	b.WriteByte(']')
	return b.String(), nil
}
