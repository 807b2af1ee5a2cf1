package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/objectkey"
)

// object is one listed lake object.
type object struct {
	key  string
	size int64
}

// dataPrefix is where the table's data objects are: every key under it is
// <prefix>/table=<t>/dt=…/hour=…/….jsonl.gz, and no error object is.
func (r *run) dataPrefix() string { return objectkey.DataPrefix(r.cfg.Prefix) + r.cfg.Table + "/" }

// list returns the table's data objects, in key order (S3 lists in UTF-8
// binary order, which Go's string order is).
func (r *run) list(ctx context.Context) ([]object, error) {
	var out []object
	in := &s3.ListObjectsV2Input{Bucket: aws.String(r.cfg.Bucket), Prefix: aws.String(r.dataPrefix())}
	for {
		page, err := r.cfg.List.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", r.cfg.Bucket, r.dataPrefix(), err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			// The prefix already excludes _errors/; the check keeps that
			// true whatever a listing returns.
			if !strings.HasSuffix(key, objectkey.Suffix) || strings.Contains(key, "/"+objectkey.ErrorsDir+"/") {
				continue
			}
			out = append(out, object{key: key, size: aws.ToInt64(o.Size)})
			r.objectsListed.Add(1)
		}
		if !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextContinuationToken) == "" {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	slices.SortFunc(out, func(a, b object) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

// readObjects reads objects with Config.Readers goroutines and hands each
// line that parses to handle, which must be safe for concurrent use.
// Lines that do not parse are recorded as malformed.
func (r *run) readObjects(ctx context.Context, objects []object, handle func(fold.Line) error) error {
	work := make(chan object)
	g := newGroup(ctx)
	for range min(r.cfg.Readers, max(1, len(objects))) {
		g.run(func(ctx context.Context) error {
			rd := fold.NewObjectReader()
			for o := range work {
				if err := r.readObject(ctx, rd, o, handle); err != nil {
					return err
				}
			}
			return nil
		})
	}
	func() {
		defer close(work)
		for _, o := range objects {
			select {
			case work <- o:
			case <-g.ctx.Done():
				return
			}
		}
	}()
	return g.wait()
}

func (r *run) readObject(ctx context.Context, rd *fold.ObjectReader, o object, handle func(fold.Line) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	out, err := r.cfg.Get.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.cfg.Bucket), Key: aws.String(o.key)})
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", r.cfg.Bucket, o.key, err)
	}
	defer out.Body.Close()
	n, err := rd.Read(out.Body, func(no int, line []byte) error {
		l, err := fold.Parse(line)
		if err != nil {
			r.malformedLine(o.key, no, err)
			return nil
		}
		return handle(l)
	})
	r.linesRead.Add(int64(n))
	if err != nil {
		return fmt.Errorf("read s3://%s/%s: %w", r.cfg.Bucket, o.key, err)
	}
	r.objectsRead.Add(1)
	return nil
}
