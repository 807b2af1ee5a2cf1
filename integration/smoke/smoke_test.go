package smoke

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/compress/gzip"
)

type fakeAWS struct {
	outputs   map[string]string
	canary    string
	objects   map[string][]byte
	delivered bool
	errors    []string
	patterns  []string
}

func (f *fakeAWS) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	var outs []cftypes.Output
	for k, v := range f.outputs {
		outs = append(outs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{StackName: in.StackName, Outputs: outs}}}, nil
}

func (f *fakeAWS) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.canary = in.Item["pk"].(*dtypes.AttributeValueMemberS).Value
	if _, ok := in.Item["sk"]; !ok {
		panic("sort key missing")
	}
	// The pipeline writes the canary's record into a new object, under the
	// day the canary was written: the checker's start, which its name holds
	// (the clock read here could already be in the next day).
	ns, err := strconv.ParseInt(strings.TrimPrefix(f.canary, "smoke#"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("canary %q does not hold its time: %w", f.canary, err)
	}
	f.objects["cdc/table=Orders/dt="+time.Unix(0, ns).UTC().Format("2006-01-02")+"/hour=00/s-2-3.jsonl.gz"] = gz(`{"keys":{"pk":"` + f.canary + `","sk":"canary"}}`)
	return &dynamodb.PutItemOutput{}, nil
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s+"\n")
	w.Close()
	return b.Bytes()
}

func (f *fakeAWS) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	var out []s3types.Object
	for k := range f.objects {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) {
			out = append(out, s3types.Object{Key: aws.String(k), LastModified: aws.Time(time.Now())})
		}
	}
	return &s3.ListObjectsV2Output{Contents: out}, nil
}

func (f *fakeAWS) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(f.objects[aws.ToString(in.Key)]))}, nil
}

func (f *fakeAWS) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	p := aws.ToString(in.FilterPattern)
	f.patterns = append(f.patterns, p)
	var ev []cwltypes.FilteredLogEvent
	switch {
	case strings.Contains(p, `$.result = "delivered"`) && f.delivered:
		ev = append(ev, cwltypes.FilteredLogEvent{Message: aws.String(`{"msg":"object delivered"}`)})
	case strings.Contains(p, `$.level = "ERROR"`) && aws.ToString(in.LogGroupName) == "/fw":
		for _, e := range f.errors {
			ev = append(ev, cwltypes.FilteredLogEvent{Message: aws.String(e)})
		}
	}
	return &cloudwatchlogs.FilterLogEventsOutput{Events: ev}, nil
}

func newFake() *fakeAWS {
	return &fakeAWS{
		outputs: map[string]string{"TableName": "Orders", "BucketName": "b", "Prefix": "cdc", "StreamerLogGroupName": "/st", "ForwarderLogGroupName": "/fw"},
		objects: map[string][]byte{"cdc/table=Orders/dt=" + time.Now().UTC().Format("2006-01-02") + "/hour=00/s-0-1.jsonl.gz": gz(`{"keys":{"pk":"other"}}`)},
	}
}

func checker(f *fakeAWS) *Checker {
	return &Checker{Stacks: f, Items: f, Objects: f, Logs: f, SortKey: "sk", Poll: time.Millisecond, Timeout: 50 * time.Millisecond}
}

func TestSmokeFindsCanaryAndDelivery(t *testing.T) {
	f := newFake()
	f.delivered = true
	f.errors = []string{`{"level":"ERROR","msg":"object not delivered"}`}
	var out bytes.Buffer
	c := checker(f)
	c.Out = &out
	r, err := c.Run(context.Background(), "DdbStreamPipeline")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(r.ObjectKey, "s-2-3.jsonl.gz") {
		t.Errorf("ObjectKey: got %q, expect the canary's object, ending s-2-3.jsonl.gz", r.ObjectKey)
	}
	if len(r.RecentErrors) != 1 {
		t.Errorf("RecentErrors: got %d (%q), expect 1", len(r.RecentErrors), r.RecentErrors)
	}
	if !strings.HasPrefix(r.Canary, "smoke#") {
		t.Errorf("Canary: got %q, expect it to begin smoke#", r.Canary)
	}
	if expect := "1 error log lines"; !strings.Contains(out.String(), expect) {
		t.Errorf("output: got %q, expect it to contain %q", out.String(), expect)
	}
	if expect := `$.key = "` + r.ObjectKey + `"`; !strings.Contains(strings.Join(f.patterns, " "), expect) {
		t.Errorf("filter patterns: got %q, expect one with %s", f.patterns, expect)
	}
}

func TestSmokeTimesOutWithoutDelivery(t *testing.T) {
	_, err := checker(newFake()).Run(context.Background(), "DdbStreamPipeline")
	if err == nil {
		t.Fatal("error: got none, expect a timeout")
	}
	for _, expect := range []string{"timed out", "deliver"} {
		if !strings.Contains(err.Error(), expect) {
			t.Errorf("error: got %q, expect it to contain %q", err, expect)
		}
	}
}

func TestSmokeNeedsPipelineOutputs(t *testing.T) {
	f := newFake()
	delete(f.outputs, "BucketName")
	_, err := checker(f).Run(context.Background(), "Other")
	if expect := "lacks outputs BucketName"; err == nil || !strings.Contains(err.Error(), expect) {
		t.Fatalf("error: got %v, expect one containing %q", err, expect)
	}
}
