package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ddbstream/pipeline/internal/eventrule"
	"github.com/ddbstream/pipeline/internal/export/planner"
	"github.com/ddbstream/pipeline/internal/s3event"
)

// nudgeConfig follows an export whose conversion never starts by itself,
// with a clock that moves a minute at every look.
func nudgeConfig(f *fakeAWS) Config {
	f.convertible = 0
	f.latest = now.Add(time.Hour) // the moving clock stays inside the window
	cfg := f.with(config())
	cfg.Now = (&tick{t: now}).Now
	cfg.PlannerFunction = "planner"
	cfg.StallWait = 5 * time.Minute
	cfg.Timeout = time.Hour
	return cfg
}

// The summary's event never reached the planner (or Lambda gave up on
// it): once the export has been complete for StallWait with no data file
// converted, the backfill invokes the planner itself, once, with the
// event S3 would have sent, and the conversion completes.
func TestAStalledConversionInvokesThePlanner(t *testing.T) {
	f := newFake()
	r, err := Run(context.Background(), nudgeConfig(f), f, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.lambda.invokes) != 1 {
		t.Fatalf("planner invocations: got %d, expect 1", len(f.lambda.invokes))
	}
	in := f.lambda.invokes[0]
	ev, err := s3event.Parse(in.Payload)
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	summary := "cdc-exports/AWSDynamoDB/" + exportID(r.ExportARN) + "/manifest-summary.json"
	check(t, []field{
		{"FunctionName", aws.ToString(in.FunctionName), "planner"},
		{"InvocationType", in.InvocationType, lambdatypes.InvocationTypeRequestResponse},
		{"event source", ev.Source, s3event.EventBridge},
		{"objects", len(ev.Objects), 1},
		{"PlannerInvoked", r.PlannerInvoked, true},
		{"PlannerDispatched", r.PlannerDispatched, 3},
		{"Converted", r.Converted, 3},
	})
	if len(ev.Objects) == 1 {
		check(t, []field{{"bucket", ev.Objects[0].Bucket, bucket}, {"key", ev.Objects[0].Key, summary}})
	}
	// It is the event the stack's rule gives the planner.
	rule := eventrule.ExportManifest(bucket, "cdc-exports").Document()
	if ok, err := eventrule.Matches(rule, in.Payload); err != nil || !ok {
		t.Errorf("the export rule does not match the event (%v): %s", err, in.Payload)
	}
}

func TestNoPlannerNoNudge(t *testing.T) {
	f := newFake()
	cfg := nudgeConfig(f)
	cfg.PlannerFunction = ""
	cfg.Timeout = 20 * time.Minute
	_, err := Run(context.Background(), cfg, f, f)
	var be *Error
	if !errors.As(err, &be) || !be.Unfinished {
		t.Fatalf("error: got %v, expect an unfinished *backfill.Error", err)
	}
	if len(f.lambda.invokes) != 0 {
		t.Errorf("planner invocations: got %d, expect 0", len(f.lambda.invokes))
	}
}

// A conversion that has begun is never nudged, however slow.
func TestAStartedConversionIsNotNudged(t *testing.T) {
	f := newFake()
	cfg := nudgeConfig(f)
	f.convertible = 1
	cfg.Timeout = 30 * time.Minute
	_, err := Run(context.Background(), cfg, f, f)
	var be *Error
	if !errors.As(err, &be) || !strings.Contains(be.Msg, "1 of 3 data files converted") {
		t.Fatalf("error: got %v, expect the conversion timeout", err)
	}
	if len(f.lambda.invokes) != 0 {
		t.Errorf("planner invocations: got %d, expect 0", len(f.lambda.invokes))
	}
}

func TestThePlannersRefusalIsReported(t *testing.T) {
	answer := func(payload string, fnErr *string) func(*fakeAWS, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
		return func(*fakeAWS, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
			return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(payload), FunctionError: fnErr}, nil
		}
	}
	skipped, _ := json.Marshal(planner.Response{Exports: []planner.ExportResult{{Skipped: "export format ION is not DYNAMODB_JSON"}}})
	tests := []struct {
		name    string
		planner func(*fakeAWS, *lambda.InvokeInput) (*lambda.InvokeOutput, error)
		expect  string
	}{
		{"function error", answer(`{"errorMessage":"export is still IN_PROGRESS","errorType":"errorString"}`, aws.String("Unhandled")), "failed: export is still IN_PROGRESS"},
		{"skipped", answer(string(skipped), nil), "skipped export"},
		{"another function", answer(`{"ok":true}`, nil), "not its response"},
		{"invoke denied", func(*fakeAWS, *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
			return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found")}
		}, "invoking the export planner planner failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.lambda.planner = tc.planner
			_, err := Run(context.Background(), nudgeConfig(f), f, f)
			var be *Error
			if !errors.As(err, &be) || !strings.Contains(be.Error(), tc.expect) || be.Remedy == "" {
				t.Fatalf("error: got %v, expect a *backfill.Error with %q and a remedy", err, tc.expect)
			}
		})
	}
}

func TestRemaining(t *testing.T) {
	tests := []struct {
		converted, toConvert int
		elapsed, expect      time.Duration
	}{
		{0, 10, time.Minute, 0},
		{2, 10, 4 * time.Minute, 16 * time.Minute},
		{10, 10, time.Minute, 0},
	}
	for _, tc := range tests {
		if got := remaining(tc.converted, tc.toConvert, tc.elapsed); got != tc.expect {
			t.Errorf("remaining(%d, %d, %s): got %s, expect %s", tc.converted, tc.toConvert, tc.elapsed, got, tc.expect)
		}
	}
}
