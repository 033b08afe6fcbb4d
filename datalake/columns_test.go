package datalake

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// filled returns a record of type T whose every field holds a distinct
// value (pointers set), so a column mix-up cannot go unnoticed.
func filled[T any](seed int) T {
	var r T
	rv := reflect.ValueOf(&r).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		n := int64(seed*1000 + i + 1)
		set := func(v reflect.Value) {
			switch v.Kind() {
			case reflect.Int32, reflect.Int64:
				v.SetInt(n)
			case reflect.Bool:
				v.SetBool(n%2 == 1)
			case reflect.String:
				v.SetString(strings.Repeat("x", i) + "é" + rv.Type().Field(i).Name)
			case reflect.Slice:
				v.SetBytes([]byte{byte(n), 0, byte(i)})
			case reflect.Struct: // time.Time
				v.Set(reflect.ValueOf(time.UnixMicro(1_714_555_200_000_000 + n).UTC()))
			}
		}
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(f.Type().Elem()))
			set(f.Elem())
		} else {
			set(f)
		}
	}
	return r
}

func TestLayoutRoundTrip(t *testing.T) {
	t.Run("flow", func(t *testing.T) { testRoundTrip(t, FlowLayout) })
	t.Run("packet", func(t *testing.T) { testRoundTrip(t, PacketLayout) })
}

func testRoundTrip[T any](t *testing.T, l *Layout[T]) {
	var zero T
	recs := []T{filled[T](1), zero, filled[T](2), filled[T](3)}
	// zero's times are the zero time, which has no microsecond count
	// that comes back as time.Time{}: give it a real one.
	recs[1] = roundTripZero(recs[1])
	c := l.New()
	l.Append(c, recs[:2]...)
	l.Append(c, recs[2:]...)
	if c.Len() != len(recs) {
		t.Fatalf("Len %d", c.Len())
	}
	for i, want := range recs {
		if got := l.Record(c, i); !reflect.DeepEqual(got, want) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	// AppendRows of a middle range keeps every value, strings included.
	d := l.New()
	l.Append(d, recs[3])
	d.AppendRows(c, 1, 3)
	for i, want := range []T{recs[3], recs[1], recs[2]} {
		if got := l.Record(d, i); !reflect.DeepEqual(got, want) {
			t.Errorf("after AppendRows, row %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	c.Reset()
	if c.Len() != 0 || len(c.Cols[0].Int64) != 0 {
		t.Errorf("Reset left %d rows", c.Len())
	}
}

// roundTripZero sets the time fields of r to the Unix epoch.
func roundTripZero[T any](r T) T {
	rv := reflect.ValueOf(&r).Elem()
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Type() == reflect.TypeFor[time.Time]() {
			f.Set(reflect.ValueOf(time.Unix(0, 0).UTC()))
		}
	}
	return r
}

func TestLayoutNamesAreTags(t *testing.T) {
	c := FlowLayout.New()
	typ := reflect.TypeFor[Flow]()
	for i, col := range c.Cols {
		if want := typ.Field(i).Tag.Get("parquet"); col.Name != want || want == "" {
			t.Errorf("column %d is %q, field tag %q", i, col.Name, want)
		}
	}
	if c.Cols[2].Name != "timestamp" || c.Cols[2].Kind != LocalTimeColumn || c.Cols[0].Kind != TimeColumn {
		t.Errorf("time kinds: %+v %+v", c.Cols[0], c.Cols[2])
	}
}

func TestRowWriterMisuse(t *testing.T) {
	mustPanic := func(name string, f func(c *Columns)) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f(PacketLayout.New())
	}
	mustPanic("wrong kind", func(c *Columns) { w := c.AppendRow(); w.Int64(1) })
	mustPanic("NULL in a required column", func(c *Columns) {
		w := c.AppendRow()
		w.Time(time.Unix(0, 0))
		w.AppendString(nil, false)
	})
	mustPanic("short row", func(c *Columns) { w := c.AppendRow(); w.Time(time.Unix(0, 0)); w.Done() })
}

func TestNewLayoutChecksFields(t *testing.T) {
	type rec struct {
		A int64 `parquet:"a"`
		B int64 `parquet:"b"`
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "not field A") {
			t.Errorf("swapped fields: %v", r)
		}
	}()
	newLayout(i64(func(r *rec) *int64 { return &r.B }), i64(func(r *rec) *int64 { return &r.A }))
}
