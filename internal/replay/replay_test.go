package replay

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/s3event"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

const (
	bucket   = "lake"
	patToken = "dapi-replay-test"
)

type world struct {
	bucket *opsfake.Bucket
	secret *opsfake.Secret
	ws     *fakedatabricks.Workspace
	srv    *httptest.Server
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{bucket: opsfake.NewBucket(bucket), ws: fakedatabricks.New(fakedatabricks.WithToken(patToken))}
	w.srv = httptest.NewTLSServer(w.ws)
	t.Cleanup(w.srv.Close)
	w.secret = opsfake.NewSecret(`{"host":"` + w.srv.URL + `","token":"` + patToken + `"}`)
	for _, k := range []string{
		"cdc/table=Orders/dt=2026-11-22/hour=23/20261101T000000000-1-9.jsonl.gz",                                      // before the range
		"cdc/table=Orders/dt=2026-11-23/hour=00/20261101T000000000-10-19.jsonl.gz",                                    // in
		"cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-20-29.jsonl.gz",                                    // in
		"cdc/table=Orders/dt=2026-11-23/hour=17/snapshot-01795453320456.0c9e7d21-c7kq3nqzuu3tzmdbwwr2bj7rpa.jsonl.gz", // in: a backfill's snapshot
		"cdc/table=Orders/dt=2026-11-24/hour=00/20261101T000000000-30-39.jsonl.gz",                                    // at the end: excluded
		"cdc/table=Orders/dt=2026-11-23/hour=18/notes.txt",                                                            // not an object of the pipeline
		"cdc/table=Customers/dt=2026-11-23/hour=17/20261101T000000000-1-9.jsonl.gz",                                   // another table
		"cdc/_errors/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-20-29.jsonl.gz",
	} {
		w.bucket.Put(k, []byte(k+"\n"))
	}
	return w
}

var inRange = []string{
	"cdc/table=Orders/dt=2026-11-23/hour=00/20261101T000000000-10-19.jsonl.gz",
	"cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-20-29.jsonl.gz",
	"cdc/table=Orders/dt=2026-11-23/hour=17/snapshot-01795453320456.0c9e7d21-c7kq3nqzuu3tzmdbwwr2bj7rpa.jsonl.gz",
}

func (w *world) config(t *testing.T, env map[string]string) Config {
	t.Helper()
	fc, err := forwarder.ConfigFromEnv(func(k string) (string, bool) {
		v, ok := env[k]
		if k == "DATABRICKS_SECRET_ID" {
			return "databricks", true
		}
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	return Config{Bucket: bucket, Prefix: "cdc", Table: "Orders",
		From: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
		Forwarder: &fc, DatabricksOptions: []databricks.Option{databricks.WithHTTPClient(w.srv.Client()),
			databricks.WithSleep(func(context.Context, time.Duration) error { return nil })}}
}

func (w *world) run(t *testing.T, cfg Config) Report {
	t.Helper()
	rep, err := Run(context.Background(), cfg, Clients{S3: w.bucket, Secrets: w.secret})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func keys(rep Report) string {
	var k []string
	for _, it := range rep.Items {
		k = append(k, it.Key)
	}
	return strings.Join(k, ",")
}

// TestReplayJobModeOneRunPerObject: the table's objects of the range, and
// only those, are delivered through the forwarder; running the same
// replay again starts no second run, and a new replay ID runs the job
// again.
func TestReplayJobModeOneRunPerObject(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t, map[string]string{"DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42"})
	first := w.run(t, cfg)
	second := w.run(t, cfg)
	afterRepeat := len(w.ws.Runs())
	cfg.ReplayID = "after-fix-2"
	third := w.run(t, cfg)
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"objects chosen", keys(first), strings.Join(inRange, ",")},
		{"first delivered", first.Delivered, 3},
		{"second delivered", second.Delivered, 3},
		{"runs after a repeat", afterRepeat, 3},
		{"runs after a new replay ID", len(w.ws.Runs()), 6},
		{"third delivered", third.Delivered, 3},
		{"failed", first.Failed + second.Failed + third.Failed, 0},
		{"day prefixes", strings.Join(first.Prefixes, ","), "cdc/table=Orders/dt=2026-11-23/"},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
	if r := w.ws.Runs()[0]; r.Params["key"] != inRange[0] || r.Params["table"] != "Orders" {
		t.Errorf("run parameters %v", r.Params)
	}
}

// TestReplayVolumeModeOverwrites: in volume mode the same paths are
// written again, with the objects' content.
func TestReplayVolumeModeOverwrites(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t, map[string]string{"DATABRICKS_VOLUME_PATH": "/Volumes/main/cdc/landing/{table}/{name}"})
	w.run(t, cfg)
	rep := w.run(t, cfg)
	files := w.ws.Files()
	if len(files) != 3 || rep.Delivered != 3 {
		t.Fatalf("files %d, delivered %d; expect 3 each", len(files), rep.Delivered)
	}
	f, ok := files["/Volumes/main/cdc/landing/Orders/20261101T000000000-20-29.jsonl.gz"]
	if !ok || f.Writes != 2 || f.Size != int64(len(inRange[1])+1) {
		t.Errorf("file %+v (found %v); expect written twice with the object's bytes", f, ok)
	}
	if rep.Items[0].Destination == "" {
		t.Error("no destination reported")
	}
}

// TestReplayDryRunDeliversNothing: a dry run lists and delivers nothing.
func TestReplayDryRunDeliversNothing(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t, map[string]string{"DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42"})
	cfg.DryRun, cfg.Forwarder = true, nil
	rep := w.run(t, cfg)
	if keys(rep) != strings.Join(inRange, ",") || len(w.ws.Requests()) != 0 || w.secret.Reads != 0 {
		t.Errorf("items %s, workspace requests %d, secret reads %d; expect the range listed and nothing else", keys(rep), len(w.ws.Requests()), w.secret.Reads)
	}
	if rep.Items[0].Result != "would deliver" {
		t.Errorf("result %q", rep.Items[0].Result)
	}
}

// TestReplayReportsFailures: an object Databricks refuses is reported
// failed with its error; the others are still delivered.
func TestReplayReportsFailures(t *testing.T) {
	w := newWorld(t)
	w.ws.Inject(fakedatabricks.Fault{PathPrefix: "/api/2.1/jobs/run-now", Status: 403, ErrorCode: "PERMISSION_DENIED", Times: 2})
	rep := w.run(t, w.config(t, map[string]string{"DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42"}))
	if rep.Failed != 1 || rep.Delivered != 2 || !strings.Contains(rep.Items[0].Error, "PERMISSION_DENIED") {
		t.Errorf("failed %d, delivered %d, first error %q; expect the first refused (403 twice: after its refresh) and the rest delivered",
			rep.Failed, rep.Delivered, rep.Items[0].Error)
	}
}

func TestReplayRefusesBadSettings(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name   string
		mutate func(*Config)
		expect string
	}{
		{"empty range", func(c *Config) { c.To = c.From }, "is empty"},
		{"no table", func(c *Config) { c.Table = "" }, "no table"},
		{"no forwarder", func(c *Config) { c.Forwarder = nil }, "forwarder's settings are unknown"},
		{"too long", func(c *Config) { c.From = c.To.Add(-500 * 24 * time.Hour) }, "more than 400 days"},
	}
	for _, tc := range tests {
		cfg := w.config(t, map[string]string{"DATABRICKS_VOLUME_PATH": "/Volumes/a/b/c/{name}"})
		tc.mutate(&cfg)
		_, err := Run(context.Background(), cfg, Clients{S3: w.bucket, Secrets: w.secret})
		var re *Error
		if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.expect) {
			t.Errorf("%s: got %v, expect an *Error containing %q", tc.name, err, tc.expect)
		}
	}
}

// TestEventIsWhatTheForwarderReads: the replay's event is an S3
// notification the forwarder parses back to the same object, whatever
// the key holds.
func TestEventIsWhatTheForwarderReads(t *testing.T) {
	for _, key := range []string{inRange[0], "cdc/table=Orders/odd key+plus%25=é.jsonl.gz"} {
		b, err := Event(bucket, listed{Key: key, ETag: "abc", Size: 7}, "r1", time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := s3event.Parse(b)
		if err != nil || len(ev.Objects) != 1 {
			t.Fatalf("%s: %v, %+v", key, err, ev)
		}
		o := ev.Objects[0]
		for _, c := range []struct{ field, got, expect string }{
			{"key", o.Key, key}, {"bucket", o.Bucket, bucket}, {"etag", o.ETag, "abc"}, {"sequencer", o.Sequencer, "ddbstream-replay-r1"},
		} {
			if c.got != c.expect {
				t.Errorf("%s: got %q, expect %q", c.field, c.got, c.expect)
			}
		}
	}
}
