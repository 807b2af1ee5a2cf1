package integration

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/redeliver"
	"github.com/ddbstream/pipeline/internal/replay"
)

// TestReplayDeliversAgain runs ddbstream replay end to end, as the replay
// principal: it reads the forwarder's settings from the Lambda endpoint
// (GetFunctionConfiguration), lists the table's objects of the hours of
// the run, and delivers each one to the fake workspace again with the
// forwarder's own code, which the workspace records as a second write of
// the same file. Its requests are recorded as the replay principal's, so
// that they are evaluated against the ddbstream-replay policy.
func TestReplayDeliversAgain(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 100})
	// The hours of the run, whatever the clock says: the keys carry
	// their first record's hour, which is between these.
	from := time.Now().Add(-time.Hour).UTC().Truncate(time.Hour)
	requireExactlyOnce(t, run(t, p, 300))
	to := time.Now().Add(time.Hour).UTC().Truncate(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net; nothing waits on it
	defer cancel()

	// The table's data objects in S3, and what the workspace holds of
	// them before the replay.
	var keys []string
	pager := s3.NewListObjectsV2Paginator(p.S3Client, &s3.ListObjectsV2Input{Bucket: aws.String(p.Opts.Bucket),
		Prefix: aws.String(objectkey.DataPrefix(p.Opts.Prefix) + p.Opts.Table + "/")})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); strings.HasSuffix(k, objectkey.Suffix) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) < 2 {
		t.Fatalf("data objects of table %s: got %d, expect at least 2 to replay", p.Opts.Table, len(keys))
	}
	before := p.Workspace.Files()

	rep, err := p.Replay(ctx, replay.Config{From: from, To: to, ReplayID: "e2e"})
	if err != nil {
		t.Fatalf("replay: %v\nreport: %+v", err, rep)
	}
	t.Logf("replay: %d objects (%d bytes) listed under %v: %d delivered, %d skipped, %d failed",
		rep.Objects, rep.Bytes, rep.Prefixes, rep.Delivered, rep.Skipped, rep.Failed)
	check(t,
		expectation{field: "objects listed", got: rep.Objects, expect: len(keys)},
		expectation{field: "delivered", got: rep.Delivered, expect: len(keys)},
		expectation{field: "skipped", got: rep.Skipped, expect: 0},
		expectation{field: "failed", got: rep.Failed, expect: 0},
	)
	// Each object went where the forwarder delivers it (its volume path
	// template, read from the function's configuration), a second time.
	after := p.Workspace.Files()
	delivered := map[string]bool{}
	for _, it := range rep.Items {
		delivered[it.Key] = true
		path := strings.ReplaceAll(p.Opts.VolumePath, "{key}", it.Key)
		if it.Result != redeliver.Delivered || it.Destination != path {
			t.Errorf("%s: got %s to %q (%s%s), expect delivered to %s", it.Key, it.Result, it.Destination, it.Reason, it.Error, path)
		}
		was, now := before[path], after[path]
		if now.Writes != was.Writes+1 || now.SHA256 != was.SHA256 {
			t.Errorf("%s: workspace file %s: got %d writes of %.12s, expect %d writes of %.12s (the same object once more)",
				it.Key, path, now.Writes, now.SHA256, was.Writes+1, was.SHA256)
		}
	}
	for _, k := range keys {
		if !delivered[k] {
			t.Errorf("%s: in S3, not in the replay", k)
		}
	}

	// The replay's requests were made as the replay principal: the
	// forwarder's settings, the listing, the objects and the secret.
	ops := map[string]bool{}
	for _, r := range p.Recorded(t.Name()) {
		if r.Principal == ReplayPrincipal {
			ops[r.Call.Service+":"+r.Call.Operation] = true
		}
	}
	var got []string
	for op := range ops {
		got = append(got, op)
	}
	sort.Strings(got)
	for _, want := range []string{"lambda:GetFunctionConfiguration", "s3:ListObjectsV2", "s3:GetObject", "secretsmanager:GetSecretValue"} {
		if !ops[want] {
			t.Errorf("requests of principal %s: got %v, expect %s among them", ReplayPrincipal, got, want)
		}
	}
}
