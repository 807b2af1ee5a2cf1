// Package currentstate holds, in its tests only, the proof that
// databricks/sql/current_state.sql is the fold rule of internal/fold: the
// query runs in DuckDB (github.com/duckdb/duckdb-go, cgo, test-only) over
// a bronze table loaded from lines the record converter made, and every
// row is compared with what internal/fold computes from the same lines.
//
// The bronze table is loaded as Databricks' Auto Loader reads the lines
// with the bundle's schema (databricks/bundle.BronzeColumns): strings
// unescaped, every other value read as STRING kept as its exact JSON text
// (Apache Spark 4.0's exact string parsing, SPARK-48148), sizeBytes as a
// BIGINT and ttlDelete as a BOOLEAN. That model of the reader is the one
// assumption the comparison rests on; the selection logic is what it tests.
//
// Nothing here is linked into a Lambda function or the operator tool.
package currentstate
