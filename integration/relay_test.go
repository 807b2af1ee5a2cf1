package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/s3event"
)

// versityEvent is the shape versitygw v1.2.0 posts (seen on this machine):
// key not URL-encoded, quoted ETag, "s3:" event names, restore data with
// empty times.
const versityEvent = `{"Records":[{"eventVersion":"2.2","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-22T18:26:29Z","eventName":"s3:ObjectCreated:Put","userIdentity":{"PrincipalId":"localaccesskey"},"requestParameters":{"sourceIPAddress":"127.0.0.1"},"responseElements":{"x-amz-request-id":"","x-amz-id-2":""},"s3":{"s3SchemaVersion":"1.0","configurationId":"webhook-global","bucket":{"name":"probe","ownerIdentity":{"PrincipalId":"localaccesskey"},"arn":"arn:aws:s3:::/probe/KEY"},"object":{"key":"KEY","size":1,"eTag":"\"9dd4e461268c8034f5c8564e155c67a6\"","versionId":null,"sequencer":"1"}},"glacierEventData":{"restoreEventData":{"lifecycleRestorationExpiryTime":"","lifecycleRestoreStorageClass":""}}}]}`

func TestRelayHandsTheForwarderAWSShapedEvents(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	r := &Relay{Prefix: "cdc/table=", Suffix: ".jsonl.gz", Duplicate: true, Invoke: func(_ context.Context, p []byte) (error, error) {
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		return nil, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	srv := httptest.NewServer(r)
	defer srv.Close()
	post := func(body string) {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post(`{"Bucket":"Test-Bucket","Event":"s3:TestEvent","Service":"S3","Time":"2026-11-22T18:26:29Z"}`)
	key := "cdc/table=Orders/dt=2026-11-22/hour=18/a b+c=1.jsonl.gz"
	post(strings.ReplaceAll(versityEvent, "KEY", key))
	post(strings.ReplaceAll(versityEvent, "KEY", "cdc/_errors/table=Orders/x.jsonl.gz")) // filtered out
	time.Sleep(100 * time.Millisecond)
	r.Wait()
	if len(got) != 2 || r.Received() != 1 {
		t.Fatalf("%d invocations for %d events; want the one data event, twice", len(got), r.Received())
	}
	if !strings.Contains(string(got[0]), `"key":"cdc/table%3DOrders/dt%3D2026-11-22/hour%3D18/a+b%2Bc%3D1.jsonl.gz"`) {
		t.Errorf("key not encoded as S3 does: %s", got[0])
	}
	ev, err := s3event.Parse(got[0])
	if err != nil {
		t.Fatalf("the forwarder cannot read the relayed event: %v", err)
	}
	if len(ev.Objects) != 1 || ev.Objects[0].Key != key || ev.Objects[0].ETag != "9dd4e461268c8034f5c8564e155c67a6" || ev.Objects[0].EventName != "ObjectCreated:Put" {
		t.Errorf("objects %+v", ev.Objects)
	}
}

func TestEncodeKey(t *testing.T) {
	for in, want := range map[string]string{
		"a/b c/d+e.gz": "a/b+c/d%2Be.gz",
		"t=1/ü.gz":     "t%3D1/%C3%BC.gz",
	} {
		if got := EncodeKey(in); got != want {
			t.Errorf("EncodeKey(%q) = %q; want %q", in, got, want)
		}
	}
}
