package backfill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// exportID is the last part of an export ARN (…/export/01234567890123-a1b2c3d4).
func exportID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// exportDir is where an export's files are:
// export-prefix/AWSDynamoDB/ExportId
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html).
func exportDir(prefix, id string) string {
	if prefix == "" {
		return "AWSDynamoDB/" + id
	}
	return prefix + "/AWSDynamoDB/" + id
}

func (b *run) setExport(d *types.ExportDescription) {
	r := &b.report
	r.ExportARN, r.ClientToken, r.Status = aws.ToString(d.ExportArn), aws.ToString(d.ClientToken), string(d.ExportStatus)
	r.ExportTime = aws.ToTime(d.ExportTime)
	r.ExportDir = "s3://" + aws.ToString(d.S3Bucket) + "/" + exportDir(aws.ToString(d.S3Prefix), exportID(r.ExportARN))
	if d.ItemCount != nil {
		r.Items = *d.ItemCount
	}
	if d.StartTime != nil && d.EndTime != nil {
		r.ExportDuration = d.EndTime.Sub(*d.StartTime)
	}
}

// sleep waits one poll interval.
func (b *run) sleep(ctx context.Context) error {
	t := time.NewTimer(b.cfg.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return interrupted(ctx.Err(), "backfill")
	case <-t.C:
		return nil
	}
}

// follow waits for the export to complete and then for its conversion.
func (b *run) follow(ctx context.Context, d *types.ExportDescription) error {
	b.setExport(d)
	arn := aws.ToString(d.ExportArn)
	for d.ExportStatus == types.ExportStatusInProgress {
		b.cfg.Progress(Progress{Phase: PhaseExport, ExportARN: arn, Status: string(d.ExportStatus), Elapsed: b.cfg.Now().Sub(aws.ToTime(d.StartTime))})
		if !b.cfg.Now().Before(b.deadline) {
			return &Error{Msg: fmt.Sprintf("export %s still %s after %s", arn, d.ExportStatus, b.cfg.Timeout), Unfinished: true,
				Remedy: "exports of large tables take hours: run the same command again (with a longer --timeout) to attach to it"}
		}
		if err := b.sleep(ctx); err != nil {
			return err
		}
		var err error
		if d, err = b.describe(ctx, arn); err != nil {
			return err
		}
		b.setExport(d)
	}
	switch d.ExportStatus {
	case types.ExportStatusCompleted:
	case types.ExportStatusFailed:
		return &Error{Msg: fmt.Sprintf("export %s failed: %s: %s", arn, aws.ToString(d.FailureCode), aws.ToString(d.FailureMessage)),
			Remedy: "fix the cause (for an S3 or KMS error: DynamoDB must be allowed to write to the bucket and use its key), then run backfill again: it starts a new export"}
	default:
		return fmt.Errorf("export %s has status %q", arn, d.ExportStatus)
	}

	m, err := b.manifest(ctx, d)
	if err != nil {
		return err
	}
	id, exportTime := exportID(arn), aws.ToTime(d.ExportTime)
	// The conversion can start no earlier than the export's end; a run
	// that attaches later than that measures from the export's end.
	convStart := b.cfg.Now()
	if end := aws.ToTime(d.EndTime); !end.IsZero() && end.Before(convStart) {
		convStart = end
	}
	for {
		c, err := b.count(ctx, id, exportTime, m)
		if err != nil {
			return err
		}
		b.setConversion(m, c)
		toConvert := m.files() - m.empty
		b.cfg.Progress(Progress{Phase: PhaseConvert, ExportARN: arn, Status: string(d.ExportStatus),
			Elapsed: b.cfg.Now().Sub(aws.ToTime(d.StartTime)), Converted: c.converted, ToConvert: toConvert, Errors: c.errorObjects,
			Concurrency: b.cfg.ConverterConcurrency, Remaining: remaining(c.converted, toConvert, b.cfg.Now().Sub(convStart))})
		if c.converted >= toConvert {
			return b.finish(ctx, exportTime, c.deletes)
		}
		stalled := c.converted == 0 && c.dataObjects == 0 && c.errorObjects == 0 && !b.cfg.Now().Before(convStart.Add(b.cfg.StallWait))
		if stalled && !b.report.PlannerInvoked && b.cfg.PlannerFunction != "" {
			if err := b.nudge(ctx, d); err != nil {
				return err
			}
		}
		if !b.cfg.Now().Before(b.deadline) {
			return &Error{Msg: fmt.Sprintf("conversion of export %s: %d of %d data files converted after %s", arn, c.converted, toConvert, b.cfg.Timeout), Unfinished: true,
				Remedy: "run the same command again to keep following it; if the count does not move, the export planner's and converter's failure queues hold what Lambda gave up on: fix the cause their logs give, then ddbstream redrive --source export converts those files again"}
		}
		if err := b.sleep(ctx); err != nil {
			return err
		}
	}
}

// remaining estimates the time until the last of toConvert data files is
// converted, from the rate so far: converted files in elapsed. The rate
// already reflects how many convert at once (the converter's reserved
// concurrency), so the estimate is only as good as the files are alike.
func remaining(converted, toConvert int, elapsed time.Duration) time.Duration {
	if converted <= 0 || converted >= toConvert || elapsed <= 0 {
		return 0
	}
	return time.Duration(float64(elapsed) / float64(converted) * float64(toConvert-converted)).Round(time.Second)
}

func (b *run) setConversion(m manifest, c conversion) {
	r := &b.report
	r.DataFiles, r.EmptyFiles, r.Items = m.files(), m.empty, m.items
	r.Converted, r.DataObjects, r.ErrorObjects = c.converted, c.dataObjects, c.errorObjects
}

// finish judges a converted export: lines the converter could not convert
// are kept under _errors/, and the backfill is not complete without them,
// nor can it tell which items the export lacks; otherwise it writes the
// export's delete lines, unless deletesFound says they exist.
func (b *run) finish(ctx context.Context, exportTime time.Time, deletesFound bool) error {
	id := exportID(b.report.ExportARN)
	n := b.report.ErrorObjects
	if n == 0 {
		return b.deletes(ctx, id, exportTime, deletesFound)
	}
	_, errsDir, _ := snapshotDirs(b.cfg.Prefix, b.cfg.Table, id, exportTime)
	return &Error{Msg: fmt.Sprintf("%d objects s3://%s/%s*.jsonl.gz hold lines of export %s that could not be converted, so the items it lacks were not deleted from the lake", n, b.cfg.Bucket, errsDir, id),
		Remedy: "read them (each line gives its reason and the item as exported); every other item of the export is in the lake. Once the cause is fixed, a new backfill (in a later hour) converts a new export and deletes what it lacks"}
}

// manifest reads the export's files manifest: one JSON line per data
// file, with its itemCount.
func (b *run) manifest(ctx context.Context, d *types.ExportDescription) (manifest, error) {
	bucket := aws.ToString(d.S3Bucket)
	key := exportDir(aws.ToString(d.S3Prefix), exportID(aws.ToString(d.ExportArn))) + "/manifest-files.json"
	out, err := b.objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return manifest{}, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	m, err := readManifest(out.Body)
	if err != nil {
		return manifest{}, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	return m, nil
}
