package iam

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/lake"
	"github.com/ddbstream/pipeline/internal/replay/errorlist"
	"github.com/ddbstream/pipeline/internal/testing/iamsim"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

// recorder passes S3 calls to an in-memory bucket and keeps each call's
// operation and key or prefix: the requests the code really makes.
type recorder struct {
	bucket *opsfake.Bucket
	mu     sync.Mutex
	calls  []recorded
}

type recorded struct{ op, key string }

func (r *recorder) add(op, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, recorded{op, key})
}

func (r *recorder) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	r.add("ListObjectsV2", aws.ToString(in.Prefix))
	return r.bucket.ListObjectsV2(ctx, in, o...)
}

func (r *recorder) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	r.add("GetObject", aws.ToString(in.Key))
	return r.bucket.GetObject(ctx, in, o...)
}

// checks turns the recorded calls into requests of q's principal.
func (r *recorder) checks(q *requests, what string) []iamsim.Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		switch c.op {
		case "ListObjectsV2":
			q.list(what+": ListObjectsV2", c.key)
		case "GetObject":
			q.read(what+": GetObject", c.key)
		}
	}
	return q.checks
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRecordedCallsAreAllowed runs the code of `ddbstream errors` and the
// backfill's fold of the lake (package lake) against an in-memory bucket
// holding every kind of key, records each S3 call it makes, and evaluates
// those calls against the subcommand's policy.
func TestRecordedCallsAreAllowed(t *testing.T) {
	sim := iamsim.Require(t)
	var checks []iamsim.Check
	for _, prefix := range []string{"cdc", ""} {
		r := deployed(prefix, true, false)
		k := keysFor(t, r)
		fill := func() *recorder {
			b := opsfake.NewBucket(r.BucketName)
			line := `{"reason":"bad","index":0,"record":{}}` + "\n"
			for _, key := range []string{k.errs, k.errsByContent, k.snapshotErrors, k.data, k.snapshot, k.deletes, k.otherTable} {
				b.Put(key, gz(t, line))
			}
			b.Put(k.malformed, gz(t, "not json"))
			return &recorder{bucket: b}
		}

		rec := fill()
		for _, table := range []string{"", simTable} {
			if _, err := errorlist.Run(context.Background(), errorlist.Config{Bucket: r.BucketName, Prefix: prefix, Table: table}, rec); err != nil {
				t.Fatal(err)
			}
		}
		checks = append(checks, rec.checks(newRequests(r, "errors", operatorARN, OperatorErrors(r, Operator{StackName: simStack})), "prefix "+prefix)...)

		rec = fill()
		tbl := lake.Table{List: rec, Get: rec, Bucket: r.BucketName, Prefix: prefix, Name: simTable}
		if _, err := tbl.Fold(context.Background(), t.TempDir(), 0, func(fold.State) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if len(rec.calls) < 4 {
			t.Fatalf("the fold made %d calls: %v", len(rec.calls), rec.calls)
		}
		checks = append(checks, rec.checks(newRequests(r, "backfill", operatorARN, OperatorBackfill(r, Operator{StackName: simStack})), "prefix "+prefix+": fold")...)
	}
	sim.Expect(t, checks)
}
