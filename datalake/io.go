package datalake

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"
)

// IO is what cells use to read, list and write datasets of the default lake
// (set by Configure):
//
//	flows := IO.Read("/tetration/flows", "PARQUET", "LASTHOUR")
//	hours := IO.List("/appdata/datasink/DEVWKS-2612")
//	err := IO.Write(scans, "/appdata/portscan/scans", "PARQUET")
var IO = &LakeIO{}

// LakeIO reads, lists and writes the datasets of one lake. The package
// variable IO uses the default lake; Lake.IO binds one to a given lake. Its
// methods are safe for concurrent use.
type LakeIO struct {
	lake *Lake // nil: the default lake
}

func (io *LakeIO) target() (*Lake, error) {
	if io != nil && io.lake != nil {
		return io.lake, nil
	}
	if l := defaultLake.Load(); l != nil {
		return l, nil
	}
	return nil, wrapf(ErrNotConfigured, "no lake is open: start the kernel with --lake DIR or set FLOWLAB_LAKE")
}

// Read returns a lazy Frame over the hour partitions of the dataset at path
// that timeRange selects, in format (PARQUET, JSON or CSV, any case). The
// partitions are listed now (only the matching hour folders are opened);
// files are read when a terminal call runs. Hive partition columns dt (DATE)
// and hr (INTEGER) are added to the file's columns.
//
// Time ranges: LASTHOUR (the newest hour that has data, not after the
// current UTC hour), LASTDAY, LAST n HOURS (the n hours ending with that
// hour), YYYYMMDDHH00 (one hour), START-END (inclusive), YYYYMMDDHH* (every
// part of one hour; YYYYMMDD* for a day) and ALL.
//
// Read never panics: a problem travels with the frame and surfaces at the
// terminal call or when the frame renders. The errors wrap ErrNotConfigured,
// ErrPathRefused, ErrUnknownPath (with the nearest dataset paths),
// ErrBadFormat, ErrBadTimeRange (with the accepted forms) or ErrNoData.
func (io *LakeIO) Read(path, format, timeRange string) *Frame {
	call := callString("IO.Read", path, format, timeRange)
	l, err := io.target()
	if err != nil {
		return errFrame(nil, call, err)
	}
	n, err := l.readNode(call, path, format, timeRange)
	if err != nil {
		return errFrame(l, call, err)
	}
	return &Frame{lake: l, n: n}
}

func (l *Lake) readNode(call, path, format, timeRange string) (*node, error) {
	p, err := parseLakePath(path, l.hostRoot)
	if err != nil {
		return nil, err
	}
	f, err := parseFormat(format)
	if err != nil {
		return nil, err
	}
	r, err := parseTimeRange(timeRange, l.now())
	if err != nil {
		return nil, err
	}
	if err := l.checkDataset(p); err != nil {
		return nil, err
	}
	sel, err := l.selectFiles(p, f, r)
	if err != nil {
		return nil, err
	}
	if len(sel.files) == 0 {
		return nil, l.noFiles(p, f, r, sel)
	}
	var b strings.Builder
	switch f {
	case Parquet:
		b.WriteString("SELECT * FROM read_parquet([")
	case JSON:
		b.WriteString("SELECT * FROM read_json([")
	case CSV:
		b.WriteString("SELECT * FROM read_csv([")
	}
	for i, df := range sel.files {
		if i > 0 {
			b.WriteString(", ")
		}
		q, err := quoteString(l.hostRoot + "/" + df.rel)
		if err != nil {
			return nil, err
		}
		b.WriteString(q)
	}
	b.WriteString("], hive_partitioning = true, hive_types = {'dt': DATE, 'hr': INTEGER}")
	byName := f != Parquet // columns matched by name across files
	switch f {
	case JSON:
		b.WriteString(", format = 'newline_delimited', union_by_name = true")
	case CSV:
		b.WriteString(", header = true, union_by_name = true")
	case Parquet:
		byName = len(sel.hours) > 1 && !l.parquetSchemasAgree(sel.files)
		if byName {
			// Hours written by different tools or versions may differ in
			// their columns; within one hour they come from one writer.
			// Without union_by_name the engine would take the first file's
			// columns and drop, or fail on, the others'.
			b.WriteString(", union_by_name = true")
		}
	}
	b.WriteString(")")
	l.log.Debug("datalake read", "path", string(p), "format", string(f), "range", timeRange, "hours", len(sel.hours), "files", len(sel.files), "by_name", byName)
	return &node{call: call, desc: call, sql: b.String(), user: noSpan}, nil
}

// checkDataset returns nil when p is a dataset folder inside the lake (one
// holding day partitions, or an empty one), and ErrUnknownPath (with
// suggestions) for a missing path or a folder of datasets, or
// ErrPathRefused.
func (l *Lake) checkDataset(p lakePath) error {
	_, err := l.statDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return l.unknownPath(p)
	}
	if err != nil {
		return err
	}
	days, err := l.days(p.rel())
	if err != nil {
		return fmt.Errorf("list %s: %w", p, err)
	}
	if len(days) == 0 {
		for _, d := range l.datasetPaths() {
			if strings.HasPrefix(d, string(p)+"/") {
				return l.unknownPath(p)
			}
		}
	}
	return nil
}

// noFiles explains why a read found nothing.
func (l *Lake) noFiles(p lakePath, f Format, r timeRange, sel selection) error {
	if len(sel.other) > 0 {
		var have []string
		for of := range sel.other {
			have = append(have, string(of))
		}
		sort.Strings(have)
		return fmt.Errorf("%w: %s holds %s files, not %s, in the hours %s selects: use IO.Read(%q, %q, %q)",
			ErrBadFormat, p, strings.Join(have, " and "), f, r.text, string(p), have[0], r.text)
	}
	hours, err := l.listHours(p)
	if err != nil {
		return err
	}
	if len(hours) == 0 {
		return fmt.Errorf("%w: %s has no data files yet", ErrNoData, p)
	}
	cover := fmt.Sprintf("it holds %d hour(s) from %s to %s; IO.List(%q) lists them", len(hours), Stamp(hours[0]), Stamp(hours[len(hours)-1]), string(p))
	if r.kind == rangeLast {
		return fmt.Errorf("%w: %s has no %s files at or before the current hour %s: %s", ErrNoData, p, f, Stamp(l.now()), cover)
	}
	return fmt.Errorf("%w: no hour of %s matches %q: %s", ErrNoData, p, r.text, cover)
}

// List returns the hour stamps (YYYYMMDDHH00, UTC) of the dataset at path
// that hold data, oldest first, so the newest is hours[len(hours)-1]:
//
//	hours := IO.List("/appdata/datasink/DEVWKS-2612")
//	IO.Read("/appdata/datasink/DEVWKS-2612", "JSON", hours[len(hours)-1])
//
// List is written for cells, where a failure should stop the cell with a
// clear message rather than return an empty list that fails later with an
// index error: on error it panics with the error (which the kernel shows as
// the cell's error). Code that wants the error as a value calls Hours. Safe
// for concurrent use.
func (io *LakeIO) List(path string) []string {
	h, err := io.Hours(path)
	if err != nil {
		panic(err)
	}
	return h
}

// Hours is List returning its error: the hour stamps of the dataset at path
// that hold data, oldest first. The error wraps ErrNotConfigured,
// ErrPathRefused or ErrUnknownPath (with the nearest dataset paths). Safe
// for concurrent use.
func (io *LakeIO) Hours(path string) ([]string, error) {
	call := callString("IO.List", path)
	l, err := io.target()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	p, err := parseLakePath(path, l.hostRoot)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	if err := l.checkDataset(p); err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	hours, err := l.listHours(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	out := make([]string, len(hours))
	for i, h := range hours {
		out[i] = Stamp(h)
	}
	return out, nil
}

// Write runs frame and publishes its rows as one file in the current hour
// partition (by the lake clock) of the dataset at path, in format (PARQUET,
// JSON with one object per line, or CSV with a header). The file appears
// atomically. Cells may write only under /appdata: system datasets are
// read-only (ErrReadOnly) unless the kernel allowed system writes. The
// dataset folder is created if needed. Safe for concurrent use. Errors wrap
// ErrNotConfigured, ErrPathRefused, ErrReadOnly, ErrBadFormat, the frame's
// error, or ErrQuery.
func (io *LakeIO) Write(frame *Frame, path, format string) error {
	call := callString("IO.Write", frame, path, format)
	l, err := io.target()
	if err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	if err := l.write(frame, path, format); err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	return nil
}

func (l *Lake) write(frame *Frame, path, format string) error {
	p, err := parseLakePath(path, l.hostRoot)
	if err != nil {
		return err
	}
	if p.system() && !l.opts.AllowSystemWrites {
		return fmt.Errorf("%w: %s is a system dataset, which cells may read but not write: write under /appdata/<app>/..., for example /appdata/%s", ErrReadOnly, p, strings.TrimPrefix(string(p), "/"+systemNamespace+"/"))
	}
	f, err := parseFormat(format)
	if err != nil {
		return err
	}
	n, fl, err := frame.snapshot()
	if err != nil {
		return err
	}
	if fl != l {
		return wrapf(ErrBadArgument, "the frame belongs to another lake")
	}
	tmp, final, err := l.reserve(p, l.now().Truncate(time.Hour), f)
	if err != nil {
		return err
	}
	opts := map[Format]string{Parquet: "FORMAT PARQUET", JSON: "FORMAT JSON", CSV: "FORMAT CSV, HEADER true"}[f]
	dest, err := quoteString(l.hostRoot + "/" + tmp)
	if err != nil {
		return err
	}
	b := newBuilder().text("COPY ").sub(n).text(" TO " + dest + " (" + opts + ")")
	stmt := b.node(".Write", n.desc)
	if err := l.execInline(stmt); err != nil {
		_ = l.root.Remove(tmp)
		return err
	}
	// The engine wrote and closed the file; make it durable, then publish.
	if fh, err := l.root.OpenFile(tmp, os.O_RDWR, 0); err == nil {
		serr := fh.Sync()
		fh.Close()
		if serr != nil {
			_ = l.root.Remove(tmp)
			return fmt.Errorf("sync %s: %w", "/"+tmp, serr)
		}
	} else {
		return fmt.Errorf("the engine did not write %s: %w", "/"+tmp, err)
	}
	_, err = l.commit(tmp, final)
	return err
}
