//go:build !kernelonly

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// crashNotebooks are the notebooks the crash test saves, one writer each.
var crashNotebooks = []string{"admin/crash-0.ipynb", "admin/crash-1.ipynb", "admin/deep/crash-2.ipynb", "admin/crash 3.ipynb"}

// crashNotebook is version v of notebook i: 4 to 256 KiB growing with v
// (and starting over every 64 versions), every cell saying which notebook
// and version it belongs to, so a file mixing two versions cannot pass for
// either.
func crashNotebook(i, v int) map[string]any {
	line := fmt.Sprintf("// notebook %d version %d\n", i, v)
	cells := []any{}
	for c := 0; c <= v%64; c++ {
		cells = append(cells, map[string]any{
			"cell_type": "code", "id": fmt.Sprintf("c%d", c), "metadata": map[string]any{},
			"execution_count": nil, "outputs": []any{},
			"source": strings.Repeat(line, 4096/len(line)),
		})
	}
	return map[string]any{
		"nbformat": 4, "nbformat_minor": 5, "cells": cells,
		"metadata": map[string]any{"crash_test": map[string]any{"notebook": i, "version": v}},
	}
}

// crashWriter saves one notebook in a loop, a new version each time, and
// remembers which versions the server acknowledged and which one was in
// flight when the connection broke.
type crashWriter struct {
	i       int
	path    string
	next    int // the next version to send
	acked   int // the last version the server answered 2xx for (0: none)
	flight  int // the version sent without an answer (0: none)
	puts    int // acknowledged saves over the whole test
	failure error
}

// run saves until a request fails; a failure that is not the server
// going away (an error status) is kept in failure.
func (w *crashWriter) run(ctx context.Context, client *http.Client, url, token string) {
	for ctx.Err() == nil {
		v := w.next
		body, _ := json.Marshal(map[string]any{"type": "notebook", "format": "json", "content": crashNotebook(w.i, v)})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url+"/api/contents/"+w.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "token "+token)
		w.flight = v
		w.next++
		resp, err := client.Do(req)
		if err != nil {
			return // killed: v may or may not have landed
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			w.failure = fmt.Errorf("PUT %s version %d: %s", w.path, v, resp.Status)
			return
		}
		w.acked, w.flight = v, 0
		w.puts++
	}
}

// storedVersion reads the notebook's file and returns its version, checking
// that the whole file is exactly that version's content.
func storedVersion(data []byte, i int) (int, error) {
	if len(data) == 0 {
		return 0, errors.New("empty file")
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		return 0, fmt.Errorf("not JSON (%d bytes): %v", len(data), err)
	}
	meta, _ := got["metadata"].(map[string]any)
	ct, _ := meta["crash_test"].(map[string]any)
	vf, ok := ct["version"].(float64)
	if !ok {
		return 0, fmt.Errorf("no metadata.crash_test.version in %.200s", data)
	}
	v := int(vf)
	var want map[string]any
	b, _ := json.Marshal(crashNotebook(i, v))
	json.Unmarshal(b, &want)
	if !reflect.DeepEqual(got, want) {
		return v, fmt.Errorf("says version %d but its content is not that version's", v)
	}
	return v, nil
}

// TestServeCrashSafety saves notebooks through PUT /api/contents from
// several goroutines while `flowlab serve` is SIGKILLed at random moments
// (during start-up too) and restarted on the same data directory, hundreds
// of times; two servers on two data directories take turns with the CPU, so
// more kills fit in the time. After every kill each notebook file must be
// valid JSON holding exactly its last acknowledged version or the one in
// flight (never a mix, never empty, never an older one), the restarted
// server must serve that same version, and a last clean start must leave no
// temporary file behind.
func TestServeCrashSafety(t *testing.T) {
	kills, budget := 300, 50*time.Second
	if testing.Short() {
		kills, budget = 25, 8*time.Second
	}
	bin := flowlabtest.Binary(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	lanes := make([]*crashLane, 2)
	start := time.Now()
	var wg sync.WaitGroup
	for n := range lanes {
		l := &crashLane{t: t, bin: bin, dataDir: t.TempDir(), rng: rand.New(rand.NewPCG(seed, uint64(n)))}
		lanes[n] = l
		wg.Add(1)
		go func() { defer wg.Done(); l.run(kills/len(lanes), start.Add(budget)) }()
	}
	wg.Wait()
	var total crashStats
	for _, l := range lanes {
		total.rounds += l.stats.rounds
		total.duringStart += l.stats.duringStart
		total.inFlight += l.stats.inFlight
		total.newLanded += l.stats.newLanded
		total.oldKept += l.stats.oldKept
		for _, w := range l.writers {
			total.puts += w.puts
		}
	}
	t.Logf("%d kills in %v (%d during start-up), %d saves acknowledged; at the kills %d saves were in flight: %d landed, %d left the old version",
		total.rounds, time.Since(start).Round(time.Millisecond), total.duringStart, total.puts, total.inFlight, total.newLanded, total.oldKept)
	if t.Failed() {
		return
	}
	if min := kills / 3; total.rounds < min {
		t.Errorf("only %d kills in %v; want at least %d (the machine is too slow or the server starts too slowly)", total.rounds, budget, min)
	}
	if total.inFlight == 0 || total.puts == 0 {
		t.Errorf("no kill met a save in flight, or no save was acknowledged; the test proves nothing")
	}
	if !testing.Short() && (total.newLanded == 0 || total.oldKept == 0) {
		t.Errorf("the kills did not land both before and after a save's rename; the test proves too little")
	}
	for _, l := range lanes {
		l.finalStart()
	}
}

// crashStats counts what the kills met.
type crashStats struct {
	rounds, duringStart int // kills, and those before the server listened
	inFlight            int // saves sent but unanswered at a kill
	newLanded, oldKept  int // of those, found with the new or the old content
	puts                int // saves acknowledged
}

// crashLane is one data directory, its server and its writers.
type crashLane struct {
	t       *testing.T
	bin     string
	dataDir string
	rng     *rand.Rand
	client  *http.Client
	writers []*crashWriter
	stats   crashStats
}

const crashToken = "crash-test-token"

// run kills and restarts the lane's server until it has been killed kills
// times or the deadline passed, or a check failed.
func (l *crashLane) run(kills int, deadline time.Time) {
	t := l.t
	for i, p := range crashNotebooks {
		l.writers = append(l.writers, &crashWriter{i: i, path: p, next: 1})
	}
	l.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(l.writers)}}
	defer l.client.CloseIdleConnections()
	for l.stats.rounds < kills && time.Now().Before(deadline) {
		l.stats.rounds++
		p, err := launchServe(l.bin, l.dataDir, crashToken)
		if err != nil {
			t.Error(err)
			return
		}
		if l.rng.IntN(10) == 0 {
			// Kill it while it starts: opening the database, sweeping.
			time.Sleep(time.Duration(l.rng.IntN(30_000)) * time.Microsecond)
			p.kill()
			l.stats.duringStart++
			if !l.verify() {
				return
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		url, err := p.waitURL(ctx)
		cancel()
		if err != nil {
			p.kill()
			t.Errorf("round %d: restart after a kill: %v", l.stats.rounds, err)
			return
		}
		if !l.served(url) {
			p.kill()
			return
		}
		wctx, stopWriters := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, w := range l.writers {
			wg.Add(1)
			go func() { defer wg.Done(); w.run(wctx, l.client, url, crashToken) }()
		}
		time.Sleep(time.Duration(l.rng.IntN(120_000)) * time.Microsecond)
		p.kill()
		wg.Wait()
		stopWriters()
		l.client.CloseIdleConnections()
		for _, w := range l.writers {
			if w.failure != nil {
				t.Errorf("round %d: %v\n%s", l.stats.rounds, w.failure, p.logTail())
				return
			}
		}
		if !l.verify() {
			return
		}
	}
}

// verify checks the files after a kill against what the writers know, and
// makes what it found the writers' new baseline.
func (l *crashLane) verify() bool {
	ok := true
	for _, w := range l.writers {
		data, err := os.ReadFile(filepath.Join(l.dataDir, "notebooks", filepath.FromSlash(w.path)))
		if errors.Is(err, fs.ErrNotExist) && w.acked == 0 {
			w.flight = 0 // never saved yet: no file is right
			continue
		}
		if err != nil {
			l.t.Errorf("round %d: %s: %v", l.stats.rounds, w.path, err)
			ok = false
			continue
		}
		v, err := storedVersion(data, w.i)
		switch {
		case err != nil:
			l.t.Errorf("round %d: %s: %v (acknowledged %d, in flight %d)", l.stats.rounds, w.path, err, w.acked, w.flight)
			ok = false
		case v == w.acked && w.flight != 0:
			l.stats.oldKept++
		case v == w.flight && v != 0:
			l.stats.newLanded++
		case v != w.acked:
			l.t.Errorf("round %d: %s holds version %d; acknowledged %d, in flight %d", l.stats.rounds, w.path, v, w.acked, w.flight)
			ok = false
		}
		if w.flight != 0 {
			l.stats.inFlight++
		}
		w.acked, w.flight = v, 0
	}
	return ok
}

// served checks that a restarted server serves what verify found.
func (l *crashLane) served(url string) bool {
	for _, w := range l.writers {
		if w.acked == 0 {
			continue
		}
		req, _ := http.NewRequest(http.MethodGet, url+"/api/contents/"+w.path+"?content=1", nil)
		req.Header.Set("Authorization", "token "+crashToken)
		resp, err := l.client.Do(req)
		if err != nil {
			l.t.Errorf("round %d: GET %s: %v", l.stats.rounds, w.path, err)
			return false
		}
		var m struct {
			Content json.RawMessage `json:"content"`
		}
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			l.t.Errorf("round %d: GET %s: %s %v", l.stats.rounds, w.path, resp.Status, err)
			return false
		}
		if v, err := storedVersion(m.Content, w.i); err != nil || v != w.acked {
			l.t.Errorf("round %d: GET %s serves version %d (%v), the file holds %d", l.stats.rounds, w.path, v, err, w.acked)
			return false
		}
	}
	return true
}

// finalStart starts the server cleanly once more: it serves every notebook
// and has swept the temporary files the kills left.
func (l *crashLane) finalStart() {
	t := l.t
	p := startServe(t, l.bin, l.dataDir, crashToken)
	url, _ := p.waitURL(context.Background())
	l.client = &http.Client{}
	l.served(url)
	if err := p.stop(20 * time.Second); err != nil {
		t.Errorf("SIGTERM: %v\n%s", err, p.logTail())
	}
	filepath.WalkDir(filepath.Join(l.dataDir, "notebooks"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), "tmp") {
			t.Errorf("temporary file left after a clean start: %s", path)
		}
		return nil
	})
}
