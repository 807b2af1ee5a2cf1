package eventbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/eventrule"
	"github.com/ddbstream/pipeline/internal/s3event"
)

// The testdata/*.json inputs are versitygw v1.2.0's webhook posts
// (s3event.EventRecord): one record each, keys not URL-encoded, quoted
// ETags, "s3:" event names, sequencers in hex, restore data with empty
// times. expect_*.json are the events S3 sends to EventBridge for them;
// "<uuid>" and "<request-id>" stand for values checked by form.

func relayFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dataKey is the key of put_data.json's object.
const dataKey = "cdc/table=Orders/dt=2026-11-22/hour=18/a b+c=1.jsonl.gz"

var (
	uuidForm      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	requestIDForm = regexp.MustCompile(`^[0-9A-F]{16}$`)
)

// flatten maps each leaf of a JSON document to its path, such as
// detail.object.key, so that events can be compared field by field.
func flatten(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	out := map[string]any{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		default:
			out[path] = v
		}
	}
	walk("", v)
	return out
}

// compareEvent reports every field where got differs from expect, and
// every field only one of them has.
func compareEvent(t *testing.T, expectDoc, gotDoc []byte) {
	t.Helper()
	expect, got := flatten(t, expectDoc), flatten(t, gotDoc)
	paths := map[string]bool{}
	for p := range expect {
		paths[p] = true
	}
	for p := range got {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		e, inExpect := expect[p]
		g, inGot := got[p]
		switch {
		case !inExpect:
			t.Errorf("%s: got %v, expect no such field", p, g)
		case !inGot:
			t.Errorf("%s: missing, expect %v", p, e)
		case e == "<uuid>":
			if s, _ := g.(string); !uuidForm.MatchString(s) {
				t.Errorf("%s: got %v, expect a UUID", p, g)
			}
		case e == "<request-id>":
			if s, _ := g.(string); !requestIDForm.MatchString(s) {
				t.Errorf("%s: got %v, expect 16 upper-case hex digits", p, g)
			}
		case e != g:
			t.Errorf("%s: got %v, expect %v", p, g, e)
		}
	}
}

func convertOne(t *testing.T, fixture string) relayed {
	t.Helper()
	events, err := eventBridgeEvents(relayFixture(t, fixture))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%s: got %d events, expect 1", fixture, len(events))
	}
	return events[0]
}

func TestRelayConvertsNotificationsToEventBridgeEvents(t *testing.T) {
	for _, tc := range []struct{ input, expect string }{
		{"put_data.json", "expect_object_created.json"},
		{"delete_data.json", "expect_object_deleted.json"},
	} {
		t.Run(tc.input, func(t *testing.T) {
			ev := convertOne(t, tc.input)
			compareEvent(t, relayFixture(t, tc.expect), ev.payload)
			if expect := "cdc/table=Orders/dt=2026-11-22/hour=18/a b+c=1.jsonl.gz"; ev.key != expect {
				t.Errorf("key: got %q, expect %q", ev.key, expect)
			}
		})
	}
}

func TestRelayEventIDsAreStablePerObjectEvent(t *testing.T) {
	id := func(fixture string) string {
		var ev struct {
			ID     string `json:"id"`
			Detail struct {
				RequestID string `json:"request-id"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(convertOne(t, fixture).payload, &ev); err != nil {
			t.Fatal(err)
		}
		return ev.ID + " " + ev.Detail.RequestID
	}
	if got, again := id("put_data.json"), id("put_data.json"); got != again {
		t.Errorf("same notification: got ids %q and %q, expect equal", got, again)
	}
	if created, deleted := id("put_data.json"), id("delete_data.json"); created == deleted {
		t.Errorf("created and deleted: got the same ids %q, expect different", created)
	}
}

func TestRelayedEventsReadAsTheRightObject(t *testing.T) {
	ev, err := s3event.Parse(convertOne(t, "put_data.json").payload)
	if err != nil {
		t.Fatalf("the forwarder cannot read the relayed event: %v", err)
	}
	if ev.Source != s3event.EventBridge {
		t.Errorf("Source: got %v, expect %v", ev.Source, s3event.EventBridge)
	}
	if len(ev.Objects) != 1 {
		t.Fatalf("objects: got %d, expect 1", len(ev.Objects))
	}
	got := ev.Objects[0]
	for _, f := range []struct {
		field       string
		got, expect any
	}{
		{"Bucket", got.Bucket, "cdc-local"},
		{"Key", got.Key, "cdc/table=Orders/dt=2026-11-22/hour=18/a b+c=1.jsonl.gz"},
		{"Size", got.Size, int64(4096)},
		{"ETag", got.ETag, "9dd4e461268c8034f5c8564e155c67a6"},
		{"VersionID", got.VersionID, "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"},
		{"Sequencer", got.Sequencer, "1A"},
		{"EventName", got.EventName, "ObjectCreated:PutObject"},
		{"EventTime", got.EventTime, time.Date(2026, 11, 22, 18, 26, 29, 0, time.UTC)},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.field, f.got, f.expect)
		}
	}
}

func TestRelayConvertsNothingElse(t *testing.T) {
	for name, body := range map[string]string{
		"test event":  string(relayFixture(t, "test_event.json")),
		"tagging":     `{"Records":[{"eventName":"s3:ObjectTagging:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`,
		"restore":     `{"Records":[{"eventName":"s3:ObjectRestore:Post","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`,
		"no records":  `{"Records":[]}`,
		"not records": `{}`,
	} {
		events, err := eventBridgeEvents([]byte(body))
		if err != nil {
			t.Errorf("%s: error: got %v, expect none", name, err)
		}
		if len(events) != 0 {
			t.Errorf("%s: events: got %d, expect none", name, len(events))
		}
	}
	for name, body := range map[string]string{
		"not JSON":   `{"Records":`,
		"no key":     `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]}`,
		"no bucket":  `{"Records":[{"eventName":"s3:ObjectRemoved:Delete","s3":{"object":{"key":"k"}}}]}`,
		"not object": `[1]`,
	} {
		if _, err := eventBridgeEvents([]byte(body)); err == nil {
			t.Errorf("%s: got no error, expect one", name)
		}
	}
}

func TestRelayDeliversWhatTheRuleMatches(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	r := &Relay{Bucket: "cdc-local", Prefix: "cdc", Duplicate: true, Invoke: func(_ context.Context, p []byte) (error, error) {
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
	for _, fixture := range []string{
		"test_event.json",
		"put_data.json",
		"put_errors.json",       // under _errors/: not matched
		"put_malformed.json",    // other suffix: not matched
		"put_other_bucket.json", // not matched
		"delete_data.json",      // Object Deleted: not matched
	} {
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(relayFixture(t, fixture)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: got status %d, expect 200", fixture, resp.StatusCode)
		}
	}
	r.Wait() // ServeHTTP queued the events before answering
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("got %d invocations, expect the data object's event twice", len(got))
	}
	compareEvent(t, relayFixture(t, "expect_object_created.json"), got[0])
	if !bytes.Equal(got[0], got[1]) {
		t.Errorf("duplicate differs:\n%s\n%s", got[0], got[1])
	}
	if received := r.Received(); received != 1 {
		t.Errorf("Received: got %d, expect 1", received)
	}
	arrived := r.Arrived()
	if _, ok := arrived[dataKey]; !ok {
		t.Errorf("Arrived: got %v, expect the data key", arrived)
	}
	if len(arrived) != 1 {
		t.Errorf("Arrived: got %d keys, expect 1 (the data key only)", len(arrived))
	}
	if failed := r.Failed(); len(failed) != 0 {
		t.Errorf("Failed: got %d, expect none", len(failed))
	}
	if pending := r.Pending(); pending != 0 {
		t.Errorf("Pending: got %d, expect none", pending)
	}
	// Every created or deleted notification is noted, matched or not.
	expectNotified := map[string]bool{
		dataKey: true,
		"cdc/_errors/table=Orders/dt=2026-11-22/hour=18/s-1-2.jsonl.gz":  true,
		"cdc/_errors/malformed/5d41402abc4b2a76b9719d911017c592.json.gz": true,
		"cdc/table=Orders/dt=2026-11-22/hour=18/s-1-2.jsonl.gz":          true, // in the other bucket
	}
	if got := r.Notified(); !reflect.DeepEqual(got, expectNotified) {
		t.Errorf("Notified: got %v, expect %v", got, expectNotified)
	}
	if got := r.Invocations(); got != 2 {
		t.Errorf("Invocations: got %d, expect 2", got)
	}
}

func TestRelayWithoutBucketRefusesNotifications(t *testing.T) {
	rec := httptest.NewRecorder()
	(&Relay{Prefix: "cdc"}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(relayFixture(t, "put_data.json"))))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("got status %d, expect 500", rec.Code)
	}
}

func TestRelayRetriesThenSendsToOnFailure(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	r := &Relay{Bucket: "cdc-local", Prefix: "cdc", Retries: 2, Invoke: func(context.Context, []byte) (error, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return errors.New("function error"), nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	r.Enqueue([]byte(`{}`))
	r.Wait()
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Errorf("invocations: got %d, expect 3 (1 + 2 retries)", calls)
	}
	failed := r.Failed()
	if len(failed) != 1 {
		t.Fatalf("on-failure: got %d events, expect 1", len(failed))
	}
	if string(failed[0]) != `{}` {
		t.Errorf("on-failure event: got %q, expect %q", failed[0], `{}`)
	}
}

func TestRelayRunsAHookBeforeTheNthInvocation(t *testing.T) {
	var mu sync.Mutex
	var trace []string
	r := &Relay{Retries: 1, Invoke: func(_ context.Context, p []byte) (error, error) {
		mu.Lock()
		defer mu.Unlock()
		trace = append(trace, "invoke "+string(p))
		if string(p) == "fails" {
			return errors.New("function error"), nil
		}
		return nil, nil
	}}
	for _, n := range []int{2, 3} {
		r.BeforeInvocation(n, func() {
			mu.Lock()
			trace = append(trace, fmt.Sprintf("hook %d", n))
			mu.Unlock()
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	r.Enqueue([]byte("fails")) // invocations 1 and 2 (its retry)
	r.Enqueue([]byte("ok"))    // invocation 3
	r.Wait()
	mu.Lock()
	defer mu.Unlock()
	expect := []string{"invoke fails", "hook 2", "invoke fails", "hook 3", "invoke ok"}
	if !reflect.DeepEqual(trace, expect) {
		t.Errorf("trace: got %q, expect %q", trace, expect)
	}
	if got := r.Invocations(); got != 3 {
		t.Errorf("Invocations: got %d, expect 3", got)
	}
}

func TestRelayChangedWakesOnNotificationAndOnHandling(t *testing.T) {
	release := make(chan struct{})
	r := &Relay{Bucket: "cdc-local", Prefix: "cdc", Invoke: func(context.Context, []byte) (error, error) {
		<-release
		return nil, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	srv := httptest.NewServer(r)
	defer srv.Close()

	notified := r.Changed()
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(relayFixture(t, "put_data.json")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-notified:
	default:
		t.Error("after a notification: got Changed open, expect it closed")
	}
	// The notification is noted and its event pending before the answer.
	if got := r.Notified(); !got[dataKey] {
		t.Errorf("Notified: got %v, expect the data key", got)
	}
	if got := r.Pending(); got != 1 {
		t.Errorf("Pending while the forwarder runs: got %d, expect 1", got)
	}

	handled := r.Changed()
	close(release)
	<-handled // closed once the event has been handled: no sleep, no poll
	if got := r.Pending(); got != 0 {
		t.Errorf("Pending once handled: got %d, expect 0", got)
	}
}

// notificationFor returns put_data.json's notification for another key.
func notificationFor(t *testing.T, key string) []byte {
	t.Helper()
	return bytes.ReplaceAll(relayFixture(t, "put_data.json"), []byte(dataKey), []byte(key))
}

func TestRelayRoutesEachRuleToItsTarget(t *testing.T) {
	const summaryKey = "cdc-exports/AWSDynamoDB/01795449600123-5f1c2e3a/manifest-summary.json"
	var mu sync.Mutex
	got := map[string][]string{}
	record := func(target string, fail bool) func(context.Context, []byte) (error, error) {
		return func(_ context.Context, p []byte) (error, error) {
			var ev struct {
				Detail struct {
					Object struct {
						Key string `json:"key"`
					} `json:"object"`
				} `json:"detail"`
			}
			if err := json.Unmarshal(p, &ev); err != nil {
				return nil, err
			}
			mu.Lock()
			got[target] = append(got[target], ev.Detail.Object.Key)
			mu.Unlock()
			if fail {
				return errors.New("function error"), nil
			}
			return nil, nil
		}
	}
	var gaveUp []string // the on-failure hook's calls
	planner := &Route{Name: "planner", Rule: eventrule.ExportManifest("cdc-local", "cdc-exports"), Invoke: record("planner", true), Retries: 1,
		OnFailure: func(ev []byte, attempts int, fnErr error) {
			mu.Lock()
			gaveUp = append(gaveUp, fmt.Sprintf("%d attempts, %v, event names the summary: %v", attempts, fnErr, bytes.Contains(ev, []byte(summaryKey))))
			mu.Unlock()
		}}
	r := &Relay{Bucket: "cdc-local", Prefix: "cdc", Invoke: record("forwarder", false), Routes: []*Route{planner}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	srv := httptest.NewServer(r)
	defer srv.Close()
	for _, body := range [][]byte{
		relayFixture(t, "put_data.json"),
		notificationFor(t, summaryKey),
		notificationFor(t, "cdc-exports/AWSDynamoDB/01795449600123-5f1c2e3a/manifest-files.json"), // no rule
		notificationFor(t, "cdc-exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/abc.json.gz"),    // no rule
	} {
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status: got %d, expect 200", resp.StatusCode)
		}
	}
	r.Wait()
	mu.Lock()
	defer mu.Unlock()
	expect := map[string][]string{"forwarder": {dataKey}, "planner": {summaryKey, summaryKey}} // the planner's event once retried
	if !reflect.DeepEqual(got, expect) {
		t.Errorf("invocations by target: got %v, expect %v", got, expect)
	}
	if expect := []string{"2 attempts, function error, event names the summary: true"}; !reflect.DeepEqual(gaveUp, expect) {
		t.Errorf("OnFailure: got %v, expect %v", gaveUp, expect)
	}
	for _, f := range []struct {
		field       string
		got, expect int
	}{
		{"forwarder Received", r.Received(), 1},
		{"forwarder Failed", len(r.Failed()), 0},
		{"planner Received", planner.Received(), 1},
		{"planner Invocations", planner.Invocations(), 2},
		{"planner Failed", len(planner.Failed()), 1},
		{"Pending", r.Pending(), 0},
		{"Notified", len(r.Notified()), 4},
		{"Arrived (the forwarder's objects only)", len(r.Arrived()), 1},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %d, expect %d", f.field, f.got, f.expect)
		}
	}
}

func TestRelayWithARouteWithoutBucketRefusesNotifications(t *testing.T) {
	rec := httptest.NewRecorder()
	r := &Relay{Bucket: "cdc-local", Prefix: "cdc", Routes: []*Route{{Name: "planner", Rule: eventrule.ExportManifest("", "cdc-exports")}}}
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(relayFixture(t, "put_data.json"))))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("got status %d, expect 500", rec.Code)
	}
}
