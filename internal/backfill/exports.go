package backfill

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxListExports is ListExports' largest page (MaxResults: 1 to 25).
const maxListExports = 25

// exports returns the table's full exports into this bucket and export
// prefix, newest first. ListExports names only ARN, status and type, so
// each is described to learn where it went.
func (b *run) exports(ctx context.Context, tableARN string) ([]*types.ExportDescription, error) {
	var ours []*types.ExportDescription
	p := dynamodb.NewListExportsPaginator(b.db, &dynamodb.ListExportsInput{TableArn: aws.String(tableARN), MaxResults: aws.Int32(maxListExports)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list exports of %s: %w", tableARN, err)
		}
		for _, s := range page.ExportSummaries {
			if s.ExportType == types.ExportTypeIncrementalExport {
				continue
			}
			d, err := b.describe(ctx, aws.ToString(s.ExportArn))
			if err != nil {
				return nil, err
			}
			if aws.ToString(d.S3Bucket) == b.cfg.Bucket && aws.ToString(d.S3Prefix) == b.cfg.ExportPrefix && d.ExportType != types.ExportTypeIncrementalExport {
				ours = append(ours, d)
			}
		}
	}
	sort.SliceStable(ours, func(i, j int) bool { return aws.ToTime(ours[i].StartTime).After(aws.ToTime(ours[j].StartTime)) })
	return ours, nil
}

func (b *run) describe(ctx context.Context, arn string) (*types.ExportDescription, error) {
	out, err := b.db.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("describe export %s: %w", arn, err)
	}
	if out.ExportDescription == nil {
		return nil, fmt.Errorf("describe export %s: no description in the answer", arn)
	}
	return out.ExportDescription, nil
}

// choose picks the export to follow among ours (newest first): one in
// progress, else the newest completed one while its conversion is
// unfinished. done is set when that export is this hour's (its token has
// base), fully converted and its delete lines written: running again
// starts nothing. Exports taken before the mapping could cover them are
// never followed.
func (b *run) choose(ctx context.Context, ours []*types.ExportDescription, m mapping, base string) (follow *types.ExportDescription, done bool, err error) {
	var usable []*types.ExportDescription
	for _, d := range ours {
		if m.covers(b.cfg.Table, aws.ToTime(d.ExportTime)) == nil {
			usable = append(usable, d)
		}
	}
	for _, d := range usable {
		if d.ExportStatus == types.ExportStatusInProgress {
			b.report.Attached = true
			return d, false, nil
		}
	}
	for _, d := range usable {
		if d.ExportStatus != types.ExportStatusCompleted {
			continue
		}
		b.setExport(d)
		files, err := b.manifest(ctx, d)
		if err != nil {
			return nil, false, err
		}
		c, err := b.count(ctx, exportID(aws.ToString(d.ExportArn)), aws.ToTime(d.ExportTime), files)
		if err != nil {
			return nil, false, err
		}
		b.setConversion(files, c)
		thisHour := strings.HasPrefix(aws.ToString(d.ClientToken), base+"-")
		switch {
		case c.converted < files.files()-files.empty, thisHour && !c.deletes:
			b.report.Attached = true
			return d, false, nil
		case thisHour:
			b.report.Attached, b.report.AlreadyDone = true, true
			return nil, true, nil
		}
		break // only the newest completed export matters
	}
	b.report = Report{TableARN: b.report.TableARN}
	return nil, false, nil
}

// clientToken names the export of a table into a bucket and export
// prefix taken in exportTime's hour (UTC): calls within the hour that
// find no export to attach to use the same token, so DynamoDB starts one
// export for them all (an identical call returns the same export, one
// with another export time gets ExportConflictException, for 8 hours).
// attempt counts this hour's earlier tokens, so that a new export can
// follow a failed one. The hour stays readable for operators:
// ddbstream-20261123T17-1a2b3c4d5e6f-1.
func clientToken(tableARN, bucket, exportPrefix string, exportTime time.Time, attempt int) string {
	hour := exportTime.UTC().Truncate(time.Hour)
	sum := sha256.Sum256([]byte(tableARN + "\n" + bucket + "\n" + exportPrefix + "\n" + hour.Format(time.RFC3339)))
	return fmt.Sprintf("ddbstream-%s-%x-%d", hour.Format("20060102T15"), sum[:6], attempt)
}

// tokenBase is a token without its attempt number.
func tokenBase(token string) string {
	if i := strings.LastIndexByte(token, '-'); i >= 0 {
		return token[:i]
	}
	return token
}

// startExport starts this hour's export, or attaches to the one a
// concurrent run started with the same token.
func (b *run) startExport(ctx context.Context, t table, ours []*types.ExportDescription, exportTime time.Time) (*types.ExportDescription, error) {
	base := tokenBase(clientToken(t.arn, b.cfg.Bucket, b.cfg.ExportPrefix, exportTime, 0))
	attempt := 1
	for _, d := range ours {
		if strings.HasPrefix(aws.ToString(d.ClientToken), base+"-") {
			attempt++
		}
	}
	token := fmt.Sprintf("%s-%d", base, attempt)
	in := &dynamodb.ExportTableToPointInTimeInput{
		TableArn: aws.String(t.arn), S3Bucket: aws.String(b.cfg.Bucket), S3Prefix: aws.String(b.cfg.ExportPrefix),
		ExportFormat: types.ExportFormatDynamodbJson, ExportType: types.ExportTypeFullExport,
		ExportTime: aws.Time(exportTime), ClientToken: aws.String(token),
	}
	if b.cfg.KMSKey != "" {
		in.S3SseAlgorithm, in.S3SseKmsKeyId = types.S3SseAlgorithmKms, aws.String(b.cfg.KMSKey)
	}
	out, err := b.db.ExportTableToPointInTime(ctx, in)
	var (
		conflict    *types.ExportConflictException
		pitr        *types.PointInTimeRecoveryUnavailableException
		invalidTime *types.InvalidExportTimeException
		limit       *types.LimitExceededException
	)
	switch {
	case errors.As(err, &conflict):
		// A concurrent run took the token with another export time.
		again, lerr := b.exports(ctx, t.arn)
		if lerr != nil {
			return nil, lerr
		}
		for _, d := range again {
			if aws.ToString(d.ClientToken) == token {
				b.report.Attached = true
				return d, nil
			}
		}
		return nil, &Error{Msg: "this hour's client token " + token + " is taken by an export not listed yet", Err: err, Unfinished: true,
			Remedy: "another backfill is probably starting it: run the same command again in a minute to attach"}
	case errors.As(err, &pitr):
		return nil, pitrOff(t.name, err)
	case errors.As(err, &invalidTime):
		return nil, &Error{Msg: "export time " + exportTime.Format(time.RFC3339) + " is outside the point-in-time recovery window", Err: err,
			Remedy: "run backfill again (the window moves with the clock); if this repeats, check this machine's clock"}
	case errors.As(err, &limit):
		return nil, &Error{Msg: "too many exports or backups are running in this account", Err: err,
			Remedy: "wait for some to finish (aws dynamodb list-exports), then run backfill again"}
	case err != nil:
		return nil, fmt.Errorf("start the export of %s: %w", t.name, err)
	case out.ExportDescription == nil:
		return nil, fmt.Errorf("start the export of %s: no description in the answer", t.name)
	}
	return out.ExportDescription, nil
}
