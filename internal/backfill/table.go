package backfill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbstream/pipeline/internal/orderkey"
)

// table is what the checks learn from DescribeTable.
type table struct {
	name, arn, stream string
	streamCreated     time.Time
}

// table reads the table and checks its stream: enabled, and the one the
// pipeline reads.
func (b *run) table(ctx context.Context) (table, error) {
	name := b.cfg.Table
	out, err := b.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return table{}, &Error{Msg: "table " + name + " not found", Err: err,
			Remedy: "check the table name (--table, or the stack's TableName output) and the region (--region or AWS_REGION)"}
	}
	if err != nil {
		return table{}, fmt.Errorf("describe table %s: %w", name, err)
	}
	d := out.Table
	if d == nil || d.TableArn == nil {
		return table{}, fmt.Errorf("describe table %s: no table description in the answer", name)
	}
	spec := d.StreamSpecification
	if spec == nil || !aws.ToBool(spec.StreamEnabled) || d.LatestStreamArn == nil {
		return table{}, &Error{Msg: "table " + name + " has no stream enabled: nothing would carry the changes made after the export",
			Remedy: "deploy the pipeline stack, which enables the table's NEW_AND_OLD_IMAGES stream, then run backfill once the stream is " +
				orderkey.SnapshotMargin.String() + " old"}
	}
	if want := b.cfg.StreamARN; want != "" && aws.ToString(d.LatestStreamArn) != want {
		return table{}, &Error{Msg: fmt.Sprintf("the pipeline reads stream %s, but the table's current stream is %s: the pipeline misses every change since",
			want, aws.ToString(d.LatestStreamArn)),
			Remedy: "redeploy the stack so that its event source mapping reads the current stream (existingStreamArn for an imported table), then run backfill"}
	}
	created, err := streamCreated(aws.ToString(d.LatestStreamLabel))
	if err != nil {
		return table{}, fmt.Errorf("table %s: %w", name, err)
	}
	return table{name: name, arn: aws.ToString(d.TableArn), stream: aws.ToString(d.LatestStreamArn), streamCreated: created}, nil
}

// streamLabelLayouts are the forms of LatestStreamLabel, "a timestamp,
// in ISO 8601 format" of the stream's creation, such as
// 2015-05-11T21:21:33.291 (UTC, no zone)
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html).
var streamLabelLayouts = []string{"2006-01-02T15:04:05.999999999", time.RFC3339Nano}

func streamCreated(label string) (time.Time, error) {
	for _, layout := range streamLabelLayouts {
		if t, err := time.Parse(layout, label); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("stream label %q is not an ISO 8601 time", label)
}

// recoveryWindow checks that point-in-time recovery is on, and returns
// the latest time an export may reflect.
func (b *run) recoveryWindow(ctx context.Context) (time.Time, error) {
	name := b.cfg.Table
	out, err := b.db.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(name)})
	if err != nil {
		return time.Time{}, fmt.Errorf("describe continuous backups of %s: %w", name, err)
	}
	var p *types.PointInTimeRecoveryDescription
	if out.ContinuousBackupsDescription != nil {
		p = out.ContinuousBackupsDescription.PointInTimeRecoveryDescription
	}
	if p == nil || p.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		return time.Time{}, pitrOff(name, nil)
	}
	if p.LatestRestorableDateTime == nil {
		return b.cfg.Now(), nil
	}
	return *p.LatestRestorableDateTime, nil
}

func pitrOff(name string, err error) error {
	return &Error{Msg: "point-in-time recovery is off for table " + name + ": table exports read from it", Err: err,
		Remedy: "turn it on (aws dynamodb update-continuous-backups --table-name " + name +
			" --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true; the stack's own table has it on), then run backfill again"}
}
