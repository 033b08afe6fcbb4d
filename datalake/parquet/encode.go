package parquet

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/flowlab/flowlab/datalake"
)

// encoder writes datalake.Columns of one layout as Parquet files with
// arrow-go's column chunk writers: each column's values go straight from
// its slice to the Parquet encoder, with no Arrow arrays in between. The
// files are those pqarrow.FileWriter would write for the layout's Arrow
// schema: the same Parquet schema and the same ARROW:schema metadata, so
// readers see the same types. An encoder is not safe for concurrent use.
type encoder struct {
	root  *schema.GroupNode
	meta  metadata.KeyValueMetadata
	props *pq.WriterProperties
	opts  Options

	// scratch: one column of a row group, in file order
	i64   []int64
	i32   []int32
	bools []bool
	bytes []pq.ByteArray
	defs  []int16
}

func newEncoder(s *arrow.Schema, o Options) (*encoder, error) {
	props := o.properties(s)
	ps, err := pqarrow.ToParquet(s, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, fmt.Errorf("parquet schema: %w", err)
	}
	// As pqarrow.NewFileWriter with WithStoreSchema: the Arrow schema, so
	// that Arrow readers (pandas, pyarrow) get time zones and types back
	// exactly.
	meta := metadata.KeyValueMetadata{}
	meta.Append("ARROW:schema", base64.StdEncoding.EncodeToString(flight.SerializeSchema(s, memory.DefaultAllocator)))
	return &encoder{root: ps.Root(), meta: meta, props: props, opts: o}, nil
}

// encode writes the rows of c in the given order (indexes into c) as one
// Parquet file to w, in row groups of Options.RowGroupRows.
func (e *encoder) encode(w io.Writer, c *datalake.Columns, order []int32) error {
	fw, err := file.NewParquetWriterWithError(w, e.root, file.WithWriterProps(e.props), file.WithWriteMetadata(e.meta))
	if err != nil {
		return fmt.Errorf("parquet writer: %w", err)
	}
	for start := 0; start < len(order) || start == 0; start += e.opts.RowGroupRows {
		end := min(start+e.opts.RowGroupRows, len(order))
		if err := e.rowGroup(fw, c, order[start:end]); err != nil {
			fw.Close()
			return fmt.Errorf("parquet write: %w", err)
		}
		if end == len(order) {
			break
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("parquet close: %w", err)
	}
	return nil
}

// rowGroup writes one row group: column after column, each gathered in
// file order from c.
func (e *encoder) rowGroup(fw *file.Writer, c *datalake.Columns, rows []int32) error {
	rg, err := fw.AppendRowGroupChecked()
	if err != nil {
		return err
	}
	for k := range c.Cols {
		cw, err := rg.NextColumn()
		if err != nil {
			return err
		}
		if err := e.column(cw, &c.Cols[k], rows); err != nil {
			return fmt.Errorf("column %s: %w", c.Cols[k].Name, err)
		}
	}
	return rg.Close()
}

// column writes the given rows of col to the column chunk writer cw:
// the non-NULL values and, for a nullable column, the definition levels
// (1 for a value, 0 for NULL).
func (e *encoder) column(cw file.ColumnChunkWriter, col *datalake.ColumnValues, rows []int32) error {
	var defs []int16
	if col.Nullable {
		defs = e.defs[:0]
		for _, r := range rows {
			defs = append(defs, bool16(col.Valid[r]))
		}
		e.defs = defs
	}
	var err error
	switch w := cw.(type) {
	case *file.Int64ColumnChunkWriter:
		e.i64 = gather(e.i64[:0], col.Int64, rows, col.Valid)
		_, err = w.WriteBatch(e.i64, defs, nil)
	case *file.Int32ColumnChunkWriter:
		e.i32 = gather(e.i32[:0], col.Int32, rows, col.Valid)
		_, err = w.WriteBatch(e.i32, defs, nil)
	case *file.BooleanColumnChunkWriter:
		e.bools = gather(e.bools[:0], col.Bool, rows, col.Valid)
		_, err = w.WriteBatch(e.bools, defs, nil)
	case *file.ByteArrayColumnChunkWriter:
		v := e.bytes[:0]
		for _, r := range rows {
			if !col.Nullable || col.Valid[r] {
				v = append(v, col.Value(int(r)))
			}
		}
		e.bytes = v
		_, err = w.WriteBatch(v, defs, nil)
	default:
		err = fmt.Errorf("no writer for Parquet type %s", cw.Type())
	}
	if err != nil {
		return err
	}
	return cw.Close()
}

// gather appends the values of the given rows to dst, leaving out the
// NULLs of a nullable column (valid not nil).
func gather[V any](dst, vals []V, rows []int32, valid []bool) []V {
	if valid == nil {
		for _, r := range rows {
			dst = append(dst, vals[r])
		}
		return dst
	}
	for _, r := range rows {
		if valid[r] {
			dst = append(dst, vals[r])
		}
	}
	return dst
}

func bool16(b bool) int16 {
	if b {
		return 1
	}
	return 0
}

// sortedOrder returns the rows of c ordered by the string column key, then
// the time column at, then their position (as a stable sort would, with
// an O(n log n) unstable one: a stable sort's merging cost a third of
// publishing an hour of 175k flows).
func sortedOrder(c *datalake.Columns, key, at int) []int32 {
	order := make([]int32, c.Len())
	for i := range order {
		order[i] = int32(i)
	}
	k, t := &c.Cols[key], c.Cols[at].Int64
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Or(bytes.Compare(k.Value(int(a)), k.Value(int(b))), cmp.Compare(t[a], t[b]), cmp.Compare(a, b))
	})
	return order
}
