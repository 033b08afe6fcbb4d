package datalake

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PartitionDir returns the folder of the hour partition holding t, relative
// to its dataset: "dt=YYYY-MM-DD/hr=HH" (UTC, hour zero-padded).
func PartitionDir(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("dt=%s/hr=%02d", t.Format("2006-01-02"), t.Hour())
}

// parseDay parses a "dt=YYYY-MM-DD" folder name.
func parseDay(name string) (time.Time, bool) {
	v, ok := strings.CutPrefix(name, "dt=")
	if !ok {
		return time.Time{}, false
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, false
	}
	return d.UTC(), true
}

// parseHour parses an "hr=H" or "hr=HH" folder name; DuckDB and Spark write
// the hour unpadded, this package pads it.
func parseHour(name string) (int, bool) {
	v, ok := strings.CutPrefix(name, "hr=")
	if !ok || len(v) == 0 || len(v) > 2 || !allDigits(v) {
		return 0, false
	}
	h, _ := strconv.Atoi(v)
	return h, h < 24
}

// hourDir is one hour partition folder of a dataset.
type hourDir struct {
	hour time.Time // UTC
	rel  string    // relative to the lake root, with the folder names as found
}

// dayDir is one day folder of a dataset.
type dayDir struct {
	day time.Time
	rel string
}

// days lists the day folders of dataset rel, oldest first.
func (l *Lake) days(rel string) ([]dayDir, error) {
	entries, err := l.readDir(rel)
	if err != nil {
		return nil, err
	}
	var out []dayDir
	for _, e := range entries {
		d, ok := parseDay(e.Name())
		if ok && isDirEntry(l.root, rel, e) {
			out = append(out, dayDir{d, path.Join(rel, e.Name())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].day.Before(out[j].day) || (out[i].day.Equal(out[j].day) && out[i].rel < out[j].rel)
	})
	return out, nil
}

// hours lists the hour folders of one day folder, oldest first. Both hr=5
// and hr=05 may exist (two writers); both are returned.
func (l *Lake) hours(d dayDir) ([]hourDir, error) {
	entries, err := l.readDir(d.rel)
	if err != nil {
		return nil, err
	}
	var out []hourDir
	for _, e := range entries {
		h, ok := parseHour(e.Name())
		if ok && isDirEntry(l.root, d.rel, e) {
			out = append(out, hourDir{d.day.Add(time.Duration(h) * time.Hour), path.Join(d.rel, e.Name())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].hour.Before(out[j].hour) || (out[i].hour.Equal(out[j].hour) && out[i].rel < out[j].rel)
	})
	return out, nil
}

// dataFile is one published data file.
type dataFile struct {
	rel    string // relative to the lake root
	format Format
}

// files lists the data files of an hour folder, in name order, skipping
// hidden files (temporary files being published, markers) and anything that
// is not a data file.
func (l *Lake) files(h hourDir) ([]dataFile, error) {
	// An hour folder whose modification time has not changed holds the
	// same files: a file appearing, going or being renamed in it changes
	// the folder's time. Folders changed in the last seconds are listed
	// again, in case the file system's clock is coarse.
	fi, statErr := l.root.Stat(h.rel)
	if statErr == nil {
		if files, ok := l.listings.get(h.rel, fi.ModTime(), time.Now()); ok {
			return files, nil
		}
	}
	entries, err := l.readDir(h.rel)
	if err != nil {
		return nil, err
	}
	var out []dataFile
	for _, e := range entries {
		name := e.Name()
		if hiddenName(name) {
			continue
		}
		f, ok := formatOfFile(name)
		if ok && isFileEntry(l.root, h.rel, e) {
			out = append(out, dataFile{path.Join(h.rel, name), f})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	if statErr == nil {
		l.listings.put(h.rel, fi.ModTime(), out)
	}
	return out, nil
}

// listingCache keeps the data files of hour folders by the folder's
// modification time, so reading a month of hours does not list 720 folders
// each time. Safe for concurrent use.
type listingCache struct {
	mu sync.Mutex
	m  map[string]listing
}

type listing struct {
	mtime time.Time
	files []dataFile
}

// settle is how old a folder's modification time must be for its listing to
// be reused.
const settle = 2 * time.Second

func (c *listingCache) get(rel string, mtime, now time.Time) ([]dataFile, bool) {
	if now.Sub(mtime) < settle {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[rel]
	if !ok || !e.mtime.Equal(mtime) {
		return nil, false
	}
	return e.files, true
}

func (c *listingCache) put(rel string, mtime time.Time, files []dataFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]listing{}
	}
	c.m[rel] = listing{mtime: mtime, files: files}
}

// selection is what a time range picked in a dataset.
type selection struct {
	hours []time.Time    // distinct hours with files of the format, oldest first
	files []dataFile     // files of the format
	other map[Format]int // files of other formats in the picked hours
}

// selectFiles lists the files of format f in the hours of dataset p that r
// picks. Only the day folders that can hold a picked hour are listed, and
// only the hour folders that are picked are opened; a "last" range lists
// days newest first and stops once it has its hours.
func (l *Lake) selectFiles(p lakePath, f Format, r timeRange) (selection, error) {
	days, err := l.days(p.rel())
	if err != nil {
		return selection{}, fmt.Errorf("list %s: %w", p, err)
	}
	sel := selection{other: map[Format]int{}}
	var picked []hourDir
	add := func(h hourDir) (bool, error) {
		files, err := l.files(h)
		if err != nil {
			return false, fmt.Errorf("list %s/%s: %w", p, strings.TrimPrefix(h.rel, p.rel()+"/"), err)
		}
		found := false
		for _, df := range files {
			if df.format == f {
				sel.files = append(sel.files, df)
				found = true
			} else {
				sel.other[df.format]++
			}
		}
		if found {
			picked = append(picked, h)
		}
		return found, nil
	}
	if r.kind == rangeLast {
		now := l.now().UTC().Truncate(time.Hour)
		// The anchor is the newest hour with files of the format; without
		// one, the newest hour with any data, so the error can name the
		// formats the dataset holds.
		var anchor, fallback time.Time
	anchorSearch:
		for i := len(days) - 1; i >= 0; i-- {
			if days[i].day.After(now) {
				continue
			}
			hs, err := l.hours(days[i])
			if err != nil {
				return selection{}, fmt.Errorf("list %s: %w", p, err)
			}
			for j := len(hs) - 1; j >= 0; j-- {
				if hs[j].hour.After(now) {
					continue
				}
				ok, any, err := l.hasFormat(hs[j], f)
				if err != nil {
					return selection{}, err
				}
				if ok {
					anchor = hs[j].hour
					break anchorSearch
				}
				if any && fallback.IsZero() {
					fallback = hs[j].hour
				}
			}
		}
		if anchor.IsZero() {
			anchor = fallback
		}
		if anchor.IsZero() {
			return sel, nil
		}
		r = timeRange{kind: rangeSpan, from: anchor.Add(-time.Duration(r.n-1) * time.Hour), to: anchor}
	}
	for _, d := range days {
		if !r.dayMayContain(d.day) {
			continue
		}
		hs, err := l.hours(d)
		if err != nil {
			return selection{}, fmt.Errorf("list %s: %w", p, err)
		}
		for _, h := range hs {
			if !r.contains(h.hour) {
				continue
			}
			if _, err := add(h); err != nil {
				return selection{}, err
			}
		}
	}
	for _, h := range picked {
		if n := len(sel.hours); n == 0 || !sel.hours[n-1].Equal(h.hour) {
			sel.hours = append(sel.hours, h.hour)
		}
	}
	return sel, nil
}

// hasFormat reports whether an hour folder holds a file of format f, and
// whether it holds any data file.
func (l *Lake) hasFormat(h hourDir, f Format) (ok, any bool, err error) {
	files, err := l.files(h)
	if err != nil {
		return false, false, err
	}
	for _, df := range files {
		if df.format == f {
			return true, true, nil
		}
	}
	return false, len(files) > 0, nil
}

// listHours returns the distinct hours of dataset p that hold at least one
// data file (any format), oldest first.
func (l *Lake) listHours(p lakePath) ([]time.Time, error) {
	days, err := l.days(p.rel())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p, err)
	}
	var out []time.Time
	for _, d := range days {
		hs, err := l.hours(d)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", p, err)
		}
		for _, h := range hs {
			files, err := l.files(h)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", p, err)
			}
			if len(files) == 0 {
				continue
			}
			if n := len(out); n == 0 || !out[n-1].Equal(h.hour) {
				out = append(out, h.hour)
			}
		}
	}
	return out, nil
}

// Publish writes one data file into the hour partition of dataset that holds
// hour, atomically: write calls back with a buffered writer on a hidden
// temporary file in the partition folder; the file is then flushed, fsynced,
// renamed to part-<time>-<random>.<ext> and the folder fsynced. Readers list
// only non-hidden files, so they see the whole file or nothing. Folders are
// created as needed. It returns the lake path of the published file.
//
// Publish is for trusted writers (ingest, demo data, the Parquet writer): it
// does not apply the read-only rule for system datasets that IO.Write applies
// to cells. It is safe for concurrent use; concurrent publications into the
// same hour get distinct file names. It returns errors wrapping
// ErrPathRefused or ErrBadFormat for bad arguments, and the error of write or
// of the file system otherwise, after removing the temporary file.
func (l *Lake) Publish(dataset string, hour time.Time, format string, write func(w io.Writer) error) (string, error) {
	p, err := parseLakePath(dataset, l.hostRoot)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	f, err := parseFormat(format)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	tmp, final, err := l.reserve(p, hour, f)
	if err != nil {
		return "", err
	}
	file, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", p, err)
	}
	bw := bufio.NewWriterSize(file, 1<<20)
	werr := write(bw)
	if werr == nil {
		werr = bw.Flush()
	}
	if werr == nil {
		werr = file.Sync()
	}
	if cerr := file.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = l.root.Remove(tmp)
		return "", fmt.Errorf("publish %s: %w", p, werr)
	}
	return l.commit(tmp, final)
}

// reserve creates the partition folder of hour and returns a temporary and a
// final file name in it, relative to the root.
func (l *Lake) reserve(p lakePath, hour time.Time, f Format) (tmp, final string, err error) {
	dir := path.Join(p.rel(), PartitionDir(hour))
	if err := l.root.MkdirAll(dir, 0o755); err != nil {
		if isEscape(err) {
			return "", "", fmt.Errorf("publish %s: %w: a symbolic link in it points outside the lake", p, ErrPathRefused)
		}
		return "", "", fmt.Errorf("publish %s: %w", p, err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", "", fmt.Errorf("publish %s: %w", p, err)
	}
	name := fmt.Sprintf("part-%s-%s%s", l.now().UTC().Format("20060102T150405.000000Z"), hex.EncodeToString(rnd[:]), f.ext())
	return path.Join(dir, "."+name+".tmp"), path.Join(dir, name), nil
}

// commit renames a complete, fsynced temporary file to its final name and
// fsyncs the folder so the rename survives a crash.
func (l *Lake) commit(tmp, final string) (string, error) {
	if err := l.root.Rename(tmp, final); err != nil {
		_ = l.root.Remove(tmp)
		return "", fmt.Errorf("publish %s: %w", "/"+final, err)
	}
	if d, err := l.root.Open(path.Dir(final)); err == nil {
		serr := d.Sync()
		d.Close()
		if serr != nil && !errors.Is(serr, fs.ErrInvalid) {
			return "", fmt.Errorf("publish %s: sync folder: %w", "/"+final, serr)
		}
	}
	return "/" + final, nil
}
