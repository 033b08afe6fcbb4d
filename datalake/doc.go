// Package datalake is flowlab's storage layout and the API notebook cells use
// to query it.
//
// A lake is a directory tree of datasets. A dataset has an absolute lake path
// (/tetration/flows, /tetration/packets, /appdata/<app>/..., or
// /appdata/datasink/<name>) and is partitioned by hour in Hive style:
//
//	<root>/tetration/flows/dt=2026-01-02/hr=13/part-....parquet
//
// Hours are UTC. Parquet, JSON (one object per line) and CSV datasets use the
// same folders, so Spark, Trino, DuckDB or pandas can write data that flowlab
// reads, and read what flowlab writes. Partition files are published
// atomically (temporary name, fsync, rename): readers never see half a file.
//
// Cells see IO, SQL and Frame:
//
//	flows := IO.Read("/tetration/flows", "PARQUET", "LASTHOUR")
//	flows.RegisterTempTable("flows")
//	obs := SQL(`SELECT src_address AS source, dst_address AS destination, dst_port AS port
//	            FROM flows WHERE fwd_pkts = 1 AND fwd_syn_count = 1
//	            AND (rev_pkts = 0 OR (rev_pkts = 1 AND rev_rst_count = 1))`)
//	obs.Persist()
//	scans := obs.DropDuplicates("source", "destination", "port").
//		GroupBy("source", "destination").Count().
//		Filter("count > ?", 10)
//
// A Frame only describes a query: every builder call returns a new Frame whose
// SQL wraps the previous one, and a terminal call (Count, Collect, Rows,
// Strings, Stats, ToCSV, or rendering the frame as a cell's value) compiles
// the chain to one SQL statement and runs it in the engine. No row is touched
// by the interpreter.
//
// The engine is behind the consumer-side Engine interface; the DuckDB adapter
// lives in datalake/duckdb, the only package of the lake that uses cgo. The
// kernel calls Configure once at start with the lake root and an engine
// factory; the engine itself is created on the first query.
package datalake
