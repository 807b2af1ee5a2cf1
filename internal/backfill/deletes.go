package backfill

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/lake"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/output"
	"github.com/ddbstream/pipeline/internal/record"
)

// An export holds only the items that exist at its time. An item the lake
// still holds but the table no longer does (its REMOVE was lost: a range
// past the stream's retention, a batch the mapping gave up on) has no
// snapshot row to override it, so without more it stays present in every
// consumer forever. So once an export is wholly converted, the backfill
// folds the lake and writes one more object beside the snapshot objects,
// holding a REMOVE line at the snapshot's rank (record.AppendSnapshotDelete)
// for every item whose newest line ranks below the snapshot and is not a
// REMOVE. Such an item is not in the export (its snapshot row would rank
// exactly at the snapshot), and no change of it from the margin on reached
// the lake, so it did not exist at the export time.
//
// Delete lines rather than a completeness marker: every consumer (the Go
// fold and reconcile, databricks/sql/current_state.sql, the Lakeflow
// pipeline's AUTO CDC, the copy-into mode's table, a user's own reader) already
// applies a REMOVE by the fold rule, where a marker would have to be joined
// by each of them, and AUTO CDC applies changes per key, so it cannot
// express "every key below this rank".
//
// The object's key is a function of the export only, and it is written
// with If-None-Match: *, so a repeated or concurrent backfill writes it
// once. It is written, empty, also when no item needs deleting: it
// records that the export's deletes are done.

// deletesFile is the names of an export's delete object.
func deletesFile(prefix, table, id string, exportTime time.Time) objectkey.SnapshotFile {
	return objectkey.SnapshotFile{Prefix: prefix, Table: table, ExportID: id, DataFile: record.SnapshotDeletes, ExportTime: exportTime}
}

// deletes writes the export's delete object, unless it exists (found).
func (b *run) deletes(ctx context.Context, id string, exportTime time.Time, found bool) error {
	key, err := objectkey.Snapshot(deletesFile(b.cfg.Prefix, b.cfg.Table, id, exportTime))
	if err != nil {
		return err
	}
	r := &b.report
	r.DeletesKey = key
	if found {
		r.DeletesAlready = true
		return nil
	}
	b.cfg.Progress(Progress{Phase: PhaseDeletes, ExportARN: r.ExportARN, Status: r.Status, Converted: r.Converted, ToConvert: r.DataFiles - r.EmptyFiles})
	f, err := os.CreateTemp(b.cfg.TempDir, "deletes-*.jsonl.gz")
	if err != nil {
		return fmt.Errorf("deletes: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	bw := bufio.NewWriterSize(f, 256<<10)
	zw, err := gzip.NewWriterLevel(bw, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	rank := orderkey.Snapshot(exportTime)
	snap := record.Snapshot{Table: b.cfg.Table, ExportID: id, ExportTime: exportTime}
	var line []byte
	var n int
	src := lake.Table{List: b.objects, Get: b.objects, Bucket: b.cfg.Bucket, Prefix: b.cfg.Prefix, Name: b.cfg.Table}
	stats, err := src.Fold(ctx, b.cfg.TempDir, b.cfg.FoldMemory, func(st fold.State) error {
		if !st.DeletedBySnapshot(rank) {
			return nil
		}
		n++
		line = append(record.AppendSnapshotDelete(line[:0], &snap, []byte(st.Keys), n), '\n')
		_, err := zw.Write(line)
		return err
	})
	r.LakeObjects, r.LakeItems, r.MalformedLines = stats.Objects, stats.Items, stats.Malformed
	if err != nil {
		return fmt.Errorf("fold the lake of %s: %w", b.cfg.Table, err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	size, err := f.Seek(0, 1)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	headers := output.Defaults(1)
	in := &s3.PutObjectInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key), Body: f, ContentLength: aws.Int64(size),
		IfNoneMatch: aws.String("*"), ContentType: aws.String(headers.ContentType), ContentEncoding: aws.String(headers.ContentEncoding),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32c,
		Metadata:          map[string]string{"records": strconv.Itoa(n), "export-id": id},
	}
	if b.cfg.KMSKey != "" {
		in.ServerSideEncryption, in.SSEKMSKeyId, in.BucketKeyEnabled = s3types.ServerSideEncryptionAwsKms, aws.String(b.cfg.KMSKey), aws.Bool(true)
	}
	_, err = b.objects.PutObject(ctx, in)
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
		// A concurrent backfill wrote it first: from the same lake, with
		// the same rule.
		r.DeletesAlready = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("write s3://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	r.Deleted = int64(n)
	return nil
}
