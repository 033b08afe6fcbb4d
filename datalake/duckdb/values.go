package duckdb

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// normalize turns the driver's value types into plain Go values a cell can
// use without importing the driver: DECIMAL becomes float64, UUID text,
// INTERVAL a time.Duration (text when it has months, which have no fixed
// length), MAP a map[string]any, HUGEINT an int64 when it fits.
func normalize(v any, typ string) any {
	switch x := v.(type) {
	case duckdb.Decimal:
		return x.Float64()
	case duckdb.UUID:
		return uuidString(x[:])
	case []byte:
		if typ == "UUID" && len(x) == 16 {
			return uuidString(x)
		}
		return x
	case duckdb.Interval:
		if x.Months == 0 {
			return time.Duration(x.Days)*24*time.Hour + time.Duration(x.Micros)*time.Microsecond
		}
		return fmt.Sprintf("%d months %d days %dus", x.Months, x.Days, x.Micros)
	case duckdb.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalize(e, "")
		}
		return out
	case duckdb.OrderedMap:
		out := make(map[string]any, x.Len())
		vals := x.Values()
		for i, k := range x.Keys() {
			out[fmt.Sprint(k)] = normalize(vals[i], "")
		}
		return out
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e, "")
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e, "")
		}
		return out
	case time.Time:
		return x.UTC()
	}
	return v
}

func uuidString(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
