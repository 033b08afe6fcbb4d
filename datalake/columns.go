package datalake

import (
	"fmt"
	"reflect"
	"slices"
	"time"
)

// ColumnKind is the type of the values of a column, after the Go type of
// the record field it holds.
type ColumnKind uint8

// Column kinds. Times are held as Unix microseconds, the precision the
// lake's files keep.
const (
	Int64Column     ColumnKind = iota + 1 // int64 and *int64 fields, in ColumnValues.Int64
	Int32Column                           // int32 and *int32 fields, in ColumnValues.Int32
	BoolColumn                            // bool fields, in ColumnValues.Bool
	TimeColumn                            // time.Time fields of UTC semantics, in ColumnValues.Int64
	LocalTimeColumn                       // time.Time fields of local semantics (Flow.Timestamp), in ColumnValues.Int64
	StringColumn                          // string and *string fields, in ColumnValues.Bytes and ColumnValues.Ends
	BytesColumn                           // []byte fields (nil is NULL), in ColumnValues.Bytes and ColumnValues.Ends
)

// ColumnValues is one column of Columns: the values of one record field,
// row by row. Only the slices of its kind are used. In a nullable column a NULL
// row has Valid false and a zero value (an empty string) in the values.
type ColumnValues struct {
	Name     string // the field's column name (its parquet tag)
	Kind     ColumnKind
	Nullable bool // the field is a pointer or a byte slice

	Int64 []int64
	Int32 []int32
	Bool  []bool
	Bytes []byte   // string and bytes columns: the values back to back
	Ends  []uint32 // string and bytes columns: where each row's value ends in Bytes
	Valid []bool   // nullable columns: whether each row has a value
}

// Value returns the bytes of row i of a string or bytes column. They alias
// the column's buffer.
func (c *ColumnValues) Value(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = c.Ends[i-1]
	}
	return c.Bytes[start:c.Ends[i]]
}

// Columns is a batch of records of one type held column by column, one
// ColumnValues per field in field order (see Layout): what the flow table
// appends finished flows to and the Parquet writer encodes. Once its
// slices have grown, appending allocates nothing, and Reset keeps them for
// the next batch. A Columns is not safe for concurrent use.
type Columns struct {
	Cols []ColumnValues
	rows int
}

// Len returns the number of rows.
func (c *Columns) Len() int { return c.rows }

// Reset empties the columns, keeping their memory.
func (c *Columns) Reset() {
	for i := range c.Cols {
		col := &c.Cols[i]
		col.Int64, col.Int32, col.Bool = col.Int64[:0], col.Int32[:0], col.Bool[:0]
		col.Bytes, col.Ends, col.Valid = col.Bytes[:0], col.Ends[:0], col.Valid[:0]
	}
	c.rows = 0
}

// Reserve makes room for n more rows without growing (for string and
// bytes columns, n values of up to bytesPerValue bytes).
func (c *Columns) Reserve(n, bytesPerValue int) {
	for i := range c.Cols {
		col := &c.Cols[i]
		switch col.Kind {
		case Int64Column, TimeColumn, LocalTimeColumn:
			col.Int64 = slices.Grow(col.Int64, n)
		case Int32Column:
			col.Int32 = slices.Grow(col.Int32, n)
		case BoolColumn:
			col.Bool = slices.Grow(col.Bool, n)
		case StringColumn, BytesColumn:
			col.Bytes = slices.Grow(col.Bytes, n*bytesPerValue)
			col.Ends = slices.Grow(col.Ends, n)
		}
		if col.Nullable {
			col.Valid = slices.Grow(col.Valid, n)
		}
	}
}

// AppendRows appends rows [from, to) of src, which must have the same
// layout. Columns that must grow at least double, so that filling a
// large buffer a batch at a time copies it about once (append alone grows
// large slices by a quarter, copying them about four times).
func (c *Columns) AppendRows(src *Columns, from, to int) {
	for i := range c.Cols {
		d, s := &c.Cols[i], &src.Cols[i]
		switch d.Kind {
		case Int64Column, TimeColumn, LocalTimeColumn:
			d.Int64 = appendDoubling(d.Int64, s.Int64[from:to])
		case Int32Column:
			d.Int32 = appendDoubling(d.Int32, s.Int32[from:to])
		case BoolColumn:
			d.Bool = appendDoubling(d.Bool, s.Bool[from:to])
		case StringColumn, BytesColumn:
			start := uint32(0)
			if from > 0 {
				start = s.Ends[from-1]
			}
			shift := uint32(len(d.Bytes)) - start
			d.Bytes = appendDoubling(d.Bytes, s.Bytes[start:s.Ends[to-1]])
			n := len(d.Ends)
			d.Ends = appendDoubling(d.Ends, s.Ends[from:to])
			for k := n; k < len(d.Ends); k++ {
				d.Ends[k] += shift
			}
		}
		if d.Nullable {
			d.Valid = appendDoubling(d.Valid, s.Valid[from:to])
		}
	}
	c.rows += to - from
}

// appendDoubling appends src to dst, at least doubling dst's capacity
// when it has to grow.
func appendDoubling[T any](dst, src []T) []T {
	if cap(dst)-len(dst) < len(src) {
		dst = slices.Grow(dst, max(len(src), len(dst)))
	}
	return append(dst, src...)
}

// AppendRow starts a new row: the returned RowWriter takes one value per
// column, in column order, and Done ends the row. A value of the wrong
// kind, a NULL in a column that is not nullable, or a row with too few or
// too many values is a programming error and panics.
func (c *Columns) AppendRow() RowWriter { return RowWriter{c: c} }

// RowWriter appends the values of one row to Columns; see AppendRow.
type RowWriter struct {
	c *Columns
	i int
}

// next returns the next column. The methods check its kind themselves,
// so that next is inlined in them.
func (w *RowWriter) next() *ColumnValues {
	col := &w.c.Cols[w.i] // a row with too many values panics here
	w.i++
	return col
}

//go:noinline
func wrongKind(col *ColumnValues, k ColumnKind) {
	panic(fmt.Sprintf("datalake: column %s (kind %d) given a value of kind %d", col.Name, col.Kind, k))
}

func (col *ColumnValues) valid(ok bool) {
	if col.Nullable {
		col.Valid = append(col.Valid, ok)
	} else if !ok {
		notNullable(col)
	}
}

//go:noinline
func notNullable(col *ColumnValues) {
	panic("datalake: NULL in column " + col.Name + ", which is not nullable")
}

// Int64 appends the value of an int64 column.
func (w *RowWriter) Int64(v int64) { w.OptInt64(v, true) }

// OptInt64 appends the value of an int64 column, or NULL if !ok.
func (w *RowWriter) OptInt64(v int64, ok bool) {
	col := w.next()
	if col.Kind != Int64Column {
		wrongKind(col, Int64Column)
	}
	if !ok {
		v = 0
	}
	col.Int64 = append(col.Int64, v)
	col.valid(ok)
}

// Int32 appends the value of an int32 column.
func (w *RowWriter) Int32(v int32) { w.OptInt32(v, true) }

// OptInt32 appends the value of an int32 column, or NULL if !ok.
func (w *RowWriter) OptInt32(v int32, ok bool) {
	col := w.next()
	if col.Kind != Int32Column {
		wrongKind(col, Int32Column)
	}
	if !ok {
		v = 0
	}
	col.Int32 = append(col.Int32, v)
	col.valid(ok)
}

// Bool appends the value of a bool column.
func (w *RowWriter) Bool(v bool) {
	col := w.next()
	if col.Kind != BoolColumn {
		wrongKind(col, BoolColumn)
	}
	col.Bool = append(col.Bool, v)
	col.valid(true)
}

// Time appends the value of a time column (truncated to microseconds, as
// Time.UnixMicro does).
func (w *RowWriter) Time(t time.Time) {
	col := w.next()
	if col.Kind != TimeColumn && col.Kind != LocalTimeColumn {
		wrongKind(col, TimeColumn)
	}
	col.Int64 = append(col.Int64, t.UnixMicro())
	col.valid(true)
}

// String appends the value of a string column.
func (w *RowWriter) String(s string) {
	col := w.next()
	if col.Kind != StringColumn {
		wrongKind(col, StringColumn)
	}
	col.Bytes = append(col.Bytes, s...)
	col.Ends = append(col.Ends, uint32(len(col.Bytes)))
	col.valid(true)
}

// StringBytes appends the value of a string column given as bytes.
func (w *RowWriter) StringBytes(b []byte) {
	col := w.next()
	if col.Kind != StringColumn {
		wrongKind(col, StringColumn)
	}
	col.Bytes = append(col.Bytes, b...)
	col.Ends = append(col.Ends, uint32(len(col.Bytes)))
	col.valid(true)
}

// AppendString appends the value of a string column, or NULL if !ok, as
// appendValue appends it to the column's buffer (appendValue must only
// append), so a value can be formatted in place without a string.
func (w *RowWriter) AppendString(appendValue func([]byte) []byte, ok bool) {
	col := w.next()
	if col.Kind != StringColumn {
		wrongKind(col, StringColumn)
	}
	if ok {
		col.Bytes = appendValue(col.Bytes)
	}
	col.Ends = append(col.Ends, uint32(len(col.Bytes)))
	col.valid(ok)
}

// OptString appends the value of a string column, or NULL if s is nil.
func (w *RowWriter) OptString(s *string) {
	col := w.next()
	if col.Kind != StringColumn {
		wrongKind(col, StringColumn)
	}
	if s != nil {
		col.Bytes = append(col.Bytes, *s...)
	}
	col.Ends = append(col.Ends, uint32(len(col.Bytes)))
	col.valid(s != nil)
}

// Bytes appends the value of a bytes column; nil is NULL.
func (w *RowWriter) Bytes(b []byte) {
	col := w.next()
	if col.Kind != BytesColumn {
		wrongKind(col, BytesColumn)
	}
	col.Bytes = append(col.Bytes, b...)
	col.Ends = append(col.Ends, uint32(len(col.Bytes)))
	col.valid(b != nil)
}

// Done ends the row.
func (w *RowWriter) Done() {
	if w.i != len(w.c.Cols) {
		panic(fmt.Sprintf("datalake: row has %d values for %d columns", w.i, len(w.c.Cols)))
	}
	w.c.rows++
	w.i = 0
}

// Layout maps a record type (Flow, Packet) to its columns, one per field
// in field order, and converts records to rows and back. FlowLayout and
// PacketLayout are the lake's. Safe for concurrent use.
type Layout[T any] struct {
	fields []field[T]
}

// field is one column of a Layout: how a record's field is appended to a
// row and read back from one.
type field[T any] struct {
	name     string
	kind     ColumnKind
	nullable bool
	at       func(r *T) any // the field's address in r
	put      func(w *RowWriter, r *T)
	get      func(col *ColumnValues, i int, r *T)
}

// newLayout returns the layout of T's fields, given in field order. Each
// column is named after its field's parquet tag. It panics unless the i-th
// field given is T's i-th field, so a layout cannot skip, swap or repeat
// fields.
func newLayout[T any](fields ...field[T]) *Layout[T] {
	var probe T
	rv := reflect.ValueOf(&probe).Elem()
	if rv.NumField() != len(fields) {
		panic(fmt.Sprintf("datalake: %d columns for the %d fields of %s", len(fields), rv.NumField(), rv.Type()))
	}
	for i := range fields {
		sf := rv.Type().Field(i)
		if reflect.ValueOf(fields[i].at(&probe)).Pointer() != rv.Field(i).Addr().Pointer() {
			panic(fmt.Sprintf("datalake: column %d of %s is not field %s", i, rv.Type(), sf.Name))
		}
		fields[i].name = sf.Tag.Get("parquet")
	}
	return &Layout[T]{fields: fields}
}

// New returns empty columns of the layout.
func (l *Layout[T]) New() *Columns {
	c := &Columns{Cols: make([]ColumnValues, len(l.fields))}
	for i, f := range l.fields {
		c.Cols[i] = ColumnValues{Name: f.name, Kind: f.kind, Nullable: f.nullable}
	}
	return c
}

// Append appends records as rows of c (columns of this layout).
func (l *Layout[T]) Append(c *Columns, recs ...T) {
	for i := range recs {
		w := c.AppendRow()
		for _, f := range l.fields {
			f.put(&w, &recs[i])
		}
		w.Done()
	}
}

// Record returns row i of c (columns of this layout) as a record. Times
// come back in UTC, at microsecond precision.
func (l *Layout[T]) Record(c *Columns, i int) T {
	var r T
	for k, f := range l.fields {
		f.get(&c.Cols[k], i, &r)
	}
	return r
}

// scalar is a column of a field of type V whose values are in the
// column's slice vals returns.
func scalar[T, V any](kind ColumnKind, at func(*T) *V, put func(*RowWriter, V), vals func(*ColumnValues) []V) field[T] {
	return field[T]{kind: kind, at: func(r *T) any { return at(r) },
		put: func(w *RowWriter, r *T) { put(w, *at(r)) },
		get: func(c *ColumnValues, i int, r *T) { *at(r) = vals(c)[i] }}
}

// optional is a nullable column of a field of type *V.
func optional[T, V any](kind ColumnKind, at func(*T) **V, put func(*RowWriter, V, bool), vals func(*ColumnValues) []V) field[T] {
	return field[T]{kind: kind, nullable: true, at: func(r *T) any { return at(r) },
		put: func(w *RowWriter, r *T) {
			v := *at(r)
			put(w, deref(v), v != nil)
		},
		get: func(c *ColumnValues, i int, r *T) {
			if c.Valid[i] {
				*at(r) = ref(vals(c)[i])
			}
		}}
}

func int64s(c *ColumnValues) []int64 { return c.Int64 }
func int32s(c *ColumnValues) []int32 { return c.Int32 }

func i64[T any](at func(*T) *int64) field[T] {
	return scalar(Int64Column, at, (*RowWriter).Int64, int64s)
}

func optI64[T any](at func(*T) **int64) field[T] {
	return optional(Int64Column, at, (*RowWriter).OptInt64, int64s)
}

func i32[T any](at func(*T) *int32) field[T] {
	return scalar(Int32Column, at, (*RowWriter).Int32, int32s)
}

func optI32[T any](at func(*T) **int32) field[T] {
	return optional(Int32Column, at, (*RowWriter).OptInt32, int32s)
}

func boolean[T any](at func(*T) *bool) field[T] {
	return scalar(BoolColumn, at, (*RowWriter).Bool, func(c *ColumnValues) []bool { return c.Bool })
}

func timestamp[T any](kind ColumnKind, at func(*T) *time.Time) field[T] {
	return field[T]{kind: kind, at: func(r *T) any { return at(r) },
		put: func(w *RowWriter, r *T) { w.Time(*at(r)) },
		get: func(c *ColumnValues, i int, r *T) { *at(r) = time.UnixMicro(c.Int64[i]).UTC() }}
}

func str[T any](at func(*T) *string) field[T] {
	return field[T]{kind: StringColumn, at: func(r *T) any { return at(r) },
		put: func(w *RowWriter, r *T) { w.String(*at(r)) },
		get: func(c *ColumnValues, i int, r *T) { *at(r) = string(c.Value(i)) }}
}

func optStr[T any](at func(*T) **string) field[T] {
	return field[T]{kind: StringColumn, nullable: true, at: func(r *T) any { return at(r) },
		put: func(w *RowWriter, r *T) { w.OptString(*at(r)) },
		get: func(c *ColumnValues, i int, r *T) {
			if c.Valid[i] {
				*at(r) = ref(string(c.Value(i)))
			}
		}}
}

func optBytes[T any](at func(*T) *[]byte) field[T] {
	return field[T]{kind: BytesColumn, nullable: true, at: func(r *T) any { return at(r) },
		put: func(w *RowWriter, r *T) { w.Bytes(*at(r)) },
		get: func(c *ColumnValues, i int, r *T) {
			if c.Valid[i] {
				*at(r) = append([]byte{}, c.Value(i)...)
			}
		}}
}

func deref[V any](p *V) V {
	var v V
	if p != nil {
		v = *p
	}
	return v
}

func ref[V any](v V) *V { return &v }
