package s3event

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNotificationDecodesKeysAndSkipsOtherEvents(t *testing.T) {
	ev, err := Parse(load(t, "notification.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Object{
		{Bucket: "cdc-bucket", Key: "cdc/table=Orders/dt=2026-11-22/hour=17/20261101T000000000-1-9.jsonl.gz", Size: 1024,
			ETag: "0123456789abcdef0123456789abcdef", VersionID: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", Sequencer: "0A1B2C3D4E5F678901",
			EventName: "ObjectCreated:Put", EventTime: time.Date(2026, 11, 22, 17, 4, 6, 123e6, time.UTC)},
		{Bucket: "cdc-bucket", Key: "manual/red flower + c++.jsonl.gz", Size: 2048, ETag: "fedcba98765432100123456789abcdef-2",
			Sequencer: "0A1B2C3D4E5F678902", EventName: "ObjectCreated:CompleteMultipartUpload", EventTime: time.Date(2026, 11, 22, 17, 4, 7, 0, time.UTC)},
	}
	if ev.Source != Notification || ev.Ignored != 1 || !reflect.DeepEqual(ev.Objects, want) {
		t.Errorf("got %+v\nwant objects %+v", ev, want)
	}
}

func TestSQSBatch(t *testing.T) {
	ev, err := Parse(load(t, "sqs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Source != SQS || ev.TestEvents != 1 || len(ev.Objects) != 2 {
		t.Fatalf("got %+v", ev)
	}
	if ev.Objects[0].MessageID != "m-1" || ev.Objects[1].MessageID != "m-3" || ev.Objects[1].Key != "manual/red flower + c++.jsonl.gz" {
		t.Errorf("objects %+v", ev.Objects)
	}
	if len(ev.Bad) != 1 || ev.Bad[0].MessageID != "m-4" || !strings.Contains(ev.Bad[0].Reason, "not JSON") {
		t.Errorf("bad %+v", ev.Bad)
	}
}

func TestEventBridgeKeysAreNotDecoded(t *testing.T) {
	ev, err := Parse(load(t, "eventbridge.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Object{Bucket: "cdc-bucket", Key: "cdc/table=Orders/dt=2026-11-22/hour=17/a b+c.jsonl.gz", Size: 4096,
		ETag: "0123456789abcdef0123456789abcdef", VersionID: "v1", Sequencer: "0064D3901D00059242",
		EventName: "ObjectCreated:PutObject", EventTime: time.Date(2026, 11, 22, 17, 4, 6, 0, time.UTC)}
	if ev.Source != EventBridge || len(ev.Objects) != 1 || ev.Objects[0] != want {
		t.Errorf("got %+v", ev)
	}
}

func TestTestEvent(t *testing.T) {
	ev, err := Parse(load(t, "test_event.json"))
	if err != nil || ev.TestEvents != 1 || len(ev.Objects) != 0 {
		t.Fatalf("got %+v, %v", ev, err)
	}
}

func TestMalformed(t *testing.T) {
	for name, tc := range map[string]struct{ payload, want string }{
		"not json":           {`{`, "not a JSON object"},
		"empty object":       {`{}`, "neither Records nor"},
		"other source":       {`{"detail-type":"Object Created","source":"aws.ec2","detail":{}}`, `"aws.ec2"`},
		"eventbridge no key": {`{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{}}}`, "lacks"},
		"unknown source":     {`{"Records":[{"eventSource":"aws:kinesis"}]}`, `"aws:kinesis"`},
		"bad key encoding":   {`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a%zz"}}}]}`, "invalid URL escape"},
		"no bucket":          {`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"object":{"key":"a"}}}]}`, "lacks"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.payload))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestEventBridgeOtherDetailTypesAreIgnored uses the "Object Deleted"
// event exactly as the S3 user guide shows it ("EventBridge event message
// structure").
func TestEventBridgeOtherDetailTypesAreIgnored(t *testing.T) {
	tests := []struct {
		name          string
		payload       []byte
		expectIgnored int
		expectObjects int
		expectSource  Source
		expectDetail  string
	}{
		{"object deleted", load(t, "eventbridge_object_deleted.json"), 1, 0, EventBridge, "Object Deleted"},
		{"restore completed", []byte(`{"detail-type":"Object Restore Completed","source":"aws.s3","time":"2026-11-22T17:04:06Z","detail":{}}`), 1, 0, EventBridge, "Object Restore Completed"},
		{"object created", load(t, "eventbridge.json"), 0, 1, EventBridge, "Object Created"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Parse(tc.payload)
			if err != nil {
				t.Fatalf("err: got %v, expect none", err)
			}
			if ev.Ignored != tc.expectIgnored {
				t.Errorf("Ignored: got %d, expect %d", ev.Ignored, tc.expectIgnored)
			}
			if len(ev.Objects) != tc.expectObjects {
				t.Errorf("objects: got %d, expect %d", len(ev.Objects), tc.expectObjects)
			}
			if ev.Source != tc.expectSource {
				t.Errorf("Source: got %v, expect %v", ev.Source, tc.expectSource)
			}
			if ev.DetailType != tc.expectDetail {
				t.Errorf("DetailType: got %q, expect %q", ev.DetailType, tc.expectDetail)
			}
		})
	}
}

func TestEventBridgeBadTime(t *testing.T) {
	tests := []struct {
		name, time, expect string
	}{
		{"words", `"yesterday"`, `EventBridge event time "yesterday" is not an RFC 3339 timestamp`},
		{"no zone", `"2026-11-22T17:04:06"`, `EventBridge event time "2026-11-22T17:04:06" is not an RFC 3339 timestamp`},
		{"number", `1763831046`, `EventBridge event time 1763831046 is not an RFC 3339 timestamp`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := strings.Replace(string(load(t, "eventbridge.json")), `"2026-11-22T17:04:06Z"`, tc.time, 1)
			_, err := Parse([]byte(payload))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.expect {
				t.Errorf("err: got %q, expect %q", got, tc.expect)
			}
		})
	}
}

// TestEventBridgeKeysEitherEncoding: whether EventBridge URL-encodes keys
// is undocumented, so both forms of a pipeline key read the same.
func TestEventBridgeKeysEitherEncoding(t *testing.T) {
	const want = "cdc/table=Orders/dt=2026-11-23/hour=04/x-1-2.jsonl.gz"
	for name, key := range map[string]string{
		"raw":     want,
		"encoded": "cdc/table%3DOrders/dt%3D2026-11-23/hour%3D04/x-1-2.jsonl.gz",
	} {
		ev, err := Parse([]byte(`{"version":"0","detail-type":"Object Created","source":"aws.s3","time":"2021-11-12T00:00:00Z",
"detail":{"bucket":{"name":"b"},"object":{"key":"` + key + `","size":5,"etag":"e","sequencer":"1"},"reason":"PutObject"}}`))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := ev.Objects[0].Key; got != want {
			t.Errorf("%s: key = %q, want %q", name, got, want)
		}
	}
	// A lone '%' that is no escape is left as it is.
	if got := eventBridgeKey("a%zz"); got != "a%zz" {
		t.Errorf("eventBridgeKey(a%%zz) = %q", got)
	}
}
