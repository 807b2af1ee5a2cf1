package backfill

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestReadingSince(t *testing.T) {
	stream := now.Add(-90 * 24 * time.Hour)
	tests := []struct {
		name     string
		position lambdatypes.EventSourcePosition
		modified time.Time
		expect   time.Time
	}{
		{"LATEST starts up to a quarter of an hour after the mapping was made", lambdatypes.EventSourcePositionLatest, now.Add(-time.Hour), now.Add(-45 * time.Minute)},
		{"TRIM_HORIZON reads back a day", lambdatypes.EventSourcePositionTrimHorizon, now.Add(-time.Hour), now.Add(-25 * time.Hour)},
		{"TRIM_HORIZON never before the stream", lambdatypes.EventSourcePositionTrimHorizon, stream.Add(time.Hour), stream},
		{"LATEST never before the stream", lambdatypes.EventSourcePositionLatest, stream.Add(-time.Hour), stream},
		{"LATEST made before the stream, polling after it", lambdatypes.EventSourcePositionLatest, stream.Add(-time.Minute), stream.Add(14 * time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := readingSince(string(tc.position), tc.modified, stream); !got.Equal(tc.expect) {
				t.Errorf("got %v, expect %v", got, tc.expect)
			}
		})
	}
}

// An imported table's stream is months old, but the stack's mapping
// started at LATEST two minutes ago: a change between the export time and
// then is in neither the export nor the lake, so the backfill refuses,
// whatever the stream's age.
func TestTheMappingNotTheStreamAgeDecides(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*fakeAWS, *Config)
		expect     string
		remedy     string
		unfinished bool
	}{
		{"LATEST mapping made two minutes ago on a months-old stream", func(f *fakeAWS, _ *Config) {
			f.streamLabel = now.Add(-120 * 24 * time.Hour).Format("2006-01-02T15:04:05.000")
			f.lambda.position, f.lambda.lastModified = lambdatypes.EventSourcePositionLatest, now.Add(-2*time.Minute)
		}, "(LATEST, last changed " + now.Add(-2*time.Minute).Format(time.RFC3339) + ") carries the stream of Orders into the lake from " + now.Add(13*time.Minute).Format(time.RFC3339),
			"after " + now.Add(18*time.Minute).Format(time.RFC3339), false},
		{"LATEST mapping updated ten minutes before the export time", func(f *fakeAWS, _ *Config) {
			f.lambda.position, f.lambda.lastModified = lambdatypes.EventSourcePositionLatest, exportTime.Add(-10*time.Minute)
		}, "less than 5m0s before the export time", "after " + exportTime.Add(10*time.Minute).Format(time.RFC3339), false},
		{"disabled mapping", func(f *fakeAWS, _ *Config) { f.lambda.state = "Disabled" }, "is Disabled", "--enabled", false},
		{"mapping being created", func(f *fakeAWS, _ *Config) { f.lambda.state = "Creating" }, "is Creating", "once it is Enabled", true},
		{"no mapping on the stream", func(f *fakeAWS, _ *Config) { f.lambda.none = true }, "no event source mapping reads", "deploy the pipeline stack", false},
		{"two mappings and no function named", func(f *fakeAWS, c *Config) { f.lambda.extra = 1; c.StreamerFunction = "" }, "2 event source mappings", "--streamer-function", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			cfg := config()
			cfg.StreamerFunction = "streamer"
			tc.setup(f, &cfg)
			checkRefusal(t, f, cfg, tc.expect, tc.remedy, tc.unfinished)
			check(t, []field{{"exports started", len(f.started), 0}})
		})
	}
}

func TestTheMappingIsLookedUpByStreamAndFunction(t *testing.T) {
	f := newFake()
	cfg := config()
	cfg.StreamerFunction = "streamer"
	if _, err := Run(context.Background(), f.with(cfg), f, f); err != nil {
		t.Fatal(err)
	}
	if len(f.lambda.listed) == 0 {
		t.Fatal("ListEventSourceMappings was not called")
	}
	in := f.lambda.listed[0]
	check(t, []field{
		{"EventSourceArn", aws.ToString(in.EventSourceArn), streamARN},
		{"FunctionName", aws.ToString(in.FunctionName), "streamer"},
	})
}

// The stream's own age does not matter: a LATEST mapping made the margin
// before the export time, or a TRIM_HORIZON one re-created two minutes
// ago (it reads the stream's whole day back), carries everything the
// snapshot needs.
func TestMappingsThatCoverTheExportPass(t *testing.T) {
	tests := []struct {
		name     string
		position lambdatypes.EventSourcePosition
		modified time.Time
	}{
		{"LATEST, its polling delay and the margin before the export time", lambdatypes.EventSourcePositionLatest, exportTime.Add(-20 * time.Minute)},
		{"TRIM_HORIZON, re-created two minutes ago", lambdatypes.EventSourcePositionTrimHorizon, now.Add(-2 * time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.streamLabel = now.Add(-120 * 24 * time.Hour).Format("2006-01-02T15:04:05.000")
			f.lambda.position, f.lambda.lastModified = tc.position, tc.modified
			if _, err := Run(context.Background(), f.with(config()), f, f); err != nil {
				t.Fatal(err)
			}
			if len(f.started) != 1 {
				t.Errorf("exports started: got %d, expect 1", len(f.started))
			}
		})
	}
}
