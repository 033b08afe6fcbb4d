package parquet

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flowlab/flowlab/datalake"
)

var (
	tsUTC   = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"} // TIMESTAMP(MICROS, isAdjustedToUTC=true)
	tsLocal = &arrow.TimestampType{Unit: arrow.Microsecond}                  // TIMESTAMP(MICROS, isAdjustedToUTC=false)
)

// arrowSchema is the Arrow schema of a layout's columns, from which the
// Parquet schema is derived (pqarrow.ToParquet).
func arrowSchema(c *datalake.Columns) *arrow.Schema {
	fields := make([]arrow.Field, len(c.Cols))
	for i, col := range c.Cols {
		var t arrow.DataType
		switch col.Kind {
		case datalake.Int64Column:
			t = arrow.PrimitiveTypes.Int64
		case datalake.Int32Column:
			t = arrow.PrimitiveTypes.Int32
		case datalake.BoolColumn:
			t = arrow.FixedWidthTypes.Boolean
		case datalake.TimeColumn:
			t = tsUTC
		case datalake.LocalTimeColumn:
			t = tsLocal
		case datalake.StringColumn:
			t = arrow.BinaryTypes.String
		case datalake.BytesColumn:
			t = arrow.BinaryTypes.Binary
		default:
			panic(fmt.Sprintf("parquet: column %s has kind %d", col.Name, col.Kind))
		}
		fields[i] = arrow.Field{Name: col.Name, Type: t, Nullable: col.Nullable}
	}
	return arrow.NewSchema(fields, nil)
}

var (
	flowSchema   = arrowSchema(datalake.FlowLayout.New())
	packetSchema = arrowSchema(datalake.PacketLayout.New())
)

// FlowSchema returns the Arrow schema of flow files. The Parquet types
// follow FLOWS_SCHEMA.md: timestamps are INT64 TIMESTAMP(MICROS) (UTC-
// adjusted except the export timestamp), strings are UTF-8 BYTE_ARRAY,
// pointer fields are the nullable columns. Safe for concurrent use.
func FlowSchema() *arrow.Schema { return flowSchema }

// PacketSchema returns the Arrow schema of packet files. Safe for concurrent
// use.
func PacketSchema() *arrow.Schema { return packetSchema }
