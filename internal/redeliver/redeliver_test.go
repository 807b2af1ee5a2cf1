package redeliver

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

func event(key, etag string) []byte {
	return []byte(`{"detail-type":"Object Created","source":"aws.s3","time":"2026-11-23T17:04:06Z","detail":{"bucket":{"name":"lake"},` +
		`"object":{"key":"` + key + `","size":2,"etag":"` + etag + `","sequencer":"01"}}}`)
}

// TestDeliverReportsEachObject: the outcomes come from the forwarder's
// own per-object lines: delivered with its destination, skipped with the
// forwarder's reason, failed with its error (and the handler's error).
func TestDeliverReportsEachObject(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("t"))
	srv := httptest.NewTLSServer(ws)
	defer srv.Close()
	b := opsfake.NewBucket("lake")
	b.Put("cdc/table=Orders/dt=2026-11-23/hour=17/s-1-2.jsonl.gz", []byte("x\n"))
	cfg, err := forwarder.ConfigFromEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"DATABRICKS_SECRET_ID": "db", "DATABRICKS_VOLUME_PATH": "/Volumes/main/cdc/landing/{table}/{name}"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	d := New(cfg, Clients{S3: b, Secrets: opsfake.NewSecret(`{"host":"` + srv.URL + `","token":"t"}`)},
		databricks.WithHTTPClient(srv.Client()), databricks.WithSleep(func(context.Context, time.Duration) error { return nil }))

	out, err := d.Deliver(context.Background(), event("cdc/table=Orders/dt=2026-11-23/hour=17/s-1-2.jsonl.gz", opsfake.ETag([]byte("x\n"))))
	if err != nil || len(out) != 1 || out[0].Result != Delivered || out[0].Destination != "/Volumes/main/cdc/landing/Orders/s-1-2.jsonl.gz" {
		t.Errorf("present object: %+v, %v", out, err)
	}
	out, err = d.Deliver(context.Background(), event("cdc/table=Orders/dt=2026-11-23/hour=17/gone-1-2.jsonl.gz", "e"))
	if err != nil || len(out) != 1 || out[0].Result != Skipped || !strings.Contains(out[0].Reason, "no longer exists") {
		t.Errorf("missing object: %+v, %v", out, err)
	}
	ws.Inject(fakedatabricks.Fault{PathPrefix: "/api/2.0/fs/files", Status: 400, ErrorCode: "INVALID_PARAMETER_VALUE", Times: 1})
	out, err = d.Deliver(context.Background(), event("cdc/table=Orders/dt=2026-11-23/hour=17/s-1-2.jsonl.gz", opsfake.ETag([]byte("x\n"))))
	if err == nil || len(out) != 1 || out[0].Result != Failed || !strings.Contains(out[0].Error, "INVALID_PARAMETER_VALUE") {
		t.Errorf("refused object: %+v, %v", out, err)
	}
}
