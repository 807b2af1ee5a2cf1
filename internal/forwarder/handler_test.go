package forwarder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/lambdalog"
	"github.com/ddbstream/pipeline/internal/secret"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
)

// fakeS3 serves objects the way the SDK reports them, typed errors included.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte // by bucket/key
	etags   map[string]string
	gets    int
}

func newFakeS3() *fakeS3 { return &fakeS3{objects: map[string][]byte{}, etags: map[string]string{}} }

func (f *fakeS3) put(bucket, key string, body []byte, etag string) {
	f.objects[bucket+"/"+key] = body
	f.etags[bucket+"/"+key] = etag
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	k := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	b, ok := f.objects[k]
	if !ok {
		return nil, &types.NoSuchKey{Message: aws.String("The specified key does not exist.")}
	}
	if m := aws.ToString(in.IfMatch); m != "" && m != `"`+f.etags[k]+`"` {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b)), ContentLength: aws.Int64(int64(len(b)))}, nil
}

func (f *fakeS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NotFound{Message: aws.String("Not Found")}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(b)))}, nil
}

// fakeSM is Secrets Manager holding one secret that tests can rotate.
type fakeSM struct {
	mu    sync.Mutex
	value string
}

func (f *fakeSM) GetSecretValue(_ context.Context, _ *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

func (f *fakeSM) set(v string) { f.mu.Lock(); f.value = v; f.mu.Unlock() }

const (
	orderKey  = "cdc/table=Orders/dt=2026-11-22/hour=17/20261101T000000000-1-9.jsonl.gz"
	manualKey = "manual/red flower + c++.jsonl.gz"
	patToken  = "dapi-TOKEN-never-logged"
)

type env struct {
	ws      *fakedatabricks.Workspace
	srv     *httptest.Server
	s3      *fakeS3
	sm      *fakeSM
	logs    *bytes.Buffer
	metrics *bytes.Buffer
	h       *Handler
}

func newEnv(t *testing.T, cfg Config, wsOpts ...fakedatabricks.Option) *env {
	t.Helper()
	ws := fakedatabricks.New(append([]fakedatabricks.Option{fakedatabricks.WithToken(patToken)}, wsOpts...)...)
	srv := httptest.NewTLSServer(ws)
	t.Cleanup(srv.Close)
	e := &env{ws: ws, srv: srv, s3: newFakeS3(), sm: &fakeSM{}, logs: &bytes.Buffer{}, metrics: &bytes.Buffer{}}
	e.sm.set(`{"host":"` + srv.URL + `","token":"` + patToken + `"}`)
	e.s3.put("cdc-bucket", orderKey, []byte(`{"eventName":"INSERT"}`+"\n"), "0123456789abcdef0123456789abcdef")
	e.s3.put("cdc-bucket", manualKey, []byte("manual\n"), "fedcba98765432100123456789abcdef-2")
	db := databricks.New(secret.NewCache(e.sm, "databricks", time.Minute), databricks.WithHTTPClient(srv.Client()),
		databricks.WithSleep(func(context.Context, time.Duration) error { return nil }), databricks.WithPollInterval(time.Millisecond))
	e.h = New(e.s3, db, cfg, function.WithLogger(lambdalog.New(e.logs, slog.LevelDebug)), function.WithMetrics(emf.New(e.metrics, "NS")))
	return e
}

func volumeConfig(t *testing.T) Config {
	t.Helper()
	return mustConfig(t, map[string]string{"DATABRICKS_SECRET_ID": "databricks",
		"DATABRICKS_VOLUME_PATH": "/Volumes/main/cdc/landing/{dir}/{name}"})
}

func mustConfig(t *testing.T, m map[string]string) Config {
	t.Helper()
	c, err := ConfigFromEnv(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture reads one of the forwarder's own fixtures, in testdata/.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// event reads an S3 event fixture from internal/s3event, which owns the
// event formats and keeps the one copy.
func event(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../s3event/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(e.logs.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestVolumeModeNotification(t *testing.T) {
	e := newEnv(t, volumeConfig(t))
	out, err := e.h.Invoke(context.Background(), event(t, "notification.json"))
	if err != nil {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
	files := e.ws.Files()
	if f := files["/Volumes/main/cdc/landing/cdc/table=Orders/dt=2026-11-22/hour=17/20261101T000000000-1-9.jsonl.gz"]; string(f.Data) != `{"eventName":"INSERT"}`+"\n" {
		t.Errorf("order file %+v; files %v", f, files)
	}
	if f := files["/Volumes/main/cdc/landing/manual/red flower + c++.jsonl.gz"]; string(f.Data) != "manual\n" {
		t.Errorf("decoded key not used: files %v", files)
	}
	lines := e.logLines(t)
	if len(lines) != 2 {
		t.Fatalf("%d log lines; want one per object:\n%s", len(lines), e.logs)
	}
	for _, k := range []string{"bucket", "key", "size", "mode", "attempts", "latencyMs", "result", "destination"} {
		if _, ok := lines[0][k]; !ok {
			t.Errorf("log line lacks %s: %v", k, lines[0])
		}
	}
	if lines[0]["result"] != "delivered" || lines[0]["size"] != 23.0 || lines[0]["mode"] != "volume" {
		t.Errorf("log line %v", lines[0])
	}
	if !strings.Contains(e.metrics.String(), `"Objects":1`) || !strings.Contains(e.metrics.String(), `"Bytes":23`) {
		t.Errorf("metrics %s", e.metrics)
	}
}

func TestEventBridgeAndTestEvent(t *testing.T) {
	e := newEnv(t, volumeConfig(t))
	key := "cdc/table=Orders/dt=2026-11-22/hour=17/a b+c.jsonl.gz"
	e.s3.put("cdc-bucket", key, []byte("eb"), "0123456789abcdef0123456789abcdef")
	if _, err := e.h.Invoke(context.Background(), event(t, "eventbridge.json")); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.ws.Files()["/Volumes/main/cdc/landing/cdc/table=Orders/dt=2026-11-22/hour=17/a b+c.jsonl.gz"]; !ok {
		t.Errorf("files %v", e.ws.Files())
	}
	if _, err := e.h.Invoke(context.Background(), event(t, "test_event.json")); err != nil {
		t.Fatal(err)
	}
	if len(e.ws.Files()) != 1 {
		t.Error("the test event delivered something")
	}
}

func TestSQSBatchReportsOnlyFailedMessages(t *testing.T) {
	e := newEnv(t, volumeConfig(t))
	e.ws.Inject(fakedatabricks.Fault{PathPrefix: "/api/2.0/fs/files/Volumes/main/cdc/landing/manual", Status: 400, ErrorCode: "INVALID_PARAMETER_VALUE"})
	out, err := e.h.Invoke(context.Background(), event(t, "sqs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		BatchItemFailures []struct{ ItemIdentifier string } `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	if strings.Join(ids, ",") != "m-3,m-4" {
		t.Errorf("failed messages %v; want m-3 (permanent 400) and m-4 (not an S3 event)", ids)
	}
	if len(e.ws.Files()) != 1 {
		t.Errorf("files %v; want the m-1 object delivered", e.ws.Files())
	}
}

func TestPermanentErrorFailsTheInvocation(t *testing.T) {
	e := newEnv(t, volumeConfig(t))
	e.ws.Inject(fakedatabricks.Fault{Status: 403, ErrorCode: "PERMISSION_DENIED", Times: 5})
	_, err := e.h.Invoke(context.Background(), event(t, "notification.json"))
	if err == nil || !strings.Contains(err.Error(), "s3://cdc-bucket/"+orderKey) || !strings.Contains(err.Error(), "HTTP 403 PERMISSION_DENIED") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(e.metrics.String(), `"Failures":1`) {
		t.Errorf("metrics %s", e.metrics)
	}
}

func TestGoneObjectsAreSkipped(t *testing.T) {
	e := newEnv(t, volumeConfig(t))
	delete(e.s3.objects, "cdc-bucket/"+orderKey)
	e.s3.etags["cdc-bucket/"+manualKey] = "newer-etag"
	if _, err := e.h.Invoke(context.Background(), event(t, "notification.json")); err != nil {
		t.Fatalf("gone objects must not fail the invocation: %v", err)
	}
	if len(e.ws.Files()) != 0 {
		t.Errorf("files %v", e.ws.Files())
	}
	reasons := map[string]bool{}
	for _, l := range e.logLines(t) {
		if l["result"] == "skipped" {
			reasons[l["reason"].(string)] = true
		}
	}
	if !reasons["object no longer exists"] || len(reasons) != 2 {
		t.Errorf("skip reasons %v", reasons)
	}
	if e.s3.gets != 2 {
		t.Errorf("%d GETs; a gone object must not be retried", e.s3.gets)
	}
}

func TestKeyFilters(t *testing.T) {
	cfg := volumeConfig(t)
	cfg.KeyPrefix, cfg.KeySuffix = "cdc/table=", ".jsonl.gz"
	e := newEnv(t, cfg)
	if _, err := e.h.Invoke(context.Background(), event(t, "notification.json")); err != nil {
		t.Fatal(err)
	}
	if len(e.ws.Files()) != 1 || e.s3.gets != 1 {
		t.Errorf("files %v, %d GETs; want only the cdc/table= object", e.ws.Files(), e.s3.gets)
	}
}

func TestJobModeIsIdempotent(t *testing.T) {
	cfg := mustConfig(t, map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42"})
	e := newEnv(t, cfg)
	for range 2 { // a redelivered event
		if _, err := e.h.Invoke(context.Background(), event(t, "notification.json")); err != nil {
			t.Fatal(err)
		}
	}
	runs := e.ws.Runs()
	if len(runs) != 2 {
		t.Fatalf("%d runs; want one per object despite redelivery", len(runs))
	}
	p := runs[0].Params
	want := map[string]string{"s3_uri": "s3://cdc-bucket/" + orderKey, "bucket": "cdc-bucket", "key": orderKey, "size": "23",
		"etag": "0123456789abcdef0123456789abcdef", "prefix": "cdc", "table": "Orders", "date": "2026-11-22", "hour": "17",
		"stream": "20261101T000000000", "first": "1", "last": "9"}
	if fmt.Sprint(p) != fmt.Sprint(want) || runs[0].JobID != 42 || len(runs[0].IdempotencyToken) != 64 {
		t.Errorf("run %+v", runs[0])
	}
	if _, ok := runs[1].Params["table"]; ok {
		t.Errorf("layout parameters for a key outside the layout: %v", runs[1].Params)
	}
}

// TestCopyIntoMode: from an empty workspace, the first object of a table
// creates the table, once per table while the function is warm, and every
// object is loaded with LoadStatement's MERGE; a redelivered object loads
// nothing, by the MERGE's match on sourceFile and eventID. A failed load
// sends the CREATE again with the next delivery, and a table that exists
// with other columns fails the load with an error that says so.
func TestCopyIntoMode(t *testing.T) {
	cfg := mustConfig(t, map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "copy-into",
		"DATABRICKS_WAREHOUSE_ID": "wh-1", "DATABRICKS_TABLE": "main.cdc.{table}_changes", "KEY_PREFIX": "cdc/"})
	const (
		orders2 = "cdc/table=Orders/dt=2026-11-22/hour=18/20261101T000000000-10-12.jsonl.gz"
		items   = "cdc/table=Items.v2/dt=2026-11-22/hour=17/20261101T000000000-1-3.jsonl.gz"
		ordersT = "main.cdc.Orders_changes"
		itemsT  = "main.cdc.Items_v2_changes"
	)
	create := func(table string) string {
		s, err := CreateTableStatement(table)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	load := func(table, key string) string {
		s, err := LoadStatement(table, "cdc-bucket", key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cols, err := CopyIntoColumns()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	type delivery struct {
		key              string
		expectStatements []string // sent for this delivery, in order
		expectError      []string // parts of the error; nil for none
	}
	tests := []struct {
		name         string
		opts         []fakedatabricks.Option
		deliveries   []delivery
		expectLoads  int
		expectTables map[string][]string
	}{
		{"empty workspace", nil, []delivery{
			{orderKey, []string{create(ordersT), load(ordersT, orderKey)}, nil},
			{orders2, []string{load(ordersT, orders2)}, nil},
			{items, []string{create(itemsT), load(itemsT, items)}, nil},
			{orderKey, []string{load(ordersT, orderKey)}, nil}, // redelivered: the MERGE matches every line
		}, 3, map[string][]string{"main.cdc.orders_changes": names, "main.cdc.items_v2_changes": names}},
		{"failed load creates again", []fakedatabricks.Option{fakedatabricks.WithFailingStatements("'s3://cdc-bucket/" + orderKey + "'")}, []delivery{
			{orderKey, []string{create(ordersT), load(ordersT, orderKey)}, []string{"FAILED", "load into " + ordersT}},
			{orders2, []string{create(ordersT), load(ordersT, orders2)}, nil},
			{orders2, []string{load(ordersT, orders2)}, nil},
		}, 1, map[string][]string{"main.cdc.orders_changes": names}},
		{"a table with other columns", []fakedatabricks.Option{fakedatabricks.WithTable(ordersT, "keys", "item")}, []delivery{
			{orderKey, []string{create(ordersT), load(ordersT, orderKey)}, []string{"UNRESOLVED_COLUMN", "keeps its columns"}},
		}, 0, map[string][]string{"main.cdc.orders_changes": {"keys", "item"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, cfg, append([]fakedatabricks.Option{fakedatabricks.WithStatementPolls(2)}, tc.opts...)...)
			e.s3.put("cdc-bucket", orders2, []byte("{}\n"), "1123456789abcdef0123456789abcdef")
			e.s3.put("cdc-bucket", items, []byte("{}\n"), "2123456789abcdef0123456789abcdef")
			for i, d := range tc.deliveries {
				before := len(e.ws.Statements())
				_, err := e.h.Invoke(context.Background(), notificationFor("cdc-bucket", d.key, "", ""))
				if got := e.ws.Statements()[before:]; strings.Join(got, "\n") != strings.Join(d.expectStatements, "\n") {
					t.Errorf("delivery %d statements: got\n%s\nexpect\n%s", i, strings.Join(got, "\n"), strings.Join(d.expectStatements, "\n"))
				}
				if (err != nil) != (d.expectError != nil) {
					t.Fatalf("delivery %d: got error %v, expect one containing %q", i, err, d.expectError)
				}
				for _, part := range d.expectError {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("delivery %d error: got %v, expect it to contain %q", i, err, part)
					}
				}
			}
			if got := len(e.ws.Loads()); got != tc.expectLoads {
				t.Errorf("loads: got %d, expect %d", got, tc.expectLoads)
			}
			if got := e.ws.Tables(); fmt.Sprint(got) != fmt.Sprint(tc.expectTables) {
				t.Errorf("tables: got %v, expect %v", got, tc.expectTables)
			}
			for _, l := range e.logLines(t) {
				if d, _ := l["destination"].(string); !strings.HasPrefix(d, "table main.cdc.") || !strings.Contains(d, " statement ") {
					t.Errorf("log destination: got %q, expect the table and the statement", d)
				}
			}
		})
	}
}

// TestCopyIntoModeRefusesOtherKeys: an object whose key has a character
// the pipeline's keys never have fails its delivery with the reason, and
// sends no statement: its path could not be matched to its rows.
func TestCopyIntoModeRefusesOtherKeys(t *testing.T) {
	cfg := mustConfig(t, map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "copy-into",
		"DATABRICKS_WAREHOUSE_ID": "wh-1", "DATABRICKS_TABLE": "main.cdc.changes"})
	const key = "cdc/table=Orders/dt=2026-11-22/hour=17/a copy*.jsonl.gz"
	e := newEnv(t, cfg)
	e.s3.put("cdc-bucket", key, []byte("{}\n"), "3123456789abcdef0123456789abcdef")
	_, err := e.h.Invoke(context.Background(), notificationFor("cdc-bucket", key, "", ""))
	if err == nil || !strings.Contains(err.Error(), "letters, digits and -_.=/") || !strings.Contains(err.Error(), key) {
		t.Errorf("error: got %v, expect the key refused with the reason", err)
	}
	if got := e.ws.Statements(); len(got) != 0 {
		t.Errorf("statements: got %q, expect none", got)
	}
}

func TestDBFSMode(t *testing.T) {
	cfg := mustConfig(t, map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "dbfs", "DBFS_PATH": "/mnt/cdc/{key}"})
	e := newEnv(t, cfg)
	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB, over the 1 MB put limit
	e.s3.put("cdc-bucket", orderKey, big, "0123456789abcdef0123456789abcdef")
	if _, err := e.h.Invoke(context.Background(), event(t, "notification.json")); err != nil {
		t.Fatal(err)
	}
	f := e.ws.DBFSFiles()["/mnt/cdc/"+orderKey]
	if !bytes.Equal(f.Data, big) || e.ws.DBFSPuts() != 0 {
		t.Errorf("dbfs file of %d bytes, %d puts", f.Size, e.ws.DBFSPuts())
	}
}

func TestRotatedSecretCausesNoFailedDelivery(t *testing.T) {
	e := newEnv(t, volumeConfig(t))
	e.s3.put("cdc-bucket", "cdc/table=Orders/dt=2026-11-22/hour=17/a b+c.jsonl.gz", []byte("eb"), "0123456789abcdef0123456789abcdef")
	// A delivery with the first token caches the secret.
	if _, err := e.h.Invoke(context.Background(), event(t, "eventbridge.json")); err != nil || len(e.ws.Files()) != 1 {
		t.Fatalf("warm-up: %v", err)
	}
	e.ws.AddToken("dapi-rotated")
	e.ws.RevokeToken(patToken)
	e.sm.set(`{"host":"` + e.srv.URL + `","token":"dapi-rotated"}`)
	if _, err := e.h.Invoke(context.Background(), event(t, "notification.json")); err != nil {
		t.Fatalf("delivery after rotation: %v", err)
	}
	refreshed := false
	for _, l := range e.logLines(t) {
		if l["credentialsRefreshed"] == true {
			refreshed = true
		}
	}
	if !refreshed || len(e.ws.Files()) != 3 {
		t.Errorf("refreshed %v, files %d", refreshed, len(e.ws.Files()))
	}
}

// TestSecretsNeverLogged runs every path that logs, with a token and an
// OAuth client secret, and scans all output for them.
func TestSecretsNeverLogged(t *testing.T) {
	const clientSecret = "oauth-CLIENT-SECRET-never-logged"
	var all bytes.Buffer
	var errs []string
	scenarios := []func(e *env){
		func(e *env) { e.ws.Inject(fakedatabricks.Fault{Status: 429, RetryAfter: "1"}) },
		func(e *env) { e.ws.Inject(fakedatabricks.Fault{Status: 401, Times: 10}) },
		func(e *env) { e.ws.Inject(fakedatabricks.Fault{Status: 500, Times: 10}) },
		func(e *env) { e.ws.Inject(fakedatabricks.Fault{Status: 400}) },
		func(e *env) { e.sm.set(`{"host":"http://insecure","token":"` + patToken + `"}`) },
		func(e *env) {
			e.sm.set(`{"host":"` + e.srv.URL + `","client_id":"sp","client_secret":"` + clientSecret + `"}`)
		},
	}
	for _, setup := range scenarios {
		e := newEnv(t, volumeConfig(t), fakedatabricks.WithClient("sp", clientSecret))
		setup(e)
		for _, f := range []string{"notification.json", "sqs.json", "eventbridge.json"} {
			if _, err := e.h.Invoke(context.Background(), event(t, f)); err != nil {
				errs = append(errs, err.Error())
			}
		}
		all.Write(e.logs.Bytes())
		all.Write(e.metrics.Bytes())
		for _, r := range e.ws.Requests() {
			if strings.HasPrefix(r.Bearer, "oauth-") {
				issued := r.Bearer
				if strings.Contains(all.String(), issued) || strings.Contains(strings.Join(errs, "\n"), issued) {
					t.Errorf("an issued OAuth token appears in the output")
				}
			}
		}
	}
	text := all.String() + strings.Join(errs, "\n")
	for _, s := range []string{patToken, clientSecret, "Bearer "} {
		if strings.Contains(text, s) {
			t.Errorf("output contains %q", s)
		}
	}
	if len(text) < 1000 || !strings.Contains(text, "object not delivered") || !strings.Contains(text, "object delivered") {
		t.Errorf("the scenarios logged too little to be a fair scan (%d bytes)", len(text))
	}
}

func TestIdempotencyToken(t *testing.T) {
	a := IdempotencyToken(s3eventObject("k", "e1", "s1"))
	if len(a) != 64 || a != IdempotencyToken(s3eventObject("k", "e1", "s1")) ||
		a == IdempotencyToken(s3eventObject("k", "e2", "s1")) || a == IdempotencyToken(s3eventObject("k", "e1", "s2")) {
		t.Errorf("token %q", a)
	}
}

// TestNonCreatedEventBridgeEventsAreIgnored: with EventBridge enabled, S3
// sends every event type to the bus (Object Deleted, Object Restore
// Completed, ...); a rule that lets one through must not fail the
// invocation, or Lambda retries it and parks it in the on-failure
// destination as if an object had been lost.
func TestNonCreatedEventBridgeEventsAreIgnored(t *testing.T) {
	tests := []struct {
		name           string
		payload        []byte
		expectErr      bool
		expectLogs     []string // msg of each line
		expectDetail   string
		expectS3Reads  int
		expectDelivery int
	}{
		{"object deleted", event(t, "eventbridge_object_deleted.json"), false, []string{"event ignored"}, "Object Deleted", 0, 0},
		{"restore completed", []byte(`{"detail-type":"Object Restore Completed","source":"aws.s3","time":"2026-11-22T17:04:06Z","detail":{}}`), false, []string{"event ignored"}, "Object Restore Completed", 0, 0},
		{"another source", []byte(`{"detail-type":"Object Created","source":"aws.ec2","time":"2026-11-22T17:04:06Z","detail":{}}`), true, []string{"event not understood"}, "", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, volumeConfig(t))
			out, err := e.h.Invoke(context.Background(), tc.payload)
			if gotErr := err != nil; gotErr != tc.expectErr {
				t.Fatalf("error: got %v (answer %s), expect error %v", err, out, tc.expectErr)
			}
			var msgs []string
			var detail any
			for _, l := range e.logLines(t) {
				msgs = append(msgs, l["msg"].(string))
				if l["msg"] == "event ignored" {
					detail = l["detailType"]
					if l["level"] != "INFO" {
						t.Errorf("level: got %v, expect INFO", l["level"])
					}
				}
			}
			if strings.Join(msgs, "|") != strings.Join(tc.expectLogs, "|") {
				t.Errorf("log lines: got %q, expect %q", msgs, tc.expectLogs)
			}
			if tc.expectDetail != "" && detail != tc.expectDetail {
				t.Errorf("detailType: got %v, expect %q", detail, tc.expectDetail)
			}
			if e.s3.gets != tc.expectS3Reads {
				t.Errorf("S3 reads: got %d, expect %d", e.s3.gets, tc.expectS3Reads)
			}
			if got := len(e.ws.Files()); got != tc.expectDelivery {
				t.Errorf("deliveries: got %d, expect %d", got, tc.expectDelivery)
			}
		})
	}
}

// TestRedirectedWritesAreNotDelivered: in every mode, a workspace that
// redirects the write makes the delivery fail, and the redirect target
// (which would answer with a success) is never asked. copy-into mode
// takes only keys of the pipeline's own characters, so it gets such a key
// in an S3 notification rather than the EventBridge event's "a b+c".
func TestRedirectedWritesAreNotDelivered(t *testing.T) {
	const copyKey = "cdc/table=Orders/dt=2026-11-22/hour=17/a-b.jsonl.gz"
	modes := []struct {
		name    string
		env     map[string]string
		payload func(t *testing.T) []byte
	}{
		{"volume", map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DATABRICKS_VOLUME_PATH": "/Volumes/main/cdc/landing/{key}"}, nil},
		{"dbfs", map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "dbfs", "DBFS_PATH": "/mnt/cdc/{key}"}, nil},
		{"job", map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42"}, nil},
		{"copy-into", map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "copy-into", "DATABRICKS_WAREHOUSE_ID": "wh-1", "DATABRICKS_TABLE": "main.cdc.t"},
			func(*testing.T) []byte { return notificationFor("cdc-bucket", copyKey, "", "") }},
	}
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s %d", m.name, status), func(t *testing.T) {
				var mu sync.Mutex
				var targetHits []string
				target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					targetHits = append(targetHits, r.Method+" "+r.URL.Path)
					mu.Unlock()
					_, _ = io.Copy(io.Discard, r.Body)
					_, _ = io.WriteString(w, `{"run_id": 77, "handle": 5, "statement_id": "s-1", "status": {"state": "SUCCEEDED"}}`)
				}))
				defer target.Close()
				e := newEnv(t, mustConfig(t, m.env))
				e.ws.Inject(fakedatabricks.Fault{Status: status, Location: target.URL + "/elsewhere", Times: 100})
				e.s3.put("cdc-bucket", "cdc/table=Orders/dt=2026-11-22/hour=17/a b+c.jsonl.gz", []byte("eb"), "0123456789abcdef0123456789abcdef")
				e.s3.put("cdc-bucket", copyKey, []byte("eb"), "0123456789abcdef0123456789abcdef")
				payload := event(t, "eventbridge.json")
				if m.payload != nil {
					payload = m.payload(t)
				}

				_, err := e.h.Invoke(context.Background(), payload)

				lines := e.logLines(t)
				got := struct {
					failed   bool
					result   string
					location bool
					target   int
					objects  bool
				}{err != nil, "", err != nil && strings.Contains(err.Error(), "redirect to "+target.URL+"/elsewhere refused"),
					len(targetHits), strings.Contains(e.metrics.String(), `"Objects":1`)}
				if len(lines) == 1 {
					got.result, _ = lines[0]["result"].(string)
				}
				if !got.failed {
					t.Error("invocation: got success, expect an error")
				}
				if got.result != "failed" {
					t.Errorf("result: got %q, expect \"failed\"", got.result)
				}
				if !got.location {
					t.Errorf("error: got %v, expect it to name the refused Location", err)
				}
				if got.target != 0 {
					t.Errorf("redirect target: got %d requests %v, expect none", got.target, targetHits)
				}
				if got.objects {
					t.Errorf("metrics: got an Objects count, expect none: %s", e.metrics)
				}
			})
		}
	}
}
