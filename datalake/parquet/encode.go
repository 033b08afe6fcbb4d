package parquet

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
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
	sort  sorter // the order of a file's rows

	// scratch: one column of a row group, in file order
	i64   []int64
	i32   []int32
	bools []bool
	bytes []pq.ByteArray
	defs  []int16
	dict  dictionary
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
		if done, derr := e.dict.write(cw, col, rows, defs); done || derr != nil {
			if derr != nil {
				return derr
			}
			return cw.Close()
		}
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
// publishing an hour of 175k flows). The rows are sorted by copies of
// their keys, where the string's first 16 bytes are two integers, so most
// comparisons read neither the strings nor the columns.
func sortedOrder(c *datalake.Columns, key, at int) []int32 {
	return new(sorter).order(c, key, at)
}

// sorter sorts the rows of files, reusing its slices from one file to the
// next (fresh memory costs a page fault per 4 KiB in a VM).
type sorter struct {
	keys []sortKey
	rows []int32
}

type sortKey struct {
	hi, lo uint64 // the string's first 16 bytes, big-endian, zero-padded
	t      int64
	i      int32
	n      int32 // the string's length
}

// order is sortedOrder; the slice it returns is overwritten by its next
// call.
func (s *sorter) order(c *datalake.Columns, key, at int) []int32 {
	k, t := &c.Cols[key], c.Cols[at].Int64
	keys := slices.Grow(s.keys[:0], c.Len())[:c.Len()]
	s.keys = keys
	for i := range keys {
		var b [16]byte
		v := k.Value(i)
		copy(b[:], v)
		keys[i] = sortKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), t[i], int32(i), int32(len(v))}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if a.hi != b.hi {
			return cmp.Compare(a.hi, b.hi)
		}
		if a.lo != b.lo {
			return cmp.Compare(a.lo, b.lo)
		}
		// The same first 16 bytes, zero padding included: the strings
		// differ after that if either is longer, else only by trailing
		// zero bytes, and then the shorter comes first.
		if a.n > 16 || b.n > 16 {
			if c := bytes.Compare(k.Value(int(a.i)), k.Value(int(b.i))); c != 0 {
				return c
			}
		} else if a.n != b.n {
			return cmp.Compare(a.n, b.n)
		}
		return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.i, b.i))
	})
	order := slices.Grow(s.rows[:0], len(keys))[:len(keys)]
	s.rows = order
	for i, sk := range keys {
		order[i] = sk.i
	}
	return order
}

// dictionary builds the dictionary of a string column chunk itself and
// hands arrow-go the dictionary and the indices (as pqarrow does for Arrow
// dictionary arrays), instead of having its encoder hash every value:
// arrow-go's byte-array memo table boxes each value in an interface and
// hashes it, which cost a third of the encoding. Here a value equal to the
// previous one (runs: the sort key, constant columns) costs a comparison,
// and the others a Go map lookup. Entries are numbered in order of first
// appearance, as the memo table numbers them, so the file is the same.
type dictionary struct {
	index   map[string]int32
	data    []byte  // the entries back to back
	offsets []int32 // len(entries)+1
	entries []pq.ByteArray
	idx     []int32 // per row (0 for NULL)
	valid   []byte  // validity bitmap of idx
}

// lookup returns the index of v in the dictionary: by comparing v with
// each entry while there are few (cheaper than hashing it), in the map
// after that.
func (d *dictionary) lookup(v []byte) (int32, bool) {
	const few = 8
	if n := len(d.offsets) - 1; n <= few {
		for i := range n {
			if bytes.Equal(v, d.data[d.offsets[i]:d.offsets[i+1]]) {
				return int32(i), true
			}
		}
		return 0, false
	}
	i, ok := d.index[string(v)]
	return i, ok
}

// minPlainValues is how many values a column chunk needs before write
// considers its share of distinct values: below it the choice costs
// nothing worth saving, and small chunks keep their dictionary.
const minPlainValues = 1024

// dictEncoder is what write needs of arrow-go's dictionary encoders.
type dictEncoder interface {
	PutDictionary(arrow.Array) error
	NumEntries() int
}

// write writes col's rows through its own dictionary if cw is dictionary
// encoding; it reports false, having written nothing, when cw is not or
// the column has no value, and also, having switched cw to plain
// encoding, when most of many values are distinct (more than half of
// them; or, while the values come sorted, more than three in four of the
// first 1,024, 2,048, 4,096 ... values, where it stops early) or the
// dictionary would exceed the page size limit. A dictionary then costs more than it saves:
// on the benchmark capture the sorted src_address column is nine tenths
// distinct per file, and writing it plain took a quarter less time for
// the whole file, which came out smaller.
func (d *dictionary) write(cw file.ColumnChunkWriter, col *datalake.ColumnValues, rows []int32, defs []int16) (bool, error) {
	enc, ok := cw.CurrentEncoder().(dictEncoder)
	if !ok || cw.CurrentEncoder().Encoding() != pq.Encodings.PlainDict || enc.NumEntries() != 0 {
		return false, nil
	}
	if d.index == nil {
		d.index = map[string]int32{}
	}
	clear(d.index)
	d.data, d.offsets, d.entries, d.idx = d.data[:0], append(d.offsets[:0], 0), d.entries[:0], d.idx[:0]
	limit := cw.Properties().DictionaryPageSizeLimit()
	var last []byte
	lastIdx, nulls, values, sorted := int32(-1), 0, 0, true
	for _, r := range rows {
		if col.Nullable && !col.Valid[r] {
			d.idx = append(d.idx, 0)
			nulls++
			continue
		}
		values++
		if sorted && values >= minPlainValues && values&(values-1) == 0 && len(d.offsets)-1 > values/4*3 {
			// Sorted so far, and three in four distinct: in a column
			// the file is sorted by, the first values are as distinct
			// as the rest, so the chunk will be written plain; stop
			// building its dictionary now.
			cw.FallbackToPlain()
			return false, nil
		}
		v := col.Value(int(r))
		c := 1
		if lastIdx >= 0 {
			c = bytes.Compare(v, last)
		}
		sorted = sorted && c >= 0
		if c != 0 {
			i, seen := d.lookup(v)
			if !seen {
				i = int32(len(d.offsets) - 1)
				d.data = append(d.data, v...)
				d.offsets = append(d.offsets, int32(len(d.data)))
				d.index[string(v)] = i
				if int64(len(d.data)+4*len(d.offsets)) >= limit {
					cw.FallbackToPlain()
					return false, nil
				}
			}
			last, lastIdx = v, i
		}
		d.idx = append(d.idx, lastIdx)
	}
	n := len(d.offsets) - 1
	if n == 0 {
		return false, nil
	}
	if values := len(rows) - nulls; values >= minPlainValues && n > values/2 {
		cw.FallbackToPlain()
		return false, nil
	}
	typ := arrow.BinaryTypes.Binary
	if col.Kind == datalake.StringColumn {
		typ = arrow.BinaryTypes.String
	}
	dict := array.MakeFromData(array.NewData(typ, n, []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d.offsets)), memory.NewBufferBytes(d.data)}, nil, 0, 0))
	defer dict.Release()
	var validity *memory.Buffer
	if nulls > 0 {
		d.valid = slices.Grow(d.valid[:0], int(bitutil.BytesForBits(int64(len(rows)))))[:bitutil.BytesForBits(int64(len(rows)))]
		clear(d.valid)
		for k, r := range rows {
			if col.Valid[r] {
				bitutil.SetBit(d.valid, k)
			}
		}
		validity = memory.NewBufferBytes(d.valid)
	}
	indices := array.NewInt32Data(array.NewData(arrow.PrimitiveTypes.Int32, len(rows), []*memory.Buffer{validity,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d.idx))}, nil, nulls, 0))
	defer indices.Release()
	if err := enc.PutDictionary(dict); err != nil {
		return true, err
	}
	if enc.NumEntries() != n {
		return true, fmt.Errorf("dictionary of %d entries has %d", n, enc.NumEntries())
	}
	// Statistics as the value-by-value path computes them: the minimum
	// and maximum of the values (the dictionary's entries, the empty
	// string included), the counts of values and NULLs.
	if st, ok := cw.PageStatistics().(*metadata.ByteArrayStatistics); ok && st != nil {
		d.entries = d.entries[:0]
		for i := range n {
			d.entries = append(d.entries, d.data[d.offsets[i]:d.offsets[i+1]])
		}
		st.Update(d.entries, int64(nulls))
		st.IncNumValues(int64(len(rows) - nulls - n))
	}
	return true, cw.WriteDictIndices(indices, defs, nil)
}
