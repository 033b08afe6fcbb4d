// Package e2e holds the datalake's end-to-end tests: the demo lake run
// through the lab's queries, files of the Parquet writer read by DuckDB, and
// readers querying while a writer publishes. It wires the adapters together
// as the kernel does (datalake + duckdb + parquet + demo), which adapters
// themselves must not. It has no code besides its tests.
package e2e
