package ingest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowlab/flowlab/datalake"
	"github.com/flowlab/flowlab/datalake/parquet"
)

// ledgerDir is the lake folder (hidden from datasets, which list only
// non-hidden files under their own folders) where ingest keeps its
// staging area and the ledger of the sources it finished.
const ledgerDir = ".ingest"

// stage is a parquet.Publisher that writes a source's files to a staging
// folder and moves them into the lake's partitions only on commit, under
// names derived from the source's key: so a source's records appear all
// at once, and ingesting it again can neither duplicate nor lose them.
//
// Commit is a small redo log: the list of moves is written (fsynced)
// before the first rename, and the done marker after the last one, so a
// crash between the two is finished by recover on the next run; the
// final names are deterministic, so finishing twice is harmless.
type stage struct {
	root  string // lake root on the host
	key   string // the source's key
	dir   string // staging folder
	seq   int
	moves []move
}

var _ parquet.Publisher = (*stage)(nil)

type move struct {
	From string `json:"from"` // relative to the lake root
	To   string `json:"to"`
}

// Ledger is what ingest records for a source it finished: read back to
// skip the source on the next run, and shown by the CLI.
type Ledger struct {
	Key      string    `json:"key"`
	Source   string    `json:"source"`
	Sensor   string    `json:"sensor"`
	Finished time.Time `json:"finished"`
	Packets  uint64    `json:"packets"`
	Flows    uint64    `json:"flows"`
	Files    []string  `json:"files"`
	// Damage is the reader's error when the source was damaged: the
	// records before it were committed.
	Damage string `json:"damage,omitempty"`
}

func newStage(root, key string) (*stage, error) {
	dir := path.Join(ledgerDir, "staging", key)
	if err := os.RemoveAll(filepath.Join(root, dir)); err != nil {
		return nil, fmt.Errorf("clear staging of %s: %w", key, err)
	}
	return &stage{root: root, key: key, dir: dir}, nil
}

// discard removes what was staged, after a failure before the commit log
// was written (once it is, the commit is finished, never discarded).
func (s *stage) discard() {
	if _, err := os.Stat(filepath.Join(s.root, ledgerDir, "ledger", s.key+".commit")); err == nil {
		return
	}
	_ = os.RemoveAll(filepath.Join(s.root, filepath.FromSlash(s.dir)))
}

// Publish writes one file into the staging folder and plans its move to
// the hour partition of dataset.
func (s *stage) Publish(dataset string, hour time.Time, format string, write func(w io.Writer) error) (string, error) {
	if !strings.EqualFold(format, "PARQUET") {
		return "", fmt.Errorf("%w: ingest stages Parquet only, not %s", datalake.ErrBadArgument, format)
	}
	rel := strings.TrimPrefix(path.Clean(dataset), "/")
	if rel == "" || strings.HasPrefix(rel, ".") {
		return "", fmt.Errorf("%w: dataset %q", datalake.ErrPathRefused, dataset)
	}
	s.seq++
	name := fmt.Sprintf("part-%s-%05d.parquet", s.key, s.seq)
	part := path.Join(rel, datalake.PartitionDir(hour))
	from := path.Join(s.dir, part, name)
	host := filepath.Join(s.root, filepath.FromSlash(from))
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return "", fmt.Errorf("stage %s: %w", from, err)
	}
	f, err := os.Create(host)
	if err != nil {
		return "", fmt.Errorf("stage %s: %w", from, err)
	}
	// Buffered, and so that the Parquet writer, which closes a sink
	// that is an io.Closer, leaves the file to us.
	bw := bufio.NewWriterSize(f, 1<<20)
	werr := write(bw)
	if werr == nil {
		werr = bw.Flush()
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("stage %s: %w", from, werr)
	}
	s.moves = append(s.moves, move{From: from, To: path.Join(part, name)})
	return "/" + path.Join(part, name), nil
}

// commit moves the staged files into the lake and writes the ledger.
func (s *stage) commit(l Ledger) error { return s.commitWith(l, nil) }

// commitWith is commit; with off set (a stream batch), the partition's
// offsets are recorded instead of a done marker.
func (s *stage) commitWith(l Ledger, off *streamOffsets) error {
	for _, m := range s.moves {
		l.Files = append(l.Files, "/"+m.To)
	}
	intent := filepath.Join(s.root, ledgerDir, "ledger", s.key+".commit")
	if err := writeJSON(intent, commitLog{Moves: s.moves, Ledger: l, Offsets: off}); err != nil {
		return err
	}
	return finishCommit(s.root, s.key)
}

// commitLog is the redo log of a commit.
type commitLog struct {
	Moves  []move `json:"moves"`
	Ledger Ledger `json:"ledger"`
	// Offsets, for a stream batch, is the partition's offset record to
	// write once the files are moved (a stream keeps no done markers: one
	// a batch would pile up).
	Offsets *streamOffsets `json:"offsets,omitempty"`
}

// finishCommit carries out a written commit log: every move not yet done,
// then the done marker, then the cleanup.
func finishCommit(root, key string) error {
	intent := filepath.Join(root, ledgerDir, "ledger", key+".commit")
	var c commitLog
	if err := readJSON(intent, &c); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, m := range c.Moves {
		from := filepath.Join(root, filepath.FromSlash(m.From))
		to := filepath.Join(root, filepath.FromSlash(m.To))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return fmt.Errorf("commit %s: %w", m.To, err)
		}
		if err := os.Rename(from, to); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if _, serr := os.Stat(to); serr == nil {
					continue // moved before a crash
				}
			}
			return fmt.Errorf("commit %s: %w", m.To, err)
		}
		dirs[filepath.Dir(to)] = true
	}
	for d := range dirs {
		syncDir(d)
	}
	if err := writeDone(root, key, c); err != nil {
		return err
	}
	if err := os.Remove(intent); err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	return os.RemoveAll(filepath.Join(root, ledgerDir, "staging", key))
}

// writeDone records a finished commit: the done marker of a source, or
// the offsets of a stream batch's partition. Offsets never go back: an old
// redo log finished late cannot undo a newer batch.
func writeDone(root, key string, c commitLog) error {
	o := c.Offsets
	if o == nil {
		return writeJSON(filepath.Join(root, ledgerDir, "ledger", key+".done"), c.Ledger)
	}
	name := offsetsFile(root, o.Topic, o.Partition)
	var cur streamOffsets
	if err := readJSON(name, &cur); err == nil && cur.Next >= o.Next {
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return writeJSON(name, o)
}

// lookup reports a source's ledger if it was finished, finishing an
// interrupted commit first.
func lookup(root, key string) (*Ledger, error) {
	dir := filepath.Join(root, ledgerDir, "ledger")
	if _, err := os.Stat(filepath.Join(dir, key+".commit")); err == nil {
		if err := finishCommit(root, key); err != nil {
			return nil, fmt.Errorf("finish the interrupted commit of %s: %w", key, err)
		}
	}
	var l Ledger
	err := readJSON(filepath.Join(dir, key+".done"), &l)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &l, nil
}

func writeJSON(name string, v any) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, werr := f.Write(append(b, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, name)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, werr)
	}
	syncDir(filepath.Dir(name))
	return nil
}

func readJSON(name string, v any) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
