package parquet

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// colDef maps one field of a record type T to an Arrow column: the field
// (name, type, nullability) and a function that appends the values of rows,
// in order, to the column's builder.
type colDef[T any] struct {
	field  arrow.Field
	append func(b array.Builder, rows []*T)
}

var (
	tsUTC   = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"} // TIMESTAMP(MICROS, isAdjustedToUTC=true)
	tsLocal = &arrow.TimestampType{Unit: arrow.Microsecond}                  // TIMESTAMP(MICROS, isAdjustedToUTC=false)
)

func i64[T any](name string, get func(*T) int64) colDef[T] {
	return colDef[T]{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64}, func(b array.Builder, rows []*T) {
		bb := b.(*array.Int64Builder)
		bb.Reserve(len(rows))
		for _, r := range rows {
			bb.UnsafeAppend(get(r))
		}
	}}
}

func i32[T any](name string, get func(*T) int32) colDef[T] {
	return colDef[T]{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int32}, func(b array.Builder, rows []*T) {
		bb := b.(*array.Int32Builder)
		bb.Reserve(len(rows))
		for _, r := range rows {
			bb.UnsafeAppend(get(r))
		}
	}}
}

func optI32[T any](name string, get func(*T) *int32) colDef[T] {
	return colDef[T]{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int32, Nullable: true}, func(b array.Builder, rows []*T) {
		bb := b.(*array.Int32Builder)
		bb.Reserve(len(rows))
		for _, r := range rows {
			if v := get(r); v != nil {
				bb.UnsafeAppend(*v)
			} else {
				bb.UnsafeAppendBoolToBitmap(false)
			}
		}
	}}
}

func optI64[T any](name string, get func(*T) *int64) colDef[T] {
	return colDef[T]{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true}, func(b array.Builder, rows []*T) {
		bb := b.(*array.Int64Builder)
		bb.Reserve(len(rows))
		for _, r := range rows {
			if v := get(r); v != nil {
				bb.UnsafeAppend(*v)
			} else {
				bb.UnsafeAppendBoolToBitmap(false)
			}
		}
	}}
}

func str[T any](name string, get func(*T) string) colDef[T] {
	return colDef[T]{arrow.Field{Name: name, Type: arrow.BinaryTypes.String}, func(b array.Builder, rows []*T) {
		bb := b.(*array.StringBuilder)
		bb.Reserve(len(rows))
		n := 0
		for _, r := range rows {
			n += len(get(r))
		}
		reserveData(bb, n)
		for _, r := range rows {
			bb.Append(get(r))
		}
	}}
}

func optStr[T any](name string, get func(*T) *string) colDef[T] {
	return colDef[T]{arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}, func(b array.Builder, rows []*T) {
		bb := b.(*array.StringBuilder)
		bb.Reserve(len(rows))
		n := 0
		for _, r := range rows {
			if v := get(r); v != nil {
				n += len(*v)
			}
		}
		reserveData(bb, n)
		for _, r := range rows {
			if v := get(r); v != nil {
				bb.Append(*v)
			} else {
				bb.AppendNull()
			}
		}
	}}
}

// reserveData makes room for n more bytes of values, at least doubling
// the buffer: Append grows it in small steps, and ReserveData alone grows
// it to the exact size, each step copying everything appended before.
func reserveData(b *array.StringBuilder, n int) {
	if b.DataCap() < b.DataLen()+n {
		b.ReserveData(max(n, b.DataLen()+n))
	}
}

func optBytes[T any](name string, get func(*T) []byte) colDef[T] {
	return colDef[T]{arrow.Field{Name: name, Type: arrow.BinaryTypes.Binary, Nullable: true}, func(b array.Builder, rows []*T) {
		bb := b.(*array.BinaryBuilder)
		bb.Reserve(len(rows))
		for _, r := range rows {
			if v := get(r); v != nil {
				bb.Append(v)
			} else {
				bb.AppendNull()
			}
		}
	}}
}

func boolean[T any](name string, get func(*T) bool) colDef[T] {
	return colDef[T]{arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean}, func(b array.Builder, rows []*T) {
		bb := b.(*array.BooleanBuilder)
		bb.Reserve(len(rows))
		for _, r := range rows {
			bb.UnsafeAppend(get(r))
		}
	}}
}

func ts[T any](name string, typ *arrow.TimestampType, get func(*T) time.Time) colDef[T] {
	return colDef[T]{arrow.Field{Name: name, Type: typ}, func(b array.Builder, rows []*T) {
		bb := b.(*array.TimestampBuilder)
		bb.Reserve(len(rows))
		for _, r := range rows {
			bb.UnsafeAppend(arrow.Timestamp(get(r).UnixMicro()))
		}
	}}
}

func schemaOf[T any](cols []colDef[T]) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.field
	}
	return arrow.NewSchema(fields, nil)
}
