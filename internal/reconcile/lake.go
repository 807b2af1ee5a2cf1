package reconcile

import (
	"context"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/lake"
)

// object is one listed lake object.
type object = lake.Object

// lakeTable is the table's part of the lake, read by package lake.
func (r *run) lakeTable() lake.Table {
	return lake.Table{List: r.cfg.List, Get: r.cfg.Get, Bucket: r.cfg.Bucket, Prefix: r.cfg.Prefix, Name: r.cfg.Table, Readers: r.cfg.Readers}
}

// list returns the table's data objects, in key order.
func (r *run) list(ctx context.Context) ([]object, error) {
	return r.lakeTable().Objects(ctx, func() { r.objectsListed.Add(1) })
}

// readObjects reads objects with Config.Readers goroutines and hands each
// line that parses to handle, which must be safe for concurrent use.
// Lines that do not parse are recorded as malformed.
func (r *run) readObjects(ctx context.Context, objects []object, handle func(fold.Line) error) error {
	return r.lakeTable().Read(ctx, objects, lake.Handler{
		Line:      handle,
		Malformed: r.malformedLine,
		Done: func(lines int) {
			r.linesRead.Add(int64(lines))
			r.objectsRead.Add(1)
		},
	})
}
