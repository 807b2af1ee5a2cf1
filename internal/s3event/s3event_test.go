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
		"other eventbridge":  {`{"detail-type":"Object Deleted","source":"aws.s3","detail":{}}`, `"Object Deleted"`},
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
