package backfill

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/export"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// This file is where the backfill meets the export converter's output.
// For each data file of an export the converter writes, dated by the
// export time (objectkey.Snapshot and SnapshotErrors):
//
//	<prefix>/table=<table>/dt=…/hour=…/snapshot-<export ID>-<data file>.jsonl.gz          the converted rows
//	<prefix>/_errors/table=<table>/dt=…/hour=…/snapshot-<export ID>-<data file>.jsonl.gz  its lines that are not items
//
// completing the errors object first, so that a data object means the
// whole file is converted. A file with no items gets no object; a file
// whose every line is bad gets only the errors object.

// manifest is what manifest-files.json says, by data file name (without
// directory and extension, as in object keys).
type manifest struct {
	items   int64
	itemsOf map[string]int64
	empty   int
}

func (m manifest) files() int { return len(m.itemsOf) }

func readManifest(r io.Reader) (manifest, error) {
	files, err := export.ReadDataFiles(r)
	if err != nil {
		return manifest{}, err
	}
	m := manifest{itemsOf: map[string]int64{}}
	for _, f := range files {
		name, ok := strings.CutSuffix(path.Base(f.DataFileS3Key), export.DataFileSuffix)
		if !ok || name == "" {
			return manifest{}, fmt.Errorf("dataFileS3Key %q is not a data file .../<name>%s", f.DataFileS3Key, export.DataFileSuffix)
		}
		m.itemsOf[name] = f.ItemCount
		m.items += f.ItemCount
		if f.ItemCount == 0 {
			m.empty++
		}
	}
	if len(m.itemsOf) == 0 {
		return manifest{}, fmt.Errorf("it lists no data files")
	}
	return m, nil
}

// conversion is how far the converter got with an export.
type conversion struct {
	// converted counts data files with items that are wholly converted.
	converted int
	// dataObjects and errorObjects count the objects written.
	dataObjects, errorObjects int
	// deletes is set once the export's delete object exists.
	deletes bool
}

// snapshotDirs returns the key prefixes under which all of an export's
// converted objects, and its errors objects, are: the snapshot key of a
// data file named "x", without that name.
func snapshotDirs(prefix, table, id string, exportTime time.Time) (data, errs string, err error) {
	f := objectkey.SnapshotFile{Prefix: prefix, Table: table, ExportID: id, DataFile: "x", ExportTime: exportTime}
	if data, err = objectkey.Snapshot(f); err != nil {
		return "", "", err
	}
	if errs, err = objectkey.SnapshotErrors(f); err != nil {
		return "", "", err
	}
	cut := len("x" + objectkey.Suffix)
	return data[:len(data)-cut], errs[:len(errs)-cut], nil
}

// count finds the export's objects. A data file is converted when its
// data object exists, or, for a file of bad lines only, when its errors
// object holds all of its items.
func (b *run) count(ctx context.Context, id string, exportTime time.Time, m manifest) (conversion, error) {
	var c conversion
	dataDir, errsDir, err := snapshotDirs(b.cfg.Prefix, b.cfg.Table, id, exportTime)
	if err != nil {
		return c, err
	}
	data, err := b.list(ctx, dataDir, id, false)
	if err != nil {
		return c, err
	}
	if _, ok := data[record.SnapshotDeletes]; ok {
		c.deletes = true
		delete(data, record.SnapshotDeletes)
	}
	errs, err := b.list(ctx, errsDir, id, true)
	if err != nil {
		return c, err
	}
	c.dataObjects, c.errorObjects = len(data), len(errs)
	for name, items := range m.itemsOf {
		if items == 0 {
			continue
		}
		if _, ok := data[name]; ok {
			c.converted++
			continue
		}
		if key, ok := errs[name]; ok {
			lines, err := b.errorLines(ctx, key)
			if err != nil {
				return c, err
			}
			if lines >= items {
				c.converted++
			}
		}
	}
	return c, nil
}

// list returns the export's objects under dir by data file name.
func (b *run) list(ctx context.Context, dir, id string, errs bool) (map[string]string, error) {
	found := map[string]string{}
	p := s3.NewListObjectsV2Paginator(b.objects, &s3.ListObjectsV2Input{Bucket: aws.String(b.cfg.Bucket), Prefix: aws.String(dir)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", b.cfg.Bucket, dir, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			parts, err := objectkey.Parse(key)
			if err == nil && parts.Snapshot && parts.ExportID == id && parts.Errors == errs {
				found[parts.DataFile] = key
			}
		}
	}
	return found, nil
}

// errorLines counts the lines of an errors object, once: it is complete
// when it becomes visible.
func (b *run) errorLines(ctx context.Context, key string) (int64, error) {
	if n, ok := b.lines[key]; ok {
		return n, nil
	}
	out, err := b.objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return 0, fmt.Errorf("read s3://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	defer out.Body.Close()
	zr, err := gzip.NewReader(bufio.NewReader(out.Body))
	if err != nil {
		return 0, fmt.Errorf("s3://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	var n int64
	buf := make([]byte, 64<<10)
	for {
		k, rerr := zr.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, fmt.Errorf("s3://%s/%s: %w", b.cfg.Bucket, key, rerr)
		}
	}
	if b.lines == nil {
		b.lines = map[string]int64{}
	}
	b.lines[key] = n
	return n, nil
}
