package ingest_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlab/flowlab/datalake/flowtable"
	"github.com/flowlab/flowlab/datalake/ingest"
	"github.com/flowlab/flowlab/internal/flowlabtest"
)

// TestCorpusGolden ingests every capture of the corpus (flows and packets)
// and compares what the lake's Parquet files hold with
// testdata/corpus.golden: every flow record with every column that is not
// zero, empty or NULL, file by file in the files' row order (after the
// first fullRows rows of a file, a hash of all its rows), and for the
// packets each file's row count and a hash of its rows. It pins the
// records byte for byte, so a change to the table, the pipeline or the
// writer that alters any value, the order of rows or the split into files
// shows here.
func TestCorpusGolden(t *testing.T) {
	var captures []string
	for _, dir := range []string{"good", "tcpstate", "derived", "bad", "communityid"} {
		m, _ := filepath.Glob(filepath.Join(corpus, dir, "*.pcap*"))
		captures = append(captures, m...)
	}
	if len(captures) < 40 {
		t.Fatalf("only %d captures", len(captures))
	}
	var b strings.Builder
	for _, c := range captures {
		rel, _ := filepath.Rel(corpus, c)
		lake := t.TempDir()
		in := newIngester(t, lake, ingest.Options{
			Sensor: "golden", Packets: true, PayloadHead: 8,
			Table: flowtable.Options{LocalNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fd00::/8")}},
		})
		res, err := in.IngestFile(context.Background(), c)
		var fe interface{ Unwrap() error }
		if err != nil && !errors.Is(err, ingest.ErrDamaged) && !errors.As(err, &fe) {
			t.Fatalf("%s: %v", rel, err)
		}
		fmt.Fprintf(&b, "# %s: %d packets, %d flow records, %d packet records\n", rel, res.Packets, res.Flows, res.PacketRecords)
		for _, f := range lakeFiles(t, lake, "tetration/flows") {
			fmt.Fprintf(&b, "## %s\n", f.name)
			for _, row := range f.rows[:min(len(f.rows), fullRows)] {
				b.WriteString(row)
				b.WriteByte('\n')
			}
			if len(f.rows) > fullRows {
				fmt.Fprintf(&b, "... %d rows, sha256 %x\n", len(f.rows), sha256.Sum256([]byte(strings.Join(f.rows, "\n"))))
			}
		}
		for _, f := range lakeFiles(t, lake, "tetration/packets") {
			fmt.Fprintf(&b, "## %s: %d rows, sha256 %x\n", f.name, len(f.rows), sha256.Sum256([]byte(strings.Join(f.rows, "\n"))))
		}
	}
	flowlabtest.Golden(t, filepath.Join("testdata", "corpus.golden"), b.String())
}

// fullRows is how many rows of a flows file the golden file shows.
const fullRows = 40

type lakeFile struct {
	name string   // path under the dataset, without the source key
	rows []string // col=value for the columns that are not zero or NULL
}

// lakeFiles reads the Parquet files of a dataset in path order.
func lakeFiles(t *testing.T, lake, dataset string) []lakeFile {
	t.Helper()
	root := filepath.Join(lake, dataset)
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			paths = append(paths, p)
		}
		return nil
	})
	slices.Sort(paths)
	var out []lakeFile
	for _, p := range paths {
		rel, _ := filepath.Rel(root, p)
		// part-<key>-<seq>.parquet: the key hashes the sensor and the
		// content, the sequence number is what matters.
		dir, base := filepath.Split(rel)
		if i := strings.LastIndexByte(base, '-'); i >= 0 {
			base = "part-" + base[i+1:]
		}
		out = append(out, lakeFile{name: filepath.ToSlash(dir + base), rows: readRows(t, p)})
	}
	return out
}

func readRows(t *testing.T, path string) []string {
	t.Helper()
	tbl := readTable(t, path)
	tr := array.NewTableReader(tbl, 1<<16)
	defer tr.Release()
	var rows []string
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := range int(rec.NumRows()) {
			var b strings.Builder
			for c, col := range rec.Columns() {
				if col.IsNull(i) {
					continue
				}
				var v string
				switch a := col.(type) {
				case *array.Timestamp:
					v = fmt.Sprint(int64(a.Value(i)))
				default:
					v = a.ValueStr(i)
				}
				field := rec.Schema().Field(c)
				if !field.Nullable && (v == "0" || v == "" || v == "false") {
					continue
				}
				if field.Type.ID() == arrow.STRING || field.Type.ID() == arrow.BINARY {
					v = fmt.Sprintf("%q", v)
				}
				if b.Len() > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(field.Name + "=" + v)
			}
			rows = append(rows, b.String())
		}
	}
	return rows
}
