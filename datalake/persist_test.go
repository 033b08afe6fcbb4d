package datalake

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// recordingEngine records the statements it is given and answers every
// query with no rows.
type recordingEngine struct {
	stmts []string
}

func (e *recordingEngine) Exec(_ context.Context, query string, _ ...any) error {
	e.stmts = append(e.stmts, query)
	return nil
}

func (e *recordingEngine) Query(_ context.Context, query string, _ ...any) (Rows, error) {
	e.stmts = append(e.stmts, query)
	return noRows{}, nil
}

func (e *recordingEngine) Close() error { return nil }

func (e *recordingEngine) recorded() []string { return e.stmts }

// materializingEngine is a recordingEngine with the Materializer power; it
// fails queries that mention "nope" with a position in the query.
type materializingEngine struct {
	recordingEngine
}

func (e *materializingEngine) Materialize(_ context.Context, name, query string) (string, error) {
	if i := strings.Index(query, "nope"); i >= 0 {
		return "", &QueryError{Query: query, Position: i, Kind: "Binder", Message: `column "nope" not found`}
	}
	e.stmts = append(e.stmts, "MATERIALIZE "+name+" AS "+query)
	return "store." + quoteIdent(name), nil
}

type noRows struct{}

func (noRows) Columns() []Column { return nil }
func (noRows) Next() bool        { return false }
func (noRows) Scan(...any) error { return errors.New("no rows") }
func (noRows) Err() error        { return nil }
func (noRows) Close() error      { return nil }

var (
	_ Engine       = (*recordingEngine)(nil)
	_ Materializer = (*materializingEngine)(nil)
)

func lakeWith(t *testing.T, eng Engine) *Lake {
	t.Helper()
	l, err := Open(Options{Root: t.TempDir(), Now: func() time.Time { return testNow }, NewEngine: func() (Engine, error) { return eng, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestPersistStatements(t *testing.T) {
	tests := []struct {
		name string
		eng  Engine
		want []string
	}{
		{
			name: "temporary table without a materializer",
			eng:  &recordingEngine{},
			want: []string{
				"CREATE TEMP TABLE \"__flowlab_persist_1\" AS SELECT * FROM (\nSELECT * FROM (\nSELECT 1 AS a\n) AS t WHERE (a = 'x'\n)\n) AS t",
				"SELECT count(*) FROM (\nSELECT * FROM \"__flowlab_persist_1\"\n) AS t",
				"DROP TABLE IF EXISTS \"__flowlab_persist_1\"",
			},
		},
		{
			name: "materializer",
			eng:  &materializingEngine{},
			want: []string{
				"MATERIALIZE __flowlab_persist_1 AS SELECT * FROM (\nSELECT * FROM (\nSELECT 1 AS a\n) AS t WHERE (a = 'x'\n)\n) AS t",
				"SELECT count(*) FROM (\nSELECT * FROM store.\"__flowlab_persist_1\"\n) AS t",
				"DROP TABLE IF EXISTS store.\"__flowlab_persist_1\"",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lakeWith(t, tt.eng)
			f := l.SQL("SELECT 1 AS a").Filter("a = ?", "x").Persist()
			if err := f.Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Count(); err != nil {
				t.Fatal(err)
			}
			f.Unpersist()
			got := tt.eng.(interface{ recorded() []string }).recorded()
			if strings.Join(got, "\n;\n") != strings.Join(tt.want, "\n;\n") {
				t.Fatalf("statements:\n%s\nwant\n%s", strings.Join(got, "\n;\n"), strings.Join(tt.want, "\n;\n"))
			}
		})
	}
}

func TestPersistMaterializerError(t *testing.T) {
	l := lakeWith(t, &materializingEngine{})
	f := l.SQL("SELECT 1 AS a").Filter("nope > 1").Persist()
	var qe *QueryError
	if !errors.As(f.Err(), &qe) {
		t.Fatalf("Persist of a bad frame: %v", f.Err())
	}
	if qe.Step != `.Filter("nope > 1")` || qe.Query != "nope > 1" || qe.Position != 0 {
		t.Fatalf("error in step %q, query %q at %d", qe.Step, qe.Query, qe.Position)
	}
	if f.Unpersist().Err() != nil {
		t.Fatalf("Unpersist restores the frame: %v", f.Err())
	}
}
