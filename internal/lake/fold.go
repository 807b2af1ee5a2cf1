package lake

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/ddbstream/pipeline/internal/fold"
)

// FoldStats says what Fold read.
type FoldStats struct {
	Objects, Lines, Malformed, Items int64
	// Bytes is the listed size of the objects read.
	Bytes int64
}

// spillPerStoredByte estimates the spill per stored (gzip) lake byte: a
// spill record keeps a line's keys, order key and newImage, about half of
// it, and gzip shrinks JSON lines four- to eightfold. Walk corrects a
// wrong estimate by splitting partitions.
const spillPerStoredByte = 4

// Fold folds the table's whole lake with the fold rule (package fold) and
// calls fn with every item's state, one partition at a time, in no
// particular order. The lines are spilled to a directory made in tempDir
// (os.TempDir when empty) and removed at the end; budget bounds the memory
// of one folded partition (fold.DefaultBudget when 0). fn must not keep
// the state's slices. Lines that do not parse are counted, not folded.
func (t Table) Fold(ctx context.Context, tempDir string, budget int64, fn func(fold.State) error) (FoldStats, error) {
	var st FoldStats
	objects, err := t.Objects(ctx, nil)
	if err != nil {
		return st, err
	}
	st.Objects = int64(len(objects))
	for _, o := range objects {
		st.Bytes += o.Size
	}
	dir, err := os.MkdirTemp(tempDir, "lake-")
	if err != nil {
		return st, fmt.Errorf("spill directory: %w", err)
	}
	defer os.RemoveAll(dir)
	spill, err := fold.NewSpill(dir, fold.ChoosePartitions(st.Bytes*spillPerStoredByte, budget))
	if err != nil {
		return st, err
	}
	defer spill.Remove()
	var lines, malformed atomic.Int64
	err = t.Read(ctx, objects, Handler{
		Line:      func(l fold.Line) error { return spill.Add(fold.Rec(l)) },
		Malformed: func(string, int, error) { malformed.Add(1) },
		Done:      func(n int) { lines.Add(int64(n)) },
	})
	st.Lines, st.Malformed = lines.Load(), malformed.Load()
	if err != nil {
		return st, err
	}
	if err := spill.Finish(); err != nil {
		return st, err
	}
	_, err = fold.Walk(spill, nil, budget, func(tb *fold.Table, _ []fold.Part) error {
		st.Items += int64(tb.Len())
		if err := ctx.Err(); err != nil {
			return err
		}
		return tb.Each(fn)
	})
	return st, err
}
