package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

const (
	streamerQ      = "https://sqs.eu-west-1.amazonaws.com/123456789012/streamer-failures"
	forwarderQ     = "https://sqs.eu-west-1.amazonaws.com/123456789012/forwarder-failures"
	triggerQ       = "https://sqs.eu-west-1.amazonaws.com/123456789012/trigger-dlq"
	converterQ     = "https://sqs.eu-west-1.amazonaws.com/123456789012/export-converter-failures"
	plannerQ       = "https://sqs.eu-west-1.amazonaws.com/123456789012/export-planner-failures"
	exportTriggerQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/export-trigger-dlq"
	shard          = "shardId-00000001795453445000-a1b2c3d4"
	opsToken       = "dapi-cli-test"
)

// opsWorld is the account behind the operations commands.
type opsWorld struct {
	f       *fakeAWS
	queues  opsfake.Queues
	bucket  *bucket
	secret  *opsfake.Secret
	stream  *stream
	lambda  functions
	ws      *fakedatabricks.Workspace
	srv     *httptest.Server
	created time.Time
}

// bucket adds the notification settings to the fake bucket.
type bucket struct{ *opsfake.Bucket }

func (bucket) GetBucketNotificationConfiguration(context.Context, *s3.GetBucketNotificationConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error) {
	return &s3.GetBucketNotificationConfigurationOutput{}, nil
}

// functions adds the mapping and policy calls to the fake functions.
type functions struct{ opsfake.Functions }

func (functions) ListEventSourceMappings(context.Context, *lambda.ListEventSourceMappingsInput, ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error) {
	return &lambda.ListEventSourceMappingsOutput{}, nil
}

// Invoke answers for the export converter as it answers a job it
// converted; other functions are not found.
func (functions) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	if aws.ToString(in.FunctionName) != "S-ExportConverter" || in.InvocationType != lambdatypes.InvocationTypeRequestResponse {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found: " + aws.ToString(in.FunctionName))}
	}
	return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"key":"cdc/table=Orders/dt=2026-11-23/hour=15/snapshot-01795449600123.5f1c2e3a-abcdefghijklmnopqrstuvwxyz.jsonl.gz","outcome":"written","items":3,"rows":3}`)}, nil
}

func (functions) GetPolicy(context.Context, *lambda.GetPolicyInput, ...func(*lambda.Options)) (*lambda.GetPolicyOutput, error) {
	return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("no policy")}
}

// stream is one shard of records 100.. created at one time.
type stream struct {
	records []dstypes.Record
	trimmed bool
}

func (s *stream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	if s.trimmed {
		return nil, &dstypes.TrimmedDataAccessException{Message: aws.String("The data you are trying to access has been trimmed.")}
	}
	for i, r := range s.records {
		if aws.ToString(r.Dynamodb.SequenceNumber) == aws.ToString(in.SequenceNumber) {
			return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(strconv.Itoa(i))}, nil
		}
	}
	return nil, &dstypes.ResourceNotFoundException{Message: aws.String("not found")}
}

func (s *stream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	i, _ := strconv.Atoi(aws.ToString(in.ShardIterator))
	return &dynamodbstreams.GetRecordsOutput{Records: s.records[i:], NextShardIterator: aws.String(strconv.Itoa(len(s.records)))}, nil
}

func sq(n int) string { return fmt.Sprintf("%021d", n) }

func newOpsWorld(t *testing.T) *opsWorld {
	t.Helper()
	w := &opsWorld{f: newFake(), queues: opsfake.Queues{}, bucket: &bucket{opsfake.NewBucket("lake")}, stream: &stream{},
		ws: fakedatabricks.New(fakedatabricks.WithToken(opsToken)), created: time.Date(2026, 11, 23, 17, 4, 5, 0, time.UTC)}
	w.srv = httptest.NewTLSServer(w.ws)
	t.Cleanup(w.srv.Close)
	w.secret = opsfake.NewSecret(`{"host":"` + w.srv.URL + `","token":"` + opsToken + `"}`)
	for _, q := range []string{streamerQ, forwarderQ, triggerQ, converterQ, plannerQ, exportTriggerQ} {
		w.queues[q] = opsfake.NewQueue(q)
	}
	for k, v := range map[string]string{"StreamerFailureQueueUrl": streamerQ, "ForwarderFailureQueueUrl": forwarderQ,
		"ForwarderTriggerDeadLetterQueueUrl": triggerQ, "StreamerFunctionName": "S-Streamer", "ForwarderFunctionName": "S-Forwarder",
		"ExportConverterFailureQueueUrl": converterQ, "ExportPlannerFailureQueueUrl": plannerQ, "ExportTriggerDeadLetterQueueUrl": exportTriggerQ,
		"ExportConverterFunctionName": "S-ExportConverter", "ExportPlannerFunctionName": "S-ExportPlanner"} {
		w.f.outputs[k] = v
	}
	w.lambda = functions{opsfake.Functions{
		"S-Streamer":  {ARN: "arn:aws:lambda:eu-west-1:123456789012:function:S-Streamer", Env: map[string]string{"BUCKET_NAME": "lake", "S3_PREFIX": "cdc"}},
		"S-Forwarder": {ARN: "arn:aws:lambda:eu-west-1:123456789012:function:S-Forwarder", Env: map[string]string{"DATABRICKS_SECRET_ID": "db", "DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42", "KEY_PREFIX": "cdc/table="}},
	}}
	for i := range 5 {
		w.stream.records = append(w.stream.records, dstypes.Record{EventID: aws.String(strconv.Itoa(i)), EventName: dstypes.OperationTypeInsert,
			Dynamodb: &dstypes.StreamRecord{ApproximateCreationDateTime: aws.Time(w.created), SequenceNumber: aws.String(sq(100 + i)),
				Keys: map[string]dstypes.AttributeValue{"pk": &dstypes.AttributeValueMemberS{Value: "k" + strconv.Itoa(i)}}}})
	}
	return w
}

func (w *opsWorld) run(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, env{stdout: &stdout, stderr: &stderr,
		databricks: []databricks.Option{databricks.WithHTTPClient(w.srv.Client()), databricks.WithSleep(func(context.Context, time.Duration) error { return nil })},
		connect: func(context.Context, string, string) (clients, error) {
			return clients{stacks: w.f, dynamodb: w.f, s3: w.bucket, ops: opsClients{sqs: w.queues, streams: w.stream, s3: w.bucket,
				secrets: w.secret, lambda: w.lambda, tables: w.f}}, nil
		}})
	return result{code, stdout.String(), stderr.String()}
}

// sendExportJob puts the converter's on-failure record of one job in its
// queue.
func sendExportJob(w *opsWorld) {
	w.queues[converterQ].Send(`{"version":"1.0","requestContext":{"condition":"RetriesExhausted","functionArn":"arn:aws:lambda:eu-west-1:123456789012:function:S-ExportConverter:$LATEST"},` +
		`"requestPayload":{"exportArn":"arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/export/01795449600123-5f1c2e3a","exportTime":"2026-11-23T16:00:00Z",` +
		`"table":"Orders","partitionKey":"pk","bucket":"lake","dataFileKey":"cdc-exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/abcdefghijklmnopqrstuvwxyz.json.gz",` +
		`"itemCount":3,"md5Checksum":"1B2M2Y8AsgTpgAmY7PhCfg=="},"responseContext":{"statusCode":200,"functionError":"Unhandled"},` +
		`"responsePayload":{"errorMessage":"get data file: AccessDenied"}}`)
}

func failureRecord(first, last, n int) string {
	return fmt.Sprintf(`{"requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:eu-west-1:123456789012:function:S-Streamer","condition":"RetryAttemptsExhausted","approximateInvokeCount":11},`+
		`"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2026-11-23T17:13:49Z",`+
		`"DDBStreamBatchInfo":{"shardId":"%s","startSequenceNumber":"%s","endSequenceNumber":"%s","approximateArrivalOfFirstRecord":"2026-11-23T17:04:05Z",`+
		`"approximateArrivalOfLastRecord":"2026-11-23T17:04:05Z","batchSize":%d,"streamArn":"%s"}}`, shard, sq(first), sq(last), n, streamARN)
}

func gzipLines(t *testing.T, lines ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	for _, l := range lines {
		z.Write([]byte(l + "\n"))
	}
	z.Close()
	return b.Bytes()
}

func TestOpsHelp(t *testing.T) {
	for _, cmd := range []string{"redrive", "replay", "errors", "doctor"} {
		r := newOpsWorld(t).run(t, cmd, "--help")
		for _, s := range []string{"Usage: ddbstream " + cmd, "Examples:", "Exit status:", "AWS calls", "-stack", "operator-policies.json"} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("%s --help lacks %q", cmd, s)
			}
		}
		if r.code != exitOK {
			t.Errorf("%s --help: exit %d", cmd, r.code)
		}
	}
	r := newOpsWorld(t).run(t, "--help")
	for _, cmd := range []string{"redrive", "replay", "errors", "doctor"} {
		if !strings.Contains(r.stdout, "  "+cmd+" ") {
			t.Errorf("ddbstream --help lacks %s", cmd)
		}
	}
}

func TestOpsCommands(t *testing.T) {
	key := "cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-1-9.jsonl.gz"
	tests := []struct {
		name   string
		setup  func(*opsWorld)
		args   []string
		code   int
		stdout []string
		stderr []string
		check  func(*testing.T, *opsWorld)
	}{
		{"redrive a batch", func(w *opsWorld) { w.queues[streamerQ].Send(failureRecord(100, 104, 5)) },
			[]string{"redrive", "--stack", "S"}, exitOK,
			[]string{"redrive:", "done", "streamer queue:", "1 redriven", "-> cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-" + sq(100) + "-" + sq(104) + ".jsonl.gz"},
			[]string{"ddbstream redrive: all failures"},
			func(t *testing.T, w *opsWorld) {
				if len(w.bucket.Keys()) != 1 || len(w.queues[streamerQ].Bodies()) != 0 {
					t.Errorf("objects %v, messages left %d", w.bucket.Keys(), len(w.queues[streamerQ].Bodies()))
				}
			}},
		{"redrive dry run", func(w *opsWorld) { w.queues[streamerQ].Send(failureRecord(100, 104, 5)) },
			[]string{"redrive", "--stack", "S", "--dry-run"}, exitOK, []string{"dry run: nothing was written", "1 would redrive"}, nil,
			func(t *testing.T, w *opsWorld) {
				if len(w.bucket.Keys()) != 0 || w.queues[streamerQ].Visible() != 1 {
					t.Errorf("dry run changed something: objects %v, visible %d", w.bucket.Keys(), w.queues[streamerQ].Visible())
				}
			}},
		{"redrive past retention", func(w *opsWorld) { w.stream.trimmed = true; w.queues[streamerQ].Send(failureRecord(100, 104, 5)) },
			[]string{"redrive", "--stack", "S", "--source", "streamer"}, exitFailed, []string{"1 unreadable (past retention)", "TrimmedDataAccessException"},
			[]string{"1 messages kept", "what to do: 1 batches are no longer in the stream: load the table's current state with ddbstream backfill --stack S"}, nil},
		{"redrive a forwarder event", func(w *opsWorld) {
			w.bucket.Put(key, []byte("x\n"))
			w.queues[forwarderQ].Send(`{"version":"1.0","requestContext":{"condition":"RetriesExhausted"},"requestPayload":{"detail-type":"Object Created","source":"aws.s3","time":"2026-11-23T17:04:06Z",` +
				`"detail":{"bucket":{"name":"lake"},"object":{"key":"` + key + `","size":2,"etag":"` + opsfake.ETag([]byte("x\n")) + `","sequencer":"01"}}},"responseContext":{"statusCode":200}}`)
		}, []string{"redrive", "--stack", "S", "--source", "forwarder"}, exitOK, []string{"forwarder queue:", "1 redriven", "delivered " + key + " -> job 42 run"}, nil,
			func(t *testing.T, w *opsWorld) {
				if len(w.ws.Runs()) != 1 {
					t.Errorf("runs %d, expect 1", len(w.ws.Runs()))
				}
			}},
		{"redrive an export job", sendExportJob, []string{"redrive", "--stack", "S"}, exitOK,
			[]string{"export queue:", converterQ + ": 1 messages: 1 redriven", "s3://lake/cdc-exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/abcdefghijklmnopqrstuvwxyz.json.gz",
				"gave up: RetriesExhausted", "-> cdc/table=Orders/dt=2026-11-23/hour=15/snapshot-", "written: 3 rows"}, nil,
			func(t *testing.T, w *opsWorld) {
				if n := len(w.queues[converterQ].Bodies()); n != 0 {
					t.Errorf("converter queue holds %d messages, expect none", n)
				}
			}},
		{"redrive export queues without a stack", sendExportJob,
			[]string{"redrive", "--converter-queue", converterQ, "--converter-function", "S-ExportConverter"}, exitOK,
			[]string{"export queue:", converterQ + ": 1 messages: 1 redriven"}, nil, nil},
		{"redrive bad source", nil, []string{"redrive", "--stack", "S", "--source", "exporter"}, exitUsage, nil, []string{`--source "exporter"`}, nil},
		{"redrive without stack or queues", nil, []string{"redrive"}, exitUsage, nil, []string{"give --stack"}, nil},
		{"replay dry run", func(w *opsWorld) { w.bucket.Put(key, []byte("x\n")) },
			[]string{"replay", "--stack", "S", "--from", "2026-11-23T00", "--to", "2026-11-24", "--dry-run"}, exitOK,
			[]string{"dry run: nothing was delivered", "objects:", "1 (2 bytes)", key}, []string{"ddbstream replay: table Orders, 2026-11-23T00 to 2026-11-24T00"}, nil},
		{"replay delivers", func(w *opsWorld) { w.bucket.Put(key, []byte("x\n")) },
			[]string{"replay", "--stack", "S", "--from", "2026-11-23T17", "--to", "2026-11-23T18"}, exitOK, []string{"delivered:", "1", "replay ID:", "job 42 run"}, nil,
			func(t *testing.T, w *opsWorld) {
				if len(w.ws.Runs()) != 1 {
					t.Errorf("runs %d, expect 1", len(w.ws.Runs()))
				}
			}},
		{"replay failure", func(w *opsWorld) {
			w.bucket.Put(key, []byte("x\n"))
			w.ws.Inject(fakedatabricks.Fault{PathPrefix: "/api/2.1/jobs/run-now", Status: 400, ErrorCode: "INVALID_PARAMETER_VALUE", Times: 5})
		}, []string{"replay", "--stack", "S", "--from", "2026-11-23T17", "--to", "2026-11-23T18"}, exitFailed, []string{"1 objects failed", "INVALID_PARAMETER_VALUE"},
			[]string{"1 of 1 objects not delivered", "what to do: fix the cause"}, nil},
		{"replay without a range", nil, []string{"replay", "--stack", "S"}, exitUsage, nil, []string{"give --from"}, nil},
		{"replay reversed range", nil, []string{"replay", "--stack", "S", "--from", "2026-11-24", "--to", "2026-11-23"}, exitUsage, nil, []string{"is not before --to"}, nil},
		{"replay bad time", nil, []string{"replay", "--stack", "S", "--from", "yesterday"}, exitUsage, nil, []string{`--from "yesterday"`}, nil},
		{"errors: none", nil, []string{"errors", "--stack", "S"}, exitOK, []string{"nothing set aside under s3://lake/cdc/_errors/"}, nil, nil},
		{"errors: some", func(w *opsWorld) {
			w.bucket.Put("cdc/_errors/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-1-9.jsonl.gz",
				gzipLines(t, `{"reason":"dynamodb.NewImage.price: \"abc\" is not a number","index":3,"sequenceNumber":"4","record":{}}`))
		}, []string{"errors", "--stack", "S", "--objects"}, exitFailed,
			[]string{"1 objects", "table Orders:", "1 records", `dynamodb.NewImage.price: "…" is not a number`, "example:", `"abc"`},
			[]string{"1 records and 0 malformed payloads set aside"}, nil},
		{"doctor without stack", nil, []string{"doctor"}, exitUsage, nil, []string{"give --stack"}, nil},
		{"doctor: stack not found", func(w *opsWorld) { w.f.outputs = nil }, []string{"doctor", "--stack", "Nope"}, exitFailed,
			[]string{"FAIL  stack", "what to do: check --stack and the region", "skip  table stream", "1 failed"}, []string{"1 checks failed"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newOpsWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			r := w.run(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit status: got %d, expect %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if tc.check != nil {
				tc.check(t, w)
			}
		})
	}
}

func TestDoctorJSON(t *testing.T) {
	w := newOpsWorld(t)
	w.f.outputs = nil
	r := w.run(t, "doctor", "--stack", "Nope", "--json")
	var rep struct {
		Stack  string `json:"stack"`
		OK     bool   `json:"ok"`
		Checks []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Remedy string `json:"remedy"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if r.code != exitFailed || rep.OK || rep.Stack != "Nope" || rep.Checks[0].ID != "stack" || rep.Checks[0].Status != "FAIL" || rep.Checks[0].Remedy == "" {
		t.Errorf("exit %d, report %+v", r.code, rep)
	}
}

func TestTimeRange(t *testing.T) {
	now := time.Date(2026, 11, 23, 17, 42, 0, 0, time.UTC)
	tests := []struct {
		from, to string
		since    time.Duration
		f, t     string
		err      string
	}{
		{"2026-11-23T05", "", 0, "2026-11-23T05:00:00Z", "2026-11-23T18:00:00Z", ""},
		{"2026-11-22", "2026-11-23T00:30", 0, "2026-11-22T00:00:00Z", "2026-11-23T00:30:00Z", ""},
		{"", "", 6 * time.Hour, "2026-11-23T11:42:00Z", "2026-11-23T18:00:00Z", ""},
		{"2026-11-23T05", "", time.Hour, "", "", "not both"},
		{"", "", 0, "", "", "give --from"},
	}
	for _, tc := range tests {
		f, to, err := timeRange(tc.from, tc.to, tc.since, now, true)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: got %v, expect %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil || f.Format(time.RFC3339) != tc.f || to.Format(time.RFC3339) != tc.t {
			t.Errorf("%+v: got %s, %s, %v", tc, f.Format(time.RFC3339), to.Format(time.RFC3339), err)
		}
	}
}
