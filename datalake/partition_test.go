package datalake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPartitionDir(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	got := PartitionDir(time.Date(2026, 1, 2, 0, 30, 0, 0, loc))
	if got != "dt=2026-01-01/hr=23" {
		t.Fatalf("PartitionDir = %s, want the UTC hour dt=2026-01-01/hr=23", got)
	}
}

func TestSelectFiles(t *testing.T) {
	l := newTestLake(t)
	last := testNow.Truncate(time.Hour) // 2026-01-02 13:00
	hourFiles(t, l, "/tetration/flows", last, 72)
	// A future hour (clock skew of a writer) is not LASTHOUR.
	touch(t, l, "tetration/flows/"+PartitionDir(last.Add(2*time.Hour))+"/part-0.parquet")
	// Writers other than ours: unpadded hour, a second file, markers, a
	// temporary file being published.
	touch(t, l, "tetration/flows/dt=2026-01-02/hr=5/data_0.parquet")
	touch(t, l, "tetration/flows/dt=2026-01-02/hr=12/part-1.parquet")
	touch(t, l, "tetration/flows/dt=2026-01-02/hr=12/_SUCCESS")
	touch(t, l, "tetration/flows/dt=2026-01-02/hr=12/.part-2.parquet.tmp")
	touch(t, l, "tetration/flows/dt=2026-01-02/hr=12/part-3.json")

	tests := []struct {
		name      string
		rng       string
		hours     []string // stamps
		files     int
		maxListed int // folders opened
	}{
		{"lasthour", "LASTHOUR", []string{"202601021300"}, 1, 6},
		{"last 3 hours", "LAST 3 HOURS", []string{"202601021100", "202601021200", "202601021300"}, 4, 8},
		{"one hour", "202601021200", []string{"202601021200"}, 2, 5},
		{"unpadded hour", "202601020500", []string{"202601020500"}, 2, 5},
		{"hour parts", "2026010212*", []string{"202601021200"}, 2, 5},
		{"span across days", "202601012300-202601020000", []string{"202601012300", "202601020000"}, 2, 6},
		{"day", "20260101*", nil, 24, 28},
		{"no match", "202512010000", nil, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var listed []string
			l.traceDir = func(rel string) { listed = append(listed, rel) }
			defer func() { l.traceDir = nil }()
			r, err := parseTimeRange(tt.rng, testNow)
			if err != nil {
				t.Fatal(err)
			}
			sel, err := l.selectFiles("/tetration/flows", Parquet, r)
			if err != nil {
				t.Fatal(err)
			}
			if len(sel.files) != tt.files {
				t.Errorf("%d files, want %d: %v", len(sel.files), tt.files, sel.files)
			}
			if tt.hours != nil {
				var got []string
				for _, h := range sel.hours {
					got = append(got, Stamp(h))
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.hours) {
					t.Errorf("hours %v, want %v", got, tt.hours)
				}
			}
			if len(listed) > tt.maxListed {
				t.Errorf("opened %d folders, want at most %d: %v", len(listed), tt.maxListed, listed)
			}
			for _, f := range sel.files {
				if strings.Contains(f.rel, "/.") || strings.Contains(f.rel, "_SUCCESS") || !strings.HasSuffix(f.rel, ".parquet") {
					t.Errorf("selected %s", f.rel)
				}
			}
		})
	}
	t.Run("other formats are counted", func(t *testing.T) {
		r, _ := parseTimeRange("202601021200", testNow)
		sel, err := l.selectFiles("/tetration/flows", JSON, r)
		if err != nil || len(sel.files) != 1 || sel.other[Parquet] != 2 {
			t.Fatalf("JSON in 12:00: %+v, %v", sel, err)
		}
	})
}

func TestListHours(t *testing.T) {
	l := newTestLake(t)
	touch(t, l, "appdata/x/dt=2026-01-02/hr=5/a.csv")
	touch(t, l, "appdata/x/dt=2026-01-02/hr=05/b.csv") // same hour, another writer
	touch(t, l, "appdata/x/dt=2026-01-01/hr=23/a.json")
	touch(t, l, "appdata/x/dt=2026-01-02/hr=07/.tmp-only.json.tmp") // nothing published yet
	touch(t, l, "appdata/x/dt=2026-01-02/hr=nope/a.json")
	touch(t, l, "appdata/x/dt=2026-13-02/hr=01/a.json")
	if err := os.MkdirAll(filepath.Join(l.Root(), "appdata/x/dt=2026-01-02/hr=09"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := l.IO().Hours("/appdata/x")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"202601012300", "202601020500"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Hours = %v, want %v", got, want)
	}
	if list := l.IO().List("/appdata/x"); fmt.Sprint(list) != fmt.Sprint(got) {
		t.Fatalf("List = %v, want %v", list, got)
	}
	t.Run("unknown path panics in List with the error", func(t *testing.T) {
		defer func() {
			err, _ := recover().(error)
			if !errors.Is(err, ErrUnknownPath) || !strings.Contains(err.Error(), "did you mean /appdata/x") {
				t.Fatalf("recovered %v", err)
			}
		}()
		l.IO().List("/appdata/y")
	})
}

func TestPublish(t *testing.T) {
	l := newTestLake(t)
	hour := time.Date(2026, 1, 2, 7, 45, 0, 0, time.UTC)
	p, err := l.Publish("/appdata/x", hour, "json", func(w io.Writer) error {
		_, err := io.WriteString(w, `{"a":1}`+"\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p, "/appdata/x/dt=2026-01-02/hr=07/part-") || !strings.HasSuffix(p, ".json") {
		t.Fatalf("published %s", p)
	}
	raw, err := os.ReadFile(filepath.Join(l.Root(), p))
	if err != nil || string(raw) != `{"a":1}`+"\n" {
		t.Fatalf("content %q, %v", raw, err)
	}

	t.Run("a failed write leaves nothing", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := l.Publish("/appdata/x", hour, "PARQUET", func(w io.Writer) error {
			io.WriteString(w, "half a file")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
		entries, _ := os.ReadDir(filepath.Join(l.Root(), "appdata/x/dt=2026-01-02/hr=07"))
		if len(entries) != 1 {
			t.Fatalf("folder holds %v", entries)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		if _, err := l.Publish("/appdata/../x", hour, "JSON", nil); !errors.Is(err, ErrPathRefused) {
			t.Errorf("traversal: %v", err)
		}
		if _, err := l.Publish("/appdata/x", hour, "XML", nil); !errors.Is(err, ErrBadFormat) {
			t.Errorf("format: %v", err)
		}
	})
	t.Run("concurrent publications never show partial files", func(t *testing.T) {
		const writers, each = 4, 20
		payload := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var bad []string
		var mu sync.Mutex
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, _ := parseTimeRange("ALL", testNow)
				sel, err := l.selectFiles("/appdata/blobs", Parquet, r)
				if err != nil {
					continue // the dataset folder may not exist yet
				}
				for _, f := range sel.files {
					raw, err := os.ReadFile(filepath.Join(l.Root(), f.rel))
					if err != nil || !bytes.Equal(raw, payload) {
						mu.Lock()
						bad = append(bad, f.rel)
						mu.Unlock()
					}
				}
			}
		}()
		var names sync.Map
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					p, err := l.Publish("/appdata/blobs", hour.Add(time.Duration(i%3)*time.Hour), "PARQUET", func(out io.Writer) error {
						_, err := out.Write(payload)
						return err
					})
					if err != nil {
						t.Error(w, i, err)
						return
					}
					if _, dup := names.LoadOrStore(p, true); dup {
						t.Errorf("name %s published twice", p)
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		<-readerDone
		if len(bad) > 0 {
			sort.Strings(bad)
			t.Fatalf("readers saw partial files: %v", bad)
		}
		r, _ := parseTimeRange("ALL", testNow)
		sel, err := l.selectFiles("/appdata/blobs", Parquet, r)
		if err != nil || len(sel.files) != writers*each {
			t.Fatalf("%d files, %v", len(sel.files), err)
		}
	})
}

// TestHourListingsCached checks that an hour folder unchanged since it was
// listed is not listed again, and that a file added to it is seen.
func TestHourListingsCached(t *testing.T) {
	l := newTestLake(t)
	hour := testNow.Truncate(time.Hour)
	touch(t, l, "tetration/flows/"+PartitionDir(hour)+"/part-0.parquet")
	dir := filepath.Join(l.Root(), "tetration", "flows", filepath.FromSlash(PartitionDir(hour)))
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	r, err := parseTimeRange("LASTHOUR", testNow)
	if err != nil {
		t.Fatal(err)
	}
	listHour := func() (files int, listedHour bool) {
		t.Helper()
		var listed []string
		l.traceDir = func(rel string) { listed = append(listed, rel) }
		defer func() { l.traceDir = nil }()
		sel, err := l.selectFiles("/tetration/flows", Parquet, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range listed {
			if strings.HasSuffix(rel, "hr="+hour.Format("15")) {
				listedHour = true
			}
		}
		return len(sel.files), listedHour
	}
	if n, listed := listHour(); n != 1 || !listed {
		t.Fatalf("first read: %d files, hour folder listed %v", n, listed)
	}
	if n, listed := listHour(); n != 1 || listed {
		t.Fatalf("second read: %d files, hour folder listed again %v", n, listed)
	}
	// A new file changes the folder's time: it is listed again and seen.
	touch(t, l, "tetration/flows/"+PartitionDir(hour)+"/part-1.parquet")
	if n, listed := listHour(); n != 2 || !listed {
		t.Fatalf("after a new file: %d files, hour folder listed %v", n, listed)
	}
	// A folder changed within the last seconds is listed every time.
	if n, listed := listHour(); n != 2 || !listed {
		t.Fatalf("recently changed folder: %d files, listed %v", n, listed)
	}
}
