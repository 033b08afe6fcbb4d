package datalake

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"unicode"
)

// Top-level folders of the lake. /tetration holds the system datasets
// (flows, packets) that cells read but never write; /appdata holds what apps
// and datasinks write.
const (
	systemNamespace = "tetration"
	appNamespace    = "appdata"
	maxPathLen      = 1024
	maxSegmentLen   = 255
)

// lakePath is a validated, cleaned lake path such as "/tetration/flows".
type lakePath string

// rel returns the path relative to the lake root ("tetration/flows").
func (p lakePath) rel() string { return strings.TrimPrefix(string(p), "/") }

// system reports whether p is a system dataset (read-only to cells).
func (p lakePath) system() bool {
	return p == "/"+systemNamespace || strings.HasPrefix(string(p), "/"+systemNamespace+"/")
}

// parseLakePath validates a lake path as a cell wrote it. hostRoot is the
// lake's directory on the host, so a host path pasted by mistake gets a
// precise message. Every refusal wraps ErrPathRefused and says why.
func parseLakePath(p, hostRoot string) (lakePath, error) {
	orig := p
	p = strings.TrimSpace(p)
	refuse := func(format string, args ...any) (lakePath, error) {
		return "", fmt.Errorf("%w: %q: %s", ErrPathRefused, orig, fmt.Sprintf(format, args...))
	}
	switch {
	case p == "":
		return refuse("empty path: use an absolute lake path such as %s", FlowsPath)
	case len(p) > maxPathLen:
		return refuse("longer than %d bytes", maxPathLen)
	case strings.ContainsRune(p, 0):
		return refuse("holds a NUL character, which no file name may contain")
	case strings.ContainsFunc(p, unicode.IsControl):
		return refuse("holds a control character (a stray newline or tab?)")
	case strings.ContainsRune(p, '\\'):
		return refuse(`holds a backslash: lake paths use "/" between folders`)
	case !strings.HasPrefix(p, "/"):
		return refuse("lake paths are absolute: did you mean %q?", "/"+p)
	}
	if hostRoot != "" && hostRoot != "/" && (p == hostRoot || strings.HasPrefix(p, hostRoot+"/")) {
		return refuse("this is a path on the host; lake paths start at the lake root, so use %q", "/"+strings.TrimLeft(strings.TrimPrefix(p, hostRoot), "/"))
	}
	var segs []string
	for _, s := range strings.Split(p, "/") {
		switch {
		case s == "":
			continue
		case s == "." || s == "..":
			return refuse("%q segments are not allowed: a lake path cannot leave its dataset tree", s)
		case len(s) > maxSegmentLen:
			return refuse("the folder name %.20q… is longer than %d bytes", s, maxSegmentLen)
		case strings.HasPrefix(s, ".") || strings.HasPrefix(s, "_"):
			return refuse("%q is hidden: names starting with '.' or '_' are reserved for temporary and internal files", s)
		case strings.Contains(s, "="):
			return refuse("%q is a partition folder; the time range chooses partitions, so read the dataset (%s) with a time range such as \"YYYYMMDDHH00\"", s, "/"+strings.Join(segs, "/"))
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return refuse("the lake root is not a dataset: use a path such as %s", FlowsPath)
	}
	if segs[0] != systemNamespace && segs[0] != appNamespace {
		return refuse("lake paths start with /%s/ or /%s/ (the lake is not the host file system)", systemNamespace, appNamespace)
	}
	return lakePath("/" + strings.Join(segs, "/")), nil
}

// statDir checks that p is a directory inside the root, following symbolic
// links only while they stay inside it.
func (l *Lake) statDir(p lakePath) (fs.FileInfo, error) {
	fi, err := l.root.Stat(p.rel())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if isEscape(err) {
			return nil, fmt.Errorf("%w: %q: a symbolic link in it points outside the lake", ErrPathRefused, string(p))
		}
		return nil, fmt.Errorf("%w: %q: %v", ErrPathRefused, string(p), err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %q is a file, not a dataset folder", ErrPathRefused, string(p))
	}
	return fi, nil
}

// isEscape reports whether err is os.Root refusing a path that leaves it.
// The standard library does not export that error, so its text is matched.
func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

// unknownPath builds the ErrUnknownPath error for p, suggesting the dataset
// paths nearest to it by edit distance.
func (l *Lake) unknownPath(p lakePath) error {
	all := l.datasetPaths()
	if len(all) == 0 {
		return fmt.Errorf("%w: %s: the lake has no datasets yet (generate the demo lake with `flowlab demo-data`, or ingest flows)", ErrUnknownPath, p)
	}
	// A folder of datasets gets the datasets below it.
	var below []string
	for _, d := range all {
		if strings.HasPrefix(d, string(p)+"/") {
			below = append(below, d)
		}
	}
	if len(below) > 0 {
		if len(below) > 5 {
			below = below[:5]
		}
		return fmt.Errorf("%w: %s is a folder of datasets, not a dataset: use %s", ErrUnknownPath, p, strings.Join(below, ", "))
	}
	return fmt.Errorf("%w: %s: no dataset there; did you mean %s?", ErrUnknownPath, p, strings.Join(nearest(string(p), all, 3), ", "))
}

// nearest returns up to n candidates closest to s by edit distance (ties in
// lexical order).
func nearest(s string, candidates []string, n int) []string {
	type scored struct {
		c string
		d int
	}
	sc := make([]scored, 0, len(candidates))
	for _, c := range candidates {
		sc = append(sc, scored{c, editDistance(strings.ToLower(s), strings.ToLower(c))})
	}
	sort.Slice(sc, func(i, j int) bool {
		if sc[i].d != sc[j].d {
			return sc[i].d < sc[j].d
		}
		return sc[i].c < sc[j].c
	})
	out := make([]string, 0, n)
	for i := 0; i < len(sc) && i < n; i++ {
		out = append(out, sc[i].c)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// datasetPaths lists every dataset in the lake: folders under the two
// namespaces that hold dt= partition folders. Hidden folders are skipped and
// the walk stops at a dataset, so its partitions are never listed.
func (l *Lake) datasetPaths() []string {
	var out []string
	var walk func(rel string, depth int)
	walk = func(rel string, depth int) {
		if depth > 8 {
			return
		}
		entries, err := l.readDir(rel)
		if err != nil {
			return
		}
		var sub []string
		for _, e := range entries {
			name := e.Name()
			if hiddenName(name) {
				continue
			}
			if _, ok := parseDay(name); ok {
				out = append(out, "/"+rel)
				return
			}
			if isDirEntry(l.root, rel, e) {
				sub = append(sub, name)
			}
		}
		for _, s := range sub {
			walk(path.Join(rel, s), depth+1)
		}
	}
	walk(systemNamespace, 1)
	walk(appNamespace, 1)
	sort.Strings(out)
	return out
}

// hiddenName reports whether a directory entry is hidden from readers: Spark,
// Hive and this package use a leading '.' or '_' for temporary files,
// markers (_SUCCESS) and internal folders (_demo).
func hiddenName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// readDir lists a directory inside the root.
func (l *Lake) readDir(rel string) ([]fs.DirEntry, error) {
	if rel == "" {
		rel = "."
	}
	if l.traceDir != nil {
		l.traceDir(rel)
	}
	f, err := l.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// isDirEntry reports whether e (in folder rel) is a directory, following a
// symbolic link only when it stays inside the root.
func isDirEntry(root *os.Root, rel string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := root.Stat(path.Join(rel, e.Name()))
	return err == nil && fi.IsDir()
}

// isFileEntry reports whether e (in folder rel) is a regular file, following
// a symbolic link only when it stays inside the root.
func isFileEntry(root *os.Root, rel string, e fs.DirEntry) bool {
	if e.Type().IsRegular() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := root.Stat(path.Join(rel, e.Name()))
	return err == nil && fi.Mode().IsRegular()
}
