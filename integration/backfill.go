package integration

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/backfill"
	"github.com/ddbstream/pipeline/internal/reconcile"
	"github.com/ddbstream/pipeline/internal/record"
)

// backfillPoll is how often the backfill checks the export and the
// conversion (the command's --poll; 15s by default in AWS, where an export
// takes minutes). It is the backfill's own pace: nothing waits on it.
const backfillPoll = 100 * time.Millisecond

// Backfill runs ddbstream backfill, its library internal/backfill as the
// command runs it, against the local pipeline: it checks the table's
// stream and point-in-time recovery, starts the export through the
// exports endpoint, and follows the export and its conversion (the
// planner and converter, started by the export's manifest-summary.json as
// in AWS) until every data file with items has its snapshot object.
// Drain then waits for those objects' delivery.
func (p *Pipeline) Backfill(ctx context.Context, progress func(backfill.Progress)) (backfill.Report, error) {
	as := p.As(BackfillPrincipal)
	cfg := backfill.Config{Table: p.Opts.Table, Bucket: p.Opts.Bucket, Prefix: p.Opts.Prefix, ExportPrefix: p.ExportPrefix,
		StreamARN: p.StreamARN, Poll: backfillPoll, Timeout: 10 * time.Minute, Progress: progress,
		Lambda: as.Lambda, StreamerFunction: StreamerFunction, PlannerFunction: PlannerFunction, TempDir: p.Opts.WorkDir}
	return backfill.Run(ctx, cfg, as.DynamoDB, as.S3)
}

// Reconcile runs ddbstream reconcile, its library internal/reconcile as
// the command runs it, against the local pipeline: the lake folded by
// order key, compared with a strongly consistent Scan of the table. Run
// it once the pipeline has drained; the examples carry values.
func (p *Pipeline) Reconcile(ctx context.Context) (*reconcile.Report, error) {
	format, err := record.ParseImageFormat(cmp.Or(p.Opts.StreamerEnv["IMAGE_FORMAT"], "plain"))
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	as := p.As(ReconcilePrincipal)
	return reconcile.Run(ctx, reconcile.Config{
		Table: p.Opts.Table, Bucket: p.Opts.Bucket, Prefix: p.Opts.Prefix, ImageFormat: format,
		List: as.S3, Get: as.S3, Scan: as.DynamoDB, BatchGet: as.DynamoDB, Describe: as.DynamoDB,
		ConsistentRead: true, TempDir: p.Opts.WorkDir, ShowValues: true,
	})
}

// BackfillSummary renders a backfill's report as make local prints it:
// the export, its items and data files, the snapshot objects written.
func BackfillSummary(r backfill.Report) string {
	var b strings.Builder
	id := r.ExportARN[strings.LastIndexByte(r.ExportARN, '/')+1:]
	fmt.Fprintf(&b, "backfill export:              %s, %s, export time %s\n", id, r.Status, r.ExportTime.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "backfill items exported:      %d in %d data files (%d empty)\n", r.Items, r.DataFiles, r.EmptyFiles)
	fmt.Fprintf(&b, "backfill snapshot objects:    %d (%d of %d data files with items converted, %d errors objects)\n",
		r.DataObjects, r.Converted, r.DataFiles-r.EmptyFiles, r.ErrorObjects)
	fmt.Fprintf(&b, "backfill delete lines:        %d items the export lacks (of %d lake items in %d objects)\n", r.Deleted, r.LakeItems, r.LakeObjects)
	fmt.Fprintf(&b, "backfill took:                %s (the export %s)\n", r.Duration.Round(time.Millisecond), r.ExportDuration.Round(time.Millisecond))
	return b.String()
}

// ReconcileSummary renders a reconciliation as make local prints it,
// ending with the verdict: "lake equals table: YES", or NO with the
// differences by kind.
func ReconcileSummary(r *reconcile.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "reconcile:                    %d items scanned, %d lake lines in %d objects\n", r.Scanned, r.Lines, r.Objects)
	fmt.Fprintf(&b, "reconcile outcomes:           %d equal, %d missing from lake, %d only in lake, %d different, %d in flight, %d unverified, %d conflict, %d malformed lines\n",
		r.Equal, r.MissingFromLake, r.OnlyInLake, r.Different, r.InFlight, r.Unverified, r.Conflict, r.MalformedLines)
	for _, x := range r.Examples {
		fmt.Fprintf(&b, "  %s: %s (lake order key %s)\n", x.Outcome, x.Keys, cmp.Or(x.LakeOrderKey, "-"))
	}
	for _, m := range r.Malformed {
		fmt.Fprintf(&b, "  malformed: %s line %d: %s\n", m.Object, m.Line, m.Reason)
	}
	if n := r.Differences(); n > 0 {
		fmt.Fprintf(&b, "lake equals table:            NO: %d differences\n", n)
	} else {
		fmt.Fprintf(&b, "lake equals table:            YES\n")
	}
	return b.String()
}
