package s3event_test

import (
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/eventrule"
	"github.com/ddbstream/pipeline/internal/s3event"
)

// The event ObjectCreated builds is read back as S3's own, and the rule
// that selects an export's summary matches it.
func TestObjectCreatedRoundTrip(t *testing.T) {
	at := time.Unix(1_790_000_000, 0)
	key := "cdc-exports/AWSDynamoDB/01790000000000-a1b2c3d4/manifest-summary.json"
	payload, err := s3event.ObjectCreated("lake", key, 42, at)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s3event.Parse(payload)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Source != s3event.EventBridge || len(ev.Objects) != 1 {
		t.Fatalf("event: got %+v, expect one EventBridge object", ev)
	}
	o := ev.Objects[0]
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"bucket", o.Bucket, "lake"}, {"key", o.Key, key}, {"size", o.Size, int64(42)}, {"time", o.EventTime.Equal(at), true},
	} {
		if f.got != f.want {
			t.Errorf("%s: got %v, want %v", f.name, f.got, f.want)
		}
	}
	if ok, err := eventrule.Matches(eventrule.ExportManifest("lake", "cdc-exports").Document(), payload); err != nil || !ok {
		t.Errorf("the export rule does not match (%v): %s", err, payload)
	}
	if _, err := s3event.ObjectCreated("", key, 0, at); err == nil {
		t.Error("no bucket: got no error")
	}
}
