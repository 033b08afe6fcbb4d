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

// materializingEngine is a recordingEngine with the Materializer power; it
// fails queries that mention "nope" with a position in the query.
type materializingEngine struct {
	recordingEngine
	names []string
}

func (e *materializingEngine) Materialize(_ context.Context, name, query string) (string, error) {
	if i := strings.Index(query, "nope"); i >= 0 {
		return "", &QueryError{Query: query, Position: i, Kind: "Binder", Message: `column "nope" not found`}
	}
	e.names = append(e.names, name)
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
	t.Run("temporary table without a materializer", func(t *testing.T) {
		eng := &recordingEngine{}
		l := lakeWith(t, eng)
		f := l.SQL("SELECT 1 AS a").Persist()
		if err := f.Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Count(); err != nil {
			t.Fatal(err)
		}
		f.Unpersist()
		want := []string{
			"CREATE TEMP TABLE \"__flowlab_persist_1\" AS SELECT * FROM (\nSELECT 1 AS a\n) AS t",
			"SELECT count(*) FROM (\nSELECT * FROM \"__flowlab_persist_1\"\n) AS t",
			"DROP TABLE IF EXISTS \"__flowlab_persist_1\"",
		}
		if strings.Join(eng.stmts, "\n;\n") != strings.Join(want, "\n;\n") {
			t.Fatalf("statements:\n%s\nwant\n%s", strings.Join(eng.stmts, "\n;\n"), strings.Join(want, "\n;\n"))
		}
	})
	t.Run("materializer", func(t *testing.T) {
		eng := &materializingEngine{}
		l := lakeWith(t, eng)
		f := l.SQL("SELECT 1 AS a").Filter("a = ?", "x").Persist()
		if err := f.Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Count(); err != nil {
			t.Fatal(err)
		}
		f.Unpersist()
		want := []string{
			"MATERIALIZE __flowlab_persist_1 AS SELECT * FROM (\nSELECT * FROM (\nSELECT 1 AS a\n) AS t WHERE (a = 'x'\n)\n) AS t",
			"SELECT count(*) FROM (\nSELECT * FROM store.\"__flowlab_persist_1\"\n) AS t",
			"DROP TABLE IF EXISTS store.\"__flowlab_persist_1\"",
		}
		if strings.Join(eng.stmts, "\n;\n") != strings.Join(want, "\n;\n") {
			t.Fatalf("statements:\n%s\nwant\n%s", strings.Join(eng.stmts, "\n;\n"), strings.Join(want, "\n;\n"))
		}
	})
	t.Run("materializer error names the step", func(t *testing.T) {
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
	})
}
