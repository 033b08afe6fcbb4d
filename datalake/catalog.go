package datalake

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// The lake's catalog: what the Data Platform page and the App Options panel
// of the web UI show (docs/api.md, /api/lake). Everything here reads the
// lake; nothing writes it.

// MaxPreviewRows bounds Lake.Preview.
const MaxPreviewRows = 1000

// MaxPreviewCell is the longest text value, in bytes, that Lake.Preview
// returns whole; a longer one is cut at a character boundary and ends with
// a marker saying how much was left out. Binary values are cut the same
// way (without the marker's text, which they could not hold), so a preview
// answer stays bounded whatever the data holds.
const MaxPreviewCell = 1000

// maxCountedJSON is the largest JSON file whose lines Describe counts; a
// bigger one has an unknown row count rather than a slow listing.
const maxCountedJSON = 64 << 20

// DatasetSummary is one dataset as the catalog lists it: its lake path and
// what a listing of its folders tells without opening a file.
type DatasetSummary struct {
	// Path is the dataset's lake path, e.g. /tetration/flows.
	Path string `json:"path"`
	// Hours is how many hours hold at least one data file.
	Hours int `json:"hours"`
	// Oldest and Newest are the first and last of those hours as stamps
	// (YYYYMMDDHH00, UTC); empty for a dataset without data.
	Oldest string `json:"oldest"`
	Newest string `json:"newest"`
	// Formats are the formats of its files (PARQUET, JSON, CSV).
	Formats []Format `json:"formats"`
}

// HourInfo is one hour partition of a dataset.
type HourInfo struct {
	// Hour is the hour stamp (YYYYMMDDHH00, UTC), the time range that reads
	// exactly this hour.
	Hour string `json:"hour"`
	// Files and Bytes count the data files of the hour and their size.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Rows is the number of rows, or nil when it is unknown: Parquet files
	// give it in their footers; JSON files (one object per line) have their
	// lines counted when not compressed and at most 64 MiB; CSV files
	// (quoted fields may hold line breaks) and compressed files are not
	// counted.
	Rows *int64 `json:"rows"`
	// Formats are the formats of the hour's files.
	Formats []Format `json:"formats"`
}

// DatasetInfo describes one dataset: its hours with sizes and row counts.
type DatasetInfo struct {
	DatasetSummary
	// HourList lists the hours with data, oldest first.
	HourList []HourInfo `json:"hour_list"`
	// Files, Bytes and Rows total the hours; Rows is nil when any hour's
	// count is unknown.
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	Rows  *int64 `json:"rows"`
}

// Preview is the first rows of one hour of a dataset.
type Preview struct {
	// Path, Format and Hour say what was read: the dataset, the format and
	// the hour stamp.
	Path   string `json:"path"`
	Format Format `json:"format"`
	Hour   string `json:"hour"`
	// Columns is the schema of what was read (the file columns, then the
	// partition columns dt and hr).
	Columns Schema `json:"columns"`
	// Rows holds at most Limit rows, each a value per column; text longer
	// than MaxPreviewCell bytes is cut.
	Rows  [][]any `json:"rows"`
	Limit int     `json:"limit"`
}

// Datasets lists every dataset of the lake (folders under /tetration and
// /appdata holding dt= partitions), sorted by path, with what a listing of
// their folders tells. Safe for concurrent use.
func (l *Lake) Datasets() ([]DatasetSummary, error) {
	out := []DatasetSummary{}
	for _, p := range l.datasetPaths() {
		info, err := l.scan(nil, lakePath(p), false)
		if err != nil {
			return nil, err
		}
		out = append(out, info.DatasetSummary)
	}
	return out, nil
}

// Describe returns the hours of the dataset at path with their files,
// sizes and row counts. Parquet row counts come from the files' footers
// (read through the engine, once per file), so Describe never scans data.
// The footer reads stop when ctx ends. Errors wrap ErrPathRefused,
// ErrUnknownPath, ctx's error or the engine's error. Safe for concurrent
// use.
func (l *Lake) Describe(ctx context.Context, path string) (DatasetInfo, error) {
	p, err := l.dataset(path)
	if err != nil {
		return DatasetInfo{}, err
	}
	return l.scan(ctx, p, true)
}

// Preview reads the first limit rows (1 to MaxPreviewRows) of one hour of
// the dataset at path, in format (empty: the hour's Parquet files if it has
// any, else JSON, else CSV). hour is a stamp (YYYYMMDDHH00); empty means
// the newest hour. Text values longer than MaxPreviewCell are cut. The
// query stops when ctx ends. Errors wrap ErrPathRefused, ErrUnknownPath,
// ErrBadFormat, ErrBadTimeRange, ErrBadArgument, ErrNoData, ctx's error or
// the engine's error. Safe for concurrent use.
func (l *Lake) Preview(ctx context.Context, path, format, hour string, limit int) (Preview, error) {
	if limit < 1 || limit > MaxPreviewRows {
		return Preview{}, fmt.Errorf("preview %s: %w: limit %d: ask for 1 to %d rows", path, ErrBadArgument, limit, MaxPreviewRows)
	}
	pv, f, err := l.previewFrame(path, format, hour)
	if err != nil {
		return Preview{}, err
	}
	cols, err := frameSchema(ctx, f)
	if err != nil {
		return Preview{}, err
	}
	_, rows, err := f.Limit(limit).rows(ctx, ".Rows()")
	if err != nil {
		return Preview{}, err
	}
	if rows == nil {
		rows = [][]any{}
	}
	for _, row := range rows {
		for i, v := range row {
			row[i] = cutCell(v)
		}
	}
	pv.Columns, pv.Rows, pv.Limit = cols, rows, limit
	return pv, nil
}

// SchemaOf returns the columns of one hour of the dataset at path (format
// and hour as for Preview), reading only the files' metadata for Parquet.
// Errors are as for Preview. Safe for concurrent use.
func (l *Lake) SchemaOf(ctx context.Context, path, format, hour string) (Preview, error) {
	pv, f, err := l.previewFrame(path, format, hour)
	if err != nil {
		return Preview{}, err
	}
	cols, err := frameSchema(ctx, f)
	if err != nil {
		return Preview{}, err
	}
	pv.Columns, pv.Rows = cols, [][]any{}
	return pv, nil
}

// frameSchema is Frame.Schema stopping when ctx ends.
func frameSchema(ctx context.Context, f *Frame) (Schema, error) {
	n, l, err := f.snapshot()
	if err != nil {
		return nil, err
	}
	return l.schemaOf(ctx, n)
}

// cutCell cuts a preview value's text (nested ones too) to MaxPreviewCell
// bytes.
func cutCell(v any) any {
	switch x := v.(type) {
	case string:
		if len(x) <= MaxPreviewCell {
			return x
		}
		n := MaxPreviewCell
		for n > 0 && !utf8.RuneStart(x[n]) {
			n--
		}
		return fmt.Sprintf("%s… [cut: %d more bytes]", x[:n], len(x)-n)
	case []byte:
		if len(x) > MaxPreviewCell {
			return x[:MaxPreviewCell]
		}
	case []any:
		for i, e := range x {
			x[i] = cutCell(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = cutCell(e)
		}
	}
	return v
}

// previewFrame resolves the format and hour of a preview or schema request
// and returns the frame reading them.
func (l *Lake) previewFrame(path, format, hour string) (Preview, *Frame, error) {
	p, err := l.dataset(path)
	if err != nil {
		return Preview{}, nil, err
	}
	info, err := l.scan(nil, p, false)
	if err != nil {
		return Preview{}, nil, err
	}
	if len(info.HourList) == 0 {
		return Preview{}, nil, fmt.Errorf("%w: %s has no data files yet", ErrNoData, p)
	}
	h := info.HourList[len(info.HourList)-1]
	if hour != "" {
		t, err := parseStamp(strings.TrimSpace(hour))
		if err != nil {
			return Preview{}, nil, fmt.Errorf("%w: %v", ErrBadTimeRange, err)
		}
		i := sort.Search(len(info.HourList), func(i int) bool { return info.HourList[i].Hour >= Stamp(t) })
		if i == len(info.HourList) || info.HourList[i].Hour != Stamp(t) {
			return Preview{}, nil, fmt.Errorf("%w: %s has no data in hour %s (its hours run from %s to %s)", ErrNoData, p, Stamp(t), info.Oldest, info.Newest)
		}
		h = info.HourList[i]
	}
	var f Format
	if format == "" {
		f = h.Formats[0]
	} else if f, err = parseFormat(format); err != nil {
		return Preview{}, nil, err
	}
	return Preview{Path: string(p), Format: f, Hour: h.Hour}, l.IO().Read(string(p), string(f), h.Hour), nil
}

// dataset validates a dataset path as IO.Read does.
func (l *Lake) dataset(path string) (lakePath, error) {
	p, err := parseLakePath(path, l.hostRoot)
	if err != nil {
		return "", err
	}
	if err := l.checkDataset(p); err != nil {
		return "", err
	}
	return p, nil
}

// scan lists the hours of dataset p with their files and formats, and,
// when detail is set, their sizes and row counts (engine reads stop when
// ctx ends). Without detail it opens and stats no data file, so listing
// every dataset costs only the folder listings.
func (l *Lake) scan(ctx context.Context, p lakePath, detail bool) (DatasetInfo, error) {
	info := DatasetInfo{DatasetSummary: DatasetSummary{Path: string(p), Formats: []Format{}}, HourList: []HourInfo{}}
	days, err := l.days(p.rel())
	if err != nil {
		return info, fmt.Errorf("list %s: %w", p, err)
	}
	var files []dataFile
	var perHour [][]dataFile
	for _, d := range days {
		hs, err := l.hours(d)
		if err != nil {
			return info, fmt.Errorf("list %s: %w", p, err)
		}
		for _, h := range hs {
			fs, err := l.files(h)
			if err != nil {
				return info, fmt.Errorf("list %s: %w", p, err)
			}
			if len(fs) == 0 {
				continue
			}
			stamp := Stamp(h.hour)
			if n := len(info.HourList); n > 0 && info.HourList[n-1].Hour == stamp {
				// hr=5 and hr=05 of one hour: one entry.
				perHour[n-1] = append(perHour[n-1], fs...)
			} else {
				info.HourList = append(info.HourList, HourInfo{Hour: stamp, Formats: []Format{}})
				perHour = append(perHour, fs)
			}
			files = append(files, fs...)
		}
	}
	var counts map[string]int64
	if detail {
		if counts, err = l.rowCounts(ctx, files); err != nil {
			return info, fmt.Errorf("count the rows of %s: %w", p, err)
		}
	}
	seen := map[Format]bool{}
	var total int64
	totalKnown := detail
	for i := range info.HourList {
		hi := &info.HourList[i]
		var n int64
		known := detail
		fmts := map[Format]bool{}
		for _, f := range perHour[i] {
			if detail {
				if l.traceStat != nil {
					l.traceStat(f.rel)
				}
				fi, err := l.root.Stat(f.rel)
				if err != nil {
					return info, fmt.Errorf("stat %s: %w", f.rel, err)
				}
				hi.Bytes += fi.Size()
			}
			hi.Files++
			fmts[f.format] = true
			seen[f.format] = true
			if c, ok := counts[f.rel]; ok {
				n += c
			} else {
				known = false
			}
		}
		for _, f := range formats {
			if fmts[f] {
				hi.Formats = append(hi.Formats, f)
			}
		}
		if known {
			hi.Rows = &n
			total += n
		} else {
			totalKnown = false
		}
		info.Files += hi.Files
		info.Bytes += hi.Bytes
	}
	if totalKnown {
		info.Rows = &total
	}
	for _, f := range formats {
		if seen[f] {
			info.Formats = append(info.Formats, f)
		}
	}
	info.Hours = len(info.HourList)
	if info.Hours > 0 {
		info.Oldest, info.Newest = info.HourList[0].Hour, info.HourList[info.Hours-1].Hour
	}
	return info, nil
}

// rowCountCache remembers the row count of each data file: published files
// never change, so each is counted once per lake.
type rowCountCache struct {
	mu sync.Mutex
	n  map[string]int64 // file path relative to the root -> rows
}

// rowCounts returns the row count of each file that can be counted cheaply
// (see HourInfo.Rows); files missing from the answer have unknown counts.
func (l *Lake) rowCounts(ctx context.Context, files []dataFile) (map[string]int64, error) {
	c := &l.counts
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	out := map[string]int64{}
	var parquet []string
	var jsonFiles []string
	for _, f := range files {
		if n, ok := c.n[f.rel]; ok {
			out[f.rel] = n
			continue
		}
		switch {
		case f.format == Parquet:
			parquet = append(parquet, f.rel)
		case f.format == JSON && !compressedName(f.rel):
			jsonFiles = append(jsonFiles, f.rel)
		}
	}
	c.mu.Unlock()
	found := map[string]int64{}
	if len(parquet) > 0 {
		n, err := l.parquetRowCounts(ctx, parquet)
		if err != nil {
			return nil, err
		}
		for k, v := range n {
			found[k] = v
		}
	}
	for _, rel := range jsonFiles {
		n, ok, err := l.countLines(rel)
		if err != nil {
			return nil, err
		}
		if ok {
			found[rel] = n
		}
	}
	c.mu.Lock()
	for k, v := range found {
		c.n[k] = v
		out[k] = v
	}
	c.mu.Unlock()
	return out, nil
}

// compressedName reports whether a data file's name says it is compressed.
func compressedName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".gz") || strings.HasSuffix(n, ".zst")
}

// parquetRowCounts reads the row counts of Parquet files from their
// footers, through the engine, in batches, stopping when ctx ends.
func (l *Lake) parquetRowCounts(caller context.Context, rels []string) (map[string]int64, error) {
	eng, ctx, done, err := l.engineFor(caller)
	if err != nil {
		return nil, err
	}
	defer done()
	out := make(map[string]int64, len(rels))
	prefix := l.hostRoot + "/"
	for start := 0; start < len(rels); start += 500 {
		batch := rels[start:min(start+500, len(rels))]
		files, err := l.hostPathList(batch)
		if err != nil {
			return nil, err
		}
		rows, err := eng.Query(ctx, "SELECT file_name, num_rows FROM parquet_file_metadata("+files+")")
		if err != nil {
			if caller != nil && caller.Err() != nil {
				return nil, fmt.Errorf("read Parquet footers: %w", caller.Err())
			}
			return nil, fmt.Errorf("%w: read Parquet footers: %w", ErrCorruptFile, err)
		}
		for rows.Next() {
			var file string
			var n int64
			if err := rows.Scan(&file, &n); err != nil {
				rows.Close()
				return nil, err
			}
			rel, ok := strings.CutPrefix(file, prefix)
			if !ok {
				rows.Close()
				return nil, fmt.Errorf("parquet_file_metadata named %q, outside the lake", file)
			}
			out[rel] = n
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// countLines counts the non-empty lines of a JSON-lines file; ok is false
// for files too big to count on a listing.
func (l *Lake) countLines(rel string) (n int64, ok bool, err error) {
	f, err := l.root.Open(rel)
	if err != nil {
		return 0, false, fmt.Errorf("open %s: %w", rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("stat %s: %w", rel, err)
	}
	if fi.Size() > maxCountedJSON {
		return 0, false, nil
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: read on to its end.
			for err == bufio.ErrBufferFull {
				_, err = r.ReadSlice('\n')
			}
		}
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("read %s: %w", rel, err)
		}
	}
}
