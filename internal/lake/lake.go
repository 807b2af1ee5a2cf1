package lake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/objectkey"
)

// Lister lists the lake's objects, with the SDK client's signature.
type Lister interface {
	ListObjectsV2(ctx context.Context, params *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Getter reads one lake object, with the SDK client's signature.
type Getter interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Table is one table's part of the lake.
type Table struct {
	List Lister
	Get  Getter
	// Bucket and Prefix are the pipeline's BUCKET_NAME and S3_PREFIX.
	Bucket, Prefix string
	// Name is the DynamoDB table's name, as table=<name> in the keys.
	Name string
	// Readers is how many objects are read at once (default 8).
	Readers int
}

// Object is one listed data object.
type Object struct {
	Key  string
	Size int64
}

// Dir is where the table's data objects are: every key under it is
// <prefix>/table=<t>/dt=…/hour=…/….jsonl.gz, and no errors object is.
func (t Table) Dir() string { return objectkey.DataPrefix(t.Prefix) + t.Name + "/" }

// Objects lists the table's data objects in key order (S3 lists in UTF-8
// binary order, which Go's string order is). listed, if set, is called
// once per object found, for progress.
func (t Table) Objects(ctx context.Context, listed func()) ([]Object, error) {
	var out []Object
	dir := t.Dir()
	p := s3.NewListObjectsV2Paginator(t.List, &s3.ListObjectsV2Input{Bucket: aws.String(t.Bucket), Prefix: aws.String(dir)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", t.Bucket, dir, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			// The prefix already excludes _errors/; the check keeps that
			// true whatever a listing returns.
			if !strings.HasSuffix(key, objectkey.Suffix) || strings.Contains(key, "/"+objectkey.ErrorsDir+"/") {
				continue
			}
			out = append(out, Object{Key: key, Size: aws.ToInt64(o.Size)})
			if listed != nil {
				listed()
			}
		}
	}
	slices.SortFunc(out, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Handler receives what Read finds. Its functions are called from several
// goroutines at once and must be safe for that.
type Handler struct {
	// Line receives each line that parses (fold.Parse); its slices are
	// valid until it returns.
	Line func(fold.Line) error
	// Malformed, if set, receives each line that does not parse, by
	// object key and line number; the read goes on.
	Malformed func(key string, line int, err error)
	// Done, if set, is called after each object with its line count.
	Done func(lines int)
}

// Read reads objects with t.Readers goroutines and hands their lines to
// h. The first error (an S3 call, a broken object, h.Line's) stops it.
func (t Table) Read(parent context.Context, objects []Object, h Handler) error {
	if h.Line == nil {
		return errors.New("lake: no line handler")
	}
	readers := t.Readers
	if readers <= 0 {
		readers = 8
	}
	g, ctx := errgroup.WithContext(parent)
	work := make(chan Object)
	for range min(readers, max(1, len(objects))) {
		g.Go(func() error {
			rd := fold.NewObjectReader()
			for o := range work {
				if err := t.read(ctx, rd, o, h); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(work)
		for _, o := range objects {
			select {
			case work <- o:
			case <-ctx.Done():
				return nil
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return parent.Err()
}

func (t Table) read(ctx context.Context, rd *fold.ObjectReader, o Object, h Handler) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	out, err := t.Get.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(o.Key)})
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", t.Bucket, o.Key, err)
	}
	defer out.Body.Close()
	n, err := rd.Read(out.Body, func(no int, line []byte) error {
		l, err := fold.Parse(line)
		if err != nil {
			if h.Malformed != nil {
				h.Malformed(o.Key, no, err)
			}
			return nil
		}
		return h.Line(l)
	})
	if err != nil {
		return fmt.Errorf("read s3://%s/%s: %w", t.Bucket, o.Key, err)
	}
	if h.Done != nil {
		h.Done(n)
	}
	return nil
}
