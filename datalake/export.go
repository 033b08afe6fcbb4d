package datalake

import (
	"bufio"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"time"
)

// ToCSV writes every row to w as CSV with a header line, streaming from the
// engine (no row cap). Times are RFC 3339, NULL is an empty field.
func (f *Frame) ToCSV(w io.Writer) error {
	return f.stream(".ToCSV()", w, func(bw *bufio.Writer, cols []Column) (func([]any) error, func() error) {
		cw := csv.NewWriter(bw)
		head := make([]string, len(cols))
		for i, c := range cols {
			head[i] = c.Name
		}
		headerErr := cw.Write(head)
		rec := make([]string, len(cols))
		return func(vals []any) error {
				if headerErr != nil {
					return headerErr
				}
				for i, v := range vals {
					rec[i] = csvValue(v)
				}
				return cw.Write(rec)
			}, func() error {
				if headerErr != nil {
					return headerErr
				}
				cw.Flush()
				return cw.Error()
			}
	})
}

// ToJSON writes every row to w as one JSON object per line (the lake's JSON
// format), streaming from the engine (no row cap). Keys keep the column
// order; times are RFC 3339, NaN and infinities are null.
func (f *Frame) ToJSON(w io.Writer) error {
	return f.stream(".ToJSON()", w, func(bw *bufio.Writer, cols []Column) (func([]any) error, func() error) {
		keys := make([][]byte, len(cols))
		for i, c := range cols {
			k, _ := json.Marshal(c.Name)
			keys[i] = k
		}
		return func(vals []any) error {
			bw.WriteByte('{')
			for i, v := range vals {
				if i > 0 {
					bw.WriteByte(',')
				}
				bw.Write(keys[i])
				bw.WriteByte(':')
				raw, err := json.Marshal(jsonValue(v))
				if err != nil {
					return err
				}
				bw.Write(raw)
			}
			_, err := bw.WriteString("}\n")
			return err
		}, func() error { return nil }
	})
}

func (f *Frame) stream(call string, w io.Writer, open func(*bufio.Writer, []Column) (func([]any) error, func() error)) error {
	n, l, err := f.snapshot()
	if err != nil {
		return err
	}
	t := newBuilder().text("SELECT * FROM ").sub(n).text(" AS t").node(call, n.desc+call)
	bw := bufio.NewWriterSize(w, 1<<16)
	var writeErr error
	err = l.query(t, func(r Rows) error {
		cols := r.Columns()
		row, done := open(bw, cols)
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for r.Next() {
			if err := r.Scan(ptrs...); err != nil {
				return err
			}
			if err := row(vals); err != nil {
				writeErr = err
				return err
			}
		}
		if err := done(); err != nil {
			writeErr = err
			return err
		}
		return nil
	})
	if writeErr != nil {
		return writeErr
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case float64:
		if math.IsNaN(x) {
			return "NaN"
		}
	}
	return formatPlain(v)
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil
		}
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return x.Microseconds()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	}
	return v
}
